"""The LoRA dialog's Preview against a fake grid renderer speaking the protocol
(``fake_renderer.py``): before/after side by side, the run folder's model or a chosen config,
what is missing said plainly, renderer errors shown, Stop, inputs untouched, temp folder gone;
and (slow) one real preview on the tiny Z-Image pipeline."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import sys
from pathlib import Path

import pytest

from tests.training.lora_fixtures import small_lora

pytestmark = pytest.mark.gui
torch = pytest.importorskip("torch")

FAKE = Path(__file__).with_name("fake_renderer.py")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "LIKENESS_TRAINER_CMD", f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE))}"
    )
    monkeypatch.setenv("FAKE_GRID_MODE", "normal")
    log = tmp_path / "argv.json"
    monkeypatch.setenv("FAKE_GRID_LOG", str(log))
    return log


def _lora(folder: Path, name: str = "leyla_000000500.safetensors") -> Path:
    from training.lora.io import save_lora

    folder.mkdir(parents=True, exist_ok=True)
    return save_lora(small_lora(layers=30, rank=8, seed=1), folder / name)


def _dialog(qtbot, path: Path):
    from desktop.widgets.lora_dialog import LoraDialog

    dlg = LoraDialog(str(path))
    qtbot.addWidget(dlg)
    dlg.show()
    qtbot.waitUntil(lambda: not dlg.busy and dlg.path is not None, timeout=60_000)
    dlg.tabs.setCurrentWidget(dlg.preview)
    return dlg


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _color(label) -> int:
    img = label.pixmap().toImage()
    return img.pixel(img.width() // 2, img.height() // 2)


def test_preview_from_the_run_folder_shows_before_and_after(qtbot, fake, tmp_path,
                                                            screenshot_dir):  # fmt: skip
    run = tmp_path / "runs" / "leyla"
    lora = _lora(run)
    (run / "config.yaml").write_text("name: leyla\n")
    before_digest = _digest(lora)
    dlg = _dialog(qtbot, lora)
    pv = dlg.preview
    assert str(run / "config.yaml") in pv.model_label.text()
    assert pv.preview_btn.isEnabled()
    assert pv.prompt.text() == "a photo of l3yla"
    dlg.weights_panel.component_sliders["v"].set_value(1.8)
    pv.seed.setValue(7)
    pv.strength.setValue(0.8)
    pv.preview_btn.click()
    assert not pv.preview_btn.isEnabled() and pv.stop_btn.isEnabled()
    qtbot.waitUntil(lambda: "Before and after" in pv.state.text(), timeout=30_000)
    assert not pv.before_img.pixmap().isNull() and not pv.after_img.pixmap().isNull()
    assert _color(pv.before_img) != _color(pv.after_img)  # the edited file differs
    argv = json.loads(fake.read_text())
    assert argv[:2] == ["grid", str(run)]
    i = argv.index("--checkpoints")
    original, edited = argv[i + 1 : i + 3]
    assert original == str(lora) and Path(edited).name == "leyla_000000500-edited.safetensors"
    assert argv[argv.index("--seeds") + 1] == "7" and argv[argv.index("--strengths") + 1] == "0.8"
    out = Path(argv[argv.index("--out") + 1])
    assert out.parent == Path(edited).parent != run  # a private temp folder ...
    assert not out.parent.exists()  # ... removed when the render ended
    assert _digest(lora) == before_digest and not (run / "grid").exists()
    assert pv.preview_btn.isEnabled() and not pv.stop_btn.isEnabled()
    qtbot.wait(100)
    dlg.grab().save(str(screenshot_dir / "lora_dialog_preview.png"))


def test_no_model_says_what_is_missing_then_a_chosen_config_renders(qtbot, fake, tmp_path,
                                                                    monkeypatch):  # fmt: skip
    lora = _lora(tmp_path / "loose", "mine.safetensors")
    dlg = _dialog(qtbot, lora)
    pv = dlg.preview
    assert not pv.preview_btn.isEnabled()
    assert "No base model" in pv.state.text() and "config.yaml" in pv.state.text()
    assert pv.model_label.text() == "none found"
    cfg = tmp_path / "elsewhere" / "my-run.yaml"
    cfg.parent.mkdir()
    cfg.write_text("name: other\n")
    pv.ask_config = lambda: str(cfg)
    pv.choose_config()
    assert pv.preview_btn.isEnabled() and str(cfg) in pv.model_label.text()
    monkeypatch.setenv("FAKE_GRID_MODE", "nomodel")
    pv.start()
    qtbot.waitUntil(lambda: "failed" in pv.state.text() and not pv.running, timeout=30_000)
    assert "base model not found: /models/zimage" in pv.state.text()
    argv = json.loads(fake.read_text())
    assert Path(argv[1]).name == "run" and not Path(argv[1]).exists()  # a copy, cleaned
    assert cfg.read_text() == "name: other\n"
    pv.prompt.setText("  ")
    pv.start()
    assert pv.state.text() == "Type a prompt first." and not pv.running


def test_stop_ends_the_render_and_cleans_up(qtbot, fake, tmp_path, monkeypatch):
    run = tmp_path / "run"
    lora = _lora(run)
    (run / "config.yaml").write_text("name: leyla\n")
    monkeypatch.setenv("FAKE_GRID_MODE", "slow")
    dlg = _dialog(qtbot, lora)
    pv = dlg.preview
    pv.start()
    qtbot.waitUntil(lambda: not pv.before_img.pixmap().isNull(), timeout=30_000)
    tmp = pv.job.tmp
    assert tmp.is_dir()
    pv.stop_btn.click()
    qtbot.waitUntil(lambda: not pv.running, timeout=10_000)
    assert pv.state.text() == "Stopped." and not tmp.exists()
    assert pv.after_img.pixmap().isNull()


def test_closing_the_dialog_kills_the_renderer_and_removes_the_temp_folder(qtbot, fake, tmp_path,
                                                                          monkeypatch):  # fmt: skip
    run = tmp_path / "run"
    lora = _lora(run)
    (run / "config.yaml").write_text("name: leyla\n")
    monkeypatch.setenv("FAKE_GRID_MODE", "slow")
    dlg = _dialog(qtbot, lora)
    pv = dlg.preview
    pv.start()
    qtbot.waitUntil(lambda: pv.proc is not None and not pv.before_img.pixmap().isNull(),
                    timeout=30_000)  # fmt: skip
    tmp, proc = pv.job.tmp, pv.proc
    dlg.close()
    assert not tmp.exists()
    assert proc is not None and pv.proc is None


def test_preview_job_reads_the_events(tmp_path):
    from desktop.widgets.lora_preview import PreviewJob, run_config_of

    (tmp_path / "config.yaml").write_text("x: 1\n")
    assert run_config_of(tmp_path / "a.safetensors") == tmp_path / "config.yaml"
    assert run_config_of(tmp_path / "sub" / "a.safetensors") is None
    job = PreviewJob(tmp_path / "base.safetensors", tmp_path / "config.yaml", "a photo")
    try:
        assert job.edited_row == "base-lora-edited"  # never the renderer's base row's name
        assert job.feed("not json") is None and job.feed("[1]") is None
        job.feed(json.dumps({"event": "grid_progress", "done": 1, "total": 2}))
        assert job.progress == "1 of 2 images"
        job.feed(json.dumps({"event": "grid_image_saved", "row": "base", "path": "/g/b.png"}))
        job.feed(json.dumps({"event": "grid_image_saved", "row": "base-lora-edited",
                             "path": "/g/e.png"}))  # fmt: skip
        assert (job.before, job.after) == (Path("/g/b.png"), Path("/g/e.png"))
        job.feed(json.dumps({"event": "error", "message": "out of memory", "details": ["d1"]}))
        assert job.error == "out of memory\nd1"
    finally:
        job.cleanup()
    assert not job.tmp.exists()


@pytest.mark.slow
def test_real_preview_on_the_tiny_zimage_pipeline(qtbot, tmp_path, tmp_path_factory, monkeypatch):
    from tests.training.grid_fixtures import make_run
    from tests.training.tiny_zimage import tiny_model_dir

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.delenv("LIKENESS_TRAINER_CMD", raising=False)
    monkeypatch.setenv("PYTHONPATH", str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run = make_run(tmp_path, tiny_model_dir(tmp_path_factory), steps=(2,))
    lora = run / "tiny_000000002.safetensors"
    digest = _digest(lora)
    dlg = _dialog(qtbot, lora)
    pv = dlg.preview
    assert pv.preview_btn.isEnabled(), pv.state.text()
    pv.steps = 1
    pv.prompt.setText("a photo of t0ken | 256x256")
    dlg.weights_panel.component_sliders["v"].set_value(2.0)
    pv.start()
    qtbot.waitUntil(lambda: not pv.running, timeout=120_000)
    assert "Before and after" in pv.state.text(), pv.state.text()
    assert not pv.before_img.pixmap().isNull() and not pv.after_img.pixmap().isNull()
    assert _digest(lora) == digest and not (run / "grid").exists()
    assert pv.job is not None and not pv.job.tmp.exists()
