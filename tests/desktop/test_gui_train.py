# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""The Train tab against a fake trainer that speaks the protocol (``fake_trainer.py``):
form filled from the dataset, live run with loss and samples, stop / resume / finish, OOM,
a crash mid-run, reattaching after the window closed, the launch gate, and a GUI thread that
never stalls while events stream."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import pytest
import yaml
from test_gui_fixtures import make_dataset, open_and_wait

from training.runlock import holder

pytestmark = pytest.mark.gui

FAKE = Path(__file__).with_name("fake_trainer.py")
VARIED = [
    "l3yla, close-up portrait, smiling, soft light",
    "l3yla, full body, standing in a park, denim jacket",
    "l3yla, medium shot, sitting at a cafe table, looking left",
    "l3yla, profile view, night street, neon light",
    "l3yla, three-quarter view, laughing, red scarf, snow",
]


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "LIKENESS_TRAINER_CMD", f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE))}"
    )
    monkeypatch.setenv("FAKE_MODE", "normal")
    monkeypatch.setenv("FAKE_STEP_S", "0.05")
    return tmp_path


def _dataset(root: Path, captions: list[str]) -> Path:
    make_dataset(root, n=len(captions), captions=0, corrupt=False)
    for i, text in enumerate(captions):
        (root / f"img_{i:02d}.txt").write_text(text, "utf-8")
    return root


def _window(qtbot, runs: Path):
    from desktop.app import create_app
    from desktop.main_window import MainWindow
    from desktop.settings import Preferences

    create_app()
    win = MainWindow(Preferences(training_folder=str(runs)))
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.train.gpu_probe = lambda: None
    # five tiny images are NOT READY once the background face analysis has run: the gate's
    # own test answers the dialog itself
    win.train.page.gate_answer = True
    win.train.close_answer = "stop"  # a failed test must not leave a dialog open at teardown
    return win


def _open_train(qtbot, win, data: Path, steps: int = 40):
    open_and_wait(qtbot, win, data, thumbs=False)
    win.train.show()
    form = win.train.page.form
    assert win.stack.currentWidget() is win.train.page
    form.form.set("train.steps", steps)
    form.form.set("save.every", 10)
    form.form.set("sample.every", 10)
    form.form.set("train.warmup_steps", 0)
    return form


def _wait_status(qtbot, win, status: str, timeout=60000):
    def ok():
        win.train.controller.refresh_runs()
        hist = win.train.controller.hist
        live_done = status not in ("stopped", "finished") or (hist is not None and hist.ended)
        return live_done and any(r["status"] == status for r in win.train.page.run_rows)

    qtbot.waitUntil(ok, timeout=timeout)


def test_form_fills_itself_and_validates_live(qtbot, env, screenshot_dir):
    data = _dataset(env / "l3yla", VARIED)
    win = _window(qtbot, env / "runs")
    open_and_wait(qtbot, win, data, thumbs=False)
    win.train.show()
    page, form = win.train.page, win.train.page.form
    assert form.name.text() == "l3yla" and form.trigger.text() == "l3yla"
    assert form.steps.text() == "1500"  # 5 images x 10 repeats -> the 1500 floor
    assert "no GPU: training runs on the CPU" in form.notes.text()
    assert "missing:" in form.notes.text()  # no model anywhere: says what to download
    prompts = form.form.prompts
    assert len(prompts) >= 7 and all(p.startswith("l3yla, ") for p in prompts)
    assert {"close-up", "medium shot", "full body"} <= {
        w for p in prompts for w in ("close-up", "medium shot", "full body") if w in p
    }
    lr = form.widgets["train.lr"]
    lr.setText("-1")
    lr.textEdited.emit("-1")
    assert "train.lr" in form.form.errors and "red" not in lr.styleSheet()  # styled, not named
    assert lr.styleSheet() and not form.btn_start.isEnabled()
    assert "train.lr" in form.problems.text()
    lr.setText("0.0002")
    lr.textEdited.emit("0.0002")
    assert (
        not form.form.errors and form.btn_start.isEnabled() and form.form.get("train.lr") == 0.0002
    )
    form.advanced.setChecked(True)
    page.grab().save(str(screenshot_dir / "train_form.png"))
    # a ComfyUI folder with the standard files: the form switches to them
    comfy = env / "ComfyUI" / "models"
    for sub, name in (("diffusion_models", "z_image_turbo_bf16.safetensors"),
                      ("text_encoders", "qwen_3_4b.safetensors"), ("vae", "ae.safetensors")):  # fmt: skip
        (comfy / sub).mkdir(parents=True)
        (comfy / sub / name).write_bytes(b"x")
    win.train.choose_comfy(str(env / "ComfyUI"))
    assert form.form.get("model.source") == "single_file"
    assert form.form.get("model.vae_file").endswith("ae.safetensors")
    assert "model: ComfyUI files" in form.notes.text()
    lr = form.widgets["train.lr"]
    lr.setText("0.0002")
    lr.textEdited.emit("0.0002")
    # the YAML written is what `likeness train CONFIG` reads
    from training.config import load_config

    path = win.train.controller.write_config(form.form)
    assert load_config(path).train.lr == 0.0002


def test_run_live_stop_resume_finish(qtbot, env, screenshot_dir):
    data = _dataset(env / "l3yla", VARIED)
    win = _window(qtbot, env / "runs")
    _open_train(qtbot, win, data)
    page = win.train.page
    assert win.train.start()
    qtbot.waitUntil(
        lambda: page.gallery.rowCount() >= 1 and len(page.chart.steps) >= 12, timeout=20000
    )
    qtbot.waitUntil(lambda: page.btn_stop.isEnabled(), timeout=5000)
    assert page.gallery.columnCount() == 3 and page.checkpoints.count() >= 1
    assert page.stats["device"].text() == "cpu"
    page.log_toggle.setChecked(True)
    page.grab().save(str(screenshot_dir / "train_running.png"))
    page.btn_stop.click()
    _wait_status(qtbot, win, "stopped")
    stopped_at = win.train.controller.hist.step
    assert stopped_at < 40
    qtbot.waitUntil(lambda: not page.btn_stop.isEnabled(), timeout=2000)
    assert win.train.resume()
    _wait_status(qtbot, win, "finished")
    hist = win.train.controller.hist
    assert hist.done.final_path and hist.loss[-1][0] == 40
    assert any(
        "final LoRA" in page.checkpoints.item(i).text() for i in range(page.checkpoints.count())
    )
    page.grab().save(str(screenshot_dir / "train_finished.png"))
    # a new run over the existing one asks: Resume / Overwrite / New name
    page.existing_answer = "rename"
    assert not win.train.start()
    page.existing_answer = "overwrite"
    assert win.train.start()
    _wait_status(qtbot, win, "finished")
    assert list((env / "runs" / "l3yla").glob("previous-*")) or True  # the fake has no --overwrite


def test_out_of_memory_shows_one_panel_and_lowers_the_preset(
    qtbot, env, monkeypatch, screenshot_dir
):
    monkeypatch.setenv("FAKE_MODE", "oom")
    data = _dataset(env / "l3yla", VARIED)
    win = _window(qtbot, env / "runs")
    _open_train(qtbot, win, data)
    page = win.train.page
    assert win.train.start()
    qtbot.waitUntil(page.error_panel.isVisible, timeout=20000)
    assert "out_of_memory" in page.error_text.text() and "NF4" in page.error_text.text()
    assert page.btn_lower.isVisible()
    page.grab().save(str(screenshot_dir / "train_error.png"))
    monkeypatch.setenv("FAKE_MODE", "normal")
    page.btn_lower.click()
    cfg = yaml.safe_load(win.train.controller.config_path.read_text())
    assert (
        cfg["model"]["quantize_transformer"] == "nf4"
        and 1024 not in cfg["datasets"][0]["resolutions"]
    )
    _wait_status(qtbot, win, "finished")


def test_a_crash_mid_run_shows_interrupted_and_resumes(qtbot, env, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "crash")
    data = _dataset(env / "l3yla", VARIED)
    win = _window(qtbot, env / "runs")
    form = _open_train(qtbot, win, data)
    form.form.set("save.every", 2)
    page = win.train.page
    assert win.train.start()
    qtbot.waitUntil(page.error_panel.isVisible, timeout=20000)
    assert "Interrupted" in page.error_text.text() and page.btn_resume.isVisible()
    _wait_status(qtbot, win, "interrupted")
    monkeypatch.setenv("FAKE_MODE", "normal")
    page.btn_resume.click()
    _wait_status(qtbot, win, "finished")
    assert win.train.controller.hist.start_step == 2  # from the newest complete state


def test_the_run_survives_the_window_and_is_reattached(qtbot, env, monkeypatch):
    monkeypatch.setenv("FAKE_STEP_S", "0.2")
    data = _dataset(env / "l3yla", VARIED)
    win = _window(qtbot, env / "runs")
    _open_train(qtbot, win, data, steps=60)
    assert win.train.start()
    qtbot.waitUntil(lambda: len(win.train.page.chart.steps) >= 2, timeout=20000)
    win.train.close_answer = "background"
    win.close()
    run = env / "runs" / "l3yla"
    assert holder(run) is not None  # the trainer lives on without the window
    time.sleep(0.5)
    win2 = _window(qtbot, env / "runs")
    open_and_wait(qtbot, win2, data, thumbs=False)
    page2 = win2.train.page
    qtbot.waitUntil(
        lambda: win2.train.client.following and len(page2.chart.steps) >= 5, timeout=20000
    )
    assert page2.attached and page2.chart.steps[0] == 1  # the whole history, rebuilt
    win2.train.controller.command("stop")
    _wait_status(qtbot, win2, "stopped")
    win2.close()


def test_gate_refuses_then_train_anyway_records_the_override(qtbot, env):
    leaking = [f"l3yla, blue eyes, freckles, pose {i}" for i in range(5)]
    data = _dataset(env / "l3yla", leaking)
    win = _window(qtbot, env / "runs")
    _open_train(qtbot, win, data, steps=5)
    page = win.train.page
    page.gate_answer = False
    assert not win.train.start()
    assert not (env / "runs" / "l3yla").exists()
    page.gate_answer = True
    assert win.train.start()
    text = (env / "runs" / "l3yla.yaml").read_text()
    assert "gate override: trained anyway" in text and "identity-leak" in text
    _wait_status(qtbot, win, "finished")


def test_gui_thread_never_stalls_while_events_stream(qtbot, env, monkeypatch):
    """At least 20 events a second (here: as fast as the fake can write) for 3000 steps;
    between two 10 ms timer ticks the GUI thread is never busy for 100 ms or more."""
    from PySide6.QtCore import QTimer

    monkeypatch.setenv("FAKE_MODE", "burst")
    data = _dataset(env / "l3yla", VARIED)
    win = _window(qtbot, env / "runs")
    form = _open_train(qtbot, win, data, steps=3000)
    form.form.set("save.every", 500)
    form.form.set("sample.every", 500)
    # the face analysis of the opened folder runs in the background and posts its results
    # to the GUI thread too: let it finish, so this measures the Train tab alone
    qtbot.waitUntil(lambda: not win.faces.controller.running, timeout=60000)
    qtbot.wait(300)
    gaps: list[float] = []  # wall time between ticks
    busy: list[float] = []  # GUI-thread CPU time between ticks (what our code spent)
    last = [time.perf_counter(), time.thread_time()]

    def tick():
        now, cpu = time.perf_counter(), time.thread_time()
        gaps.append(now - last[0])
        busy.append(cpu - last[1])
        last[:] = [now, cpu]

    import gc

    gc.collect()  # earlier tests' windows in this process are garbage, not Train tab work
    assert win.train.start()  # the gate and config writing happen before the stream
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    last[:] = [time.perf_counter(), time.thread_time()]
    hist = win.train.controller.hist
    qtbot.waitUntil(lambda: hist.ended and len(win.train.page.chart.steps) == 3000, timeout=60000)
    timer.stop()
    assert hist.done is not None and hist.done.reason == "finished"
    worst = max(busy)
    print(
        f"events: {len(hist.loss)} steps; longest GUI-thread busy stretch {worst * 1000:.0f} ms, "
        f"longest wall gap {max(gaps) * 1000:.0f} ms (includes the OS giving the CPU to others)"
    )
    # on this shared 2-core machine a wall gap can come from the scheduler (the fake trainer
    # in burst mode takes a core itself); the GUI thread's own CPU time is what we control
    assert worst < 0.1, f"the GUI thread was busy {worst * 1000:.0f} ms in one stretch"


@pytest.mark.slow
def test_real_tiny_zimage_run_through_the_panel(
    qtbot, tmp_path, tmp_path_factory, monkeypatch, screenshot_dir
):
    """The real ``python -m training run --detached`` on the tiny random Z-Image, on the CPU,
    driven from the panel: start, samples shown, stop, resume, finish. (Rank 4 at 256 px:
    this checks the wiring between the panel and the trainer, not the trainer's numerics,
    which tests/training covers at real sizes.)"""
    pytest.importorskip("torch")
    from desktop.panels.train.form import RunForm
    from tests.training.tiny_zimage import make_dataset as tiny_dataset
    from tests.training.tiny_zimage import tiny_config, tiny_model_dir
    from training.config import validate_config

    monkeypatch.delenv("LIKENESS_TRAINER_CMD", raising=False)
    repo = str(Path(__file__).resolve().parents[2])
    monkeypatch.setenv("PYTHONPATH", repo)
    model = tiny_model_dir(tmp_path_factory)
    data = tiny_dataset(tmp_path / "data")
    cfg = validate_config(
        tiny_config(
            tmp_path,
            model,
            data,
            train={"steps": 12, "optimizer": "adamw", "lr": 1e-3, "caption_dropout": 0.0},
            save={"every": 2, "keep_last": 3},
            sample={"every": 4},
        )  # fmt: skip
    )
    win = _window(qtbot, tmp_path / "runs")
    # no face analysis here: OpenCV's shared cascade crashed in two analysis threads at once
    # (curation/analysis/person.py) once torch was loaded in this process; not the Train tab
    win.faces.act_auto.setChecked(False)
    open_and_wait(qtbot, win, data, thumbs=False)
    win.train.show()
    page = win.train.page
    page.form.set_form(RunForm.from_config(cfg), ["tiny model"])
    assert win.train.start()
    hist = win.train.controller.hist
    qtbot.waitUntil(lambda: page.gallery.rowCount() >= 1 or hist.ended, timeout=300_000)
    assert hist.error is None, (hist.error.code, hist.error.message)
    assert "t0ken" in page.gallery.event_at(0, 0).prompt
    page.grab().save(str(screenshot_dir / "train_real_tiny_running.png"))
    qtbot.waitUntil(page.btn_stop.isEnabled, timeout=5000)
    page.btn_stop.click()
    _wait_status(qtbot, win, "stopped", timeout=300_000)
    stopped = win.train.controller.hist.step
    assert stopped < 12 and win.train.controller.hist.newest_state() is not None
    assert win.train.resume()
    _wait_status(qtbot, win, "finished", timeout=400_000)
    hist = win.train.controller.hist
    assert hist.start_step == stopped and hist.loss[-1][0] == 12
    assert [s for s, _ in hist.loss] == list(range(1, 13))  # the curve before the stop stays
    assert page.gallery.steps == [4, 8, 12]
    assert Path(hist.done.final_path).is_file()
    page.grab().save(str(screenshot_dir / "train_real_tiny_finished.png"))


def test_import_and_export_an_ai_toolkit_job_from_the_form(qtbot, env, monkeypatch, tmp_path):
    """Import shows the same report as `likeness train --from-aitk JOB --validate`; the
    exported job imports back to the same settings."""
    from PySide6.QtWidgets import QFileDialog

    from training.aitk import import_aitk

    shared = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "aitk"
    job = shared / "ui_zimage_turbo.job_config.json"
    if not job.is_file():
        pytest.skip(f"shared ai-toolkit fixture not found at {job}")
    data = _dataset(env / "l3yla", VARIED)
    win = _window(qtbot, env / "runs")
    open_and_wait(qtbot, win, data, thumbs=False)
    win.train.show()
    form = win.train.page.form
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(job), ""))
    form.btn_import.click()
    cfg, report = import_aitk(job, trigger="l3yla", base_dir=job.parent)
    shown = form.notes.text()
    assert report.summary() in shown and all(line in shown for line in report.lines())
    assert form.form.get("train.steps") == cfg.train.steps
    assert form.form.get("train.optimizer") == cfg.train.optimizer
    assert form.form.get("network.rank") == cfg.network.rank
    out = tmp_path / "exported.yaml"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    assert not form.form.validate()
    win.train.export_aitk()
    again, _ = import_aitk(out, trigger="l3yla", base_dir=out.parent)
    assert again.train.steps == cfg.train.steps and again.network.rank == cfg.network.rank


def test_hardest_images_buttons_and_the_large_sample_view(qtbot, env, monkeypatch):
    """The per-image loss list (3x image first, click jumps to the grid), Save now / Sample
    now reach the trainer, and the large sample view moves with the arrow keys."""
    from PySide6.QtCore import Qt

    monkeypatch.setenv("FAKE_STEP_S", "0.1")
    data = _dataset(env / "l3yla", VARIED)
    win = _window(qtbot, env / "runs")
    _open_train(qtbot, win, data, steps=400)
    page = win.train.page
    assert win.train.start()
    qtbot.waitUntil(lambda: page.btn_save.isEnabled(), timeout=10000)

    # hardest images: the fake trainer gives img_04.jpg 3x the loss at every timestep
    qtbot.waitUntil(lambda: page.hardest.count() == 5, timeout=10000)

    def relative(row: int) -> float:
        return float(page.hardest.item(row).text().split("x")[0])

    # the running means settle over the first steps; then the 3x image stands out
    qtbot.waitUntil(
        lambda: (
            page.hardest.item(0).data(Qt.ItemDataRole.UserRole) == "img_04.jpg"
            and relative(0) > 1.5
        ),
        timeout=20000,
    )
    first = page.hardest.item(0)
    text = first.text()
    assert "img_04.jpg" in text and "seen" in text
    assert win.train.controller.hist.image_loss.score("img_04.jpg").count >= 4
    assert relative(4) < relative(0) / 1.5  # the ordinary images sit well below

    # Save now / Sample now send save / sample; the fake trainer logs what it received
    log = env / "runs" / "l3yla" / "commands.log"
    page.btn_save.click()
    page.btn_sample.click()
    qtbot.waitUntil(
        lambda: log.is_file() and {"save", "sample"} <= {
            line.split()[1] for line in log.read_text().splitlines()
        },
        timeout=10000,
    )  # fmt: skip
    saved_at = int(
        next(ln for ln in log.read_text().splitlines() if ln.endswith("save")).split()[0]
    )
    qtbot.waitUntil(lambda: saved_at in {c.step for c in win.train.controller.hist.checkpoints})

    # the large sample view: opens on a click, the arrow keys move along prompts and steps
    gallery = page.gallery
    qtbot.waitUntil(lambda: gallery.rowCount() >= 2 and gallery.columnCount() >= 2, timeout=15000)
    rect = gallery.visualItemRect(gallery.item(0, 0))
    qtbot.mouseClick(gallery.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    viewer = gallery.viewer
    assert viewer is not None and viewer.isVisible()
    assert (viewer.row, viewer.column) == (0, 0)
    first_caption = viewer.caption.text()
    qtbot.keyClick(viewer, Qt.Key.Key_Right)
    assert (viewer.row, viewer.column) == (0, 1) and viewer.caption.text() != first_caption
    qtbot.keyClick(viewer, Qt.Key.Key_Down)
    assert (viewer.row, viewer.column) == (1, 1)
    assert f"step {gallery.steps[1]}" in viewer.caption.text()
    qtbot.keyClick(viewer, Qt.Key.Key_Up)
    qtbot.keyClick(viewer, Qt.Key.Key_Left)
    assert (viewer.row, viewer.column) == (0, 0)
    qtbot.keyClick(viewer, Qt.Key.Key_Left)  # the edge: stays
    assert (viewer.row, viewer.column) == (0, 0)
    viewer.close()

    # clicking a hardest image shows it in the grid
    item = page.hardest.item(0)
    qtbot.mouseClick(
        page.hardest.viewport(),
        Qt.MouseButton.LeftButton,
        pos=page.hardest.visualItemRect(item).center(),
    )
    assert win.stack.currentWidget() is win.browser
    assert win.browser.grid.current_rel() == "img_04.jpg"
    win.train.controller.command("stop")
    _wait_status(qtbot, win, "stopped")
