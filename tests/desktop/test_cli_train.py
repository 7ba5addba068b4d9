"""``likeness train`` against a fake trainer child that speaks the JSON-lines protocol."""

from __future__ import annotations

import io
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

from desktop.cli import main
from desktop.cli.train_view import TrainView, format_duration
from training.aitk import import_aitk

REPO = Path(__file__).resolve().parents[2]
AITK = REPO / "tests" / "training" / "fixtures" / "aitk"

FAKE_TRAINER = textwrap.dedent(
    r"""
    import json, os, sys, threading, time

    mode = os.environ.get("FAKE_MODE", "normal")
    log = os.environ["FAKE_LOG"]
    with open(log, "a") as fh:
        fh.write(json.dumps({"argv": sys.argv[1:]}) + "\n")

    def emit(event, **fields):
        sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
        sys.stdout.flush()

    total = 20
    emit("started", protocol=1, name="leyla", run_dir="/runs/leyla", device="cpu",
         total_steps=total, start_step=0, resumed="--resume" in sys.argv)
    if mode == "error":
        emit("status", message="loading the model")
        print("Traceback: CUDA out of memory", file=sys.stderr)
        emit("error", code="out_of_memory", details=[],
             message="the GPU ran out of memory: turn on NF4 or lower the resolution")
        sys.exit(6)
    if mode == "crash":
        print("Traceback (most recent call last):\n  boom\nRuntimeError: kaput", file=sys.stderr)
        sys.exit(1)
    if mode == "silent_exit":
        sys.exit(0)
    emit("status", message="caching")
    for i in range(1, 5):
        emit("cache_progress", stage="latents", done=i, total=4)
    print("this is not an event")
    sys.stdout.flush()
    emit("warning", code="image_skipped", message="skipped broken.png: truncated JPEG")
    stop = threading.Event()
    if mode == "ignore_stop":  # like the trainer: SIGTERM once = stop, twice = abort now
        import signal

        terms = []

        def on_term(signum, frame):
            terms.append(signum)
            with open(log, "a") as fh:
                fh.write(json.dumps({"sigterm": len(terms)}) + "\n")
            if len(terms) >= 2:
                line = {"event": "error", "code": "interrupted", "message": "interrupted"}
                os.write(1, (json.dumps(line) + "\n").encode())
                os._exit(130)

        signal.signal(signal.SIGTERM, on_term)

    def read_commands():
        for line in sys.stdin:
            with open(log, "a") as fh:
                fh.write(json.dumps({"command": line.strip()}) + "\n")
            if line.strip() == "stop":
                stop.set()

    threading.Thread(target=read_commands, daemon=True).start()
    step = 0
    while True:
        step += 1
        emit("step", step=step, loss=0.5 / step, lr=1e-4, it_s=2.0, eta_s=(total - step) / 2,
             vram_gb=None)
        if mode == "normal" and step == 10:
            emit("checkpoint_saved", step=10, path="/runs/leyla/leyla_000000010.safetensors",
                 state_path="/runs/leyla/state/leyla_000000010")
            emit("sample_saved", step=10, index=0, seed=42, prompt="l3yla", path="/s/10/0_42.png")
        if mode == "normal" and step == total:
            emit("done", step=total, reason="finished", final_path="/runs/leyla/leyla.safetensors")
            sys.exit(0)
        if mode in ("wait_stop", "ignore_stop"):
            time.sleep(0.05)
            if stop.is_set() and mode == "wait_stop":
                emit("checkpoint_saved", step=step, path="/runs/leyla/x.safetensors",
                     state_path="/runs/leyla/state/x")
                emit("done", step=step, reason="stopped", final_path=None)
                sys.exit(0)
            if step > 2000:
                sys.exit(9)
    """
)


@pytest.fixture
def fake(tmp_path, monkeypatch):
    script = tmp_path / "fake_trainer.py"
    script.write_text(FAKE_TRAINER)
    log = tmp_path / "fake.log"
    monkeypatch.setenv(
        "LIKENESS_TRAINER_CMD", f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"
    )
    monkeypatch.setenv("FAKE_LOG", str(log))

    def records() -> list[dict]:
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    return records


@pytest.fixture
def config(tmp_path) -> Path:
    from PIL import Image

    data = tmp_path / "dataset"
    data.mkdir()
    Image.new("RGB", (512, 512), (120, 90, 60)).save(data / "a.png")  # one usable image
    (data / "a.txt").write_text("l3yla, a portrait", encoding="utf-8")
    path = tmp_path / "run.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "leyla",
                "trigger": "l3yla",
                "training_folder": str(tmp_path / "runs"),
                "datasets": [{"folder": str(data)}],
            }  # fmt: skip
        )
    )
    return path


def test_train_shows_progress_and_exits_with_the_child_status(fake, config, capsys):
    assert main(["train", str(config)]) == 0
    out = capsys.readouterr().out
    assert fake()[0]["argv"] == ["run", str(config)]
    assert "training leyla on cpu: 20 steps -> /runs/leyla" in out
    assert "caching text embeddings" not in out and "caching latents 4/4" in out
    assert "step 1/20" in out and "loss 0.5000" in out and "2.00 it/s" in out
    assert "step 20/20" in out and "ETA 00:00" in out
    assert "saved   step 10: /runs/leyla/leyla_000000010.safetensors" in out
    assert "sample  step 10 #0 seed 42: /s/10/0_42.png" in out
    assert "warning: skipped broken.png: truncated JPEG" in out
    assert "this is not an event" in out  # stray output is shown, never lost
    assert "done: step 20 -> /runs/leyla/leyla.safetensors" in out
    assert "\r" not in out  # plain lines when stdout is not a terminal


def test_resume_is_passed_to_the_trainer(fake, config, capsys):
    assert main(["train", str(config), "--resume"]) == 0
    assert fake()[0]["argv"] == ["run", str(config), "--resume"]


def test_error_event_gives_a_clear_message_and_its_exit_status(fake, config, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "error")
    assert main(["train", str(config)]) == 6
    out = capsys.readouterr().out
    assert "error: the GPU ran out of memory: turn on NF4 or lower the resolution" in out
    assert "Traceback" not in out


def test_a_crash_without_events_shows_the_log_tail(fake, config, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "crash")
    assert main(["train", str(config)]) == 1
    out = capsys.readouterr().out
    assert "error: the trainer stopped unexpectedly (exit status 1)" in out
    assert "RuntimeError: kaput" in out


def test_exit_without_done_is_a_failure(fake, config, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_MODE", "silent_exit")
    assert main(["train", str(config)]) == 1
    assert "ended without finishing" in capsys.readouterr().out


def test_invalid_config_lists_every_problem_and_starts_nothing(fake, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: leyla\ntrigger: l3yla\ndatasets: [{folder: /nope}]\n"
                   "train: {lr: -1, optimzer: adamw}\n")  # fmt: skip
    assert main(["train", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: 2 problems" in err
    assert "train.lr: must be > 0, got -1" in err
    assert "train.optimzer: unknown setting — did you mean 'optimizer'?" in err
    assert fake() == []
    bad.write_text("name: leyla\ntrigger: l3yla\ndatasets: [{folder: /nope/missing}]\n")
    assert main(["train", str(bad)]) == 2
    assert "datasets[0].folder: folder not found: /nope/missing" in capsys.readouterr().err
    assert fake() == []


def test_an_existing_run_is_never_overwritten_by_mistake(fake, config, tmp_path, capsys):
    run_dir = tmp_path / "runs" / "leyla"
    run_dir.mkdir(parents=True)
    (run_dir / "leyla_000000250.safetensors").write_bytes(b"x")
    (run_dir / "leyla_000000500.safetensors").write_bytes(b"x")
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err
    assert "already holds a run of leyla (checkpoints up to step 500)" in err
    assert f"likeness train {config} --resume" in err
    assert f"likeness train {config} --overwrite" in err
    assert fake() == []
    assert main(["train", str(config), "--resume"]) == 0
    assert fake()[0]["argv"] == ["run", str(config), "--resume"]
    # --overwrite lets the trainer start over (it moves the old run aside itself)
    assert main(["train", str(config), "--overwrite"]) == 0
    assert fake()[-1]["argv"] == ["run", str(config), "--overwrite"]


def test_validate(config, tmp_path, capsys):
    assert main(["train", "--validate", str(config)]) == 0
    assert "valid (3000 steps, rank 32, resolutions [512, 768, 1024]" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: leyla\ntrigger: l3yla\ndatasets: [{folder: /x, flip: true}]\n"
                   "network: {rank: 0}\n")  # fmt: skip
    assert main(["train", "--validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "network.rank: must be >= 1, got 0" in err
    assert "datasets[0].flip: unknown setting — did you mean 'flip_x'?" in err


def test_export_aitk(config, tmp_path, capsys):
    out = tmp_path / "job.yaml"
    assert main(["train", "--export-aitk", str(config), str(out)]) == 0
    assert f"wrote ai-toolkit job {out}" in capsys.readouterr().out
    cfg, report = import_aitk(out)
    assert cfg.name == "leyla" and report.unmapped == []


def test_validate_needs_one_config(config, capsys):
    assert main(["train", str(config), "--validate"]) == 0  # CONFIG --validate works too
    assert "valid (" in capsys.readouterr().out
    assert main(["train", "--validate"]) == 2
    assert main(["train", "--validate", str(config), "--init", "x.yaml"]) == 2


def test_init_writes_a_valid_config_with_the_preset(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    out = tmp_path / "m4ria.yaml"
    argv = ["train", "--init", str(out), "--trigger", "m4ria", "--dataset", str(data)]
    assert main([*argv, "--preset", "8gb"]) == 0
    assert f"wrote {out} (runs go to {tmp_path / 'output' / 'm4ria'})" in capsys.readouterr().out
    assert main(["train", "--validate", str(out)]) == 2  # no usable image yet
    assert "datasets[0].folder: no usable image" in capsys.readouterr().err
    (data / "broken.png").write_bytes(b"\x89PNG not really")
    assert main(["train", "--validate", str(out)]) == 2
    assert "1 skipped, e.g." in capsys.readouterr().err
    from PIL import Image

    Image.new("RGB", (768, 768), (10, 20, 30)).save(data / "a.png")
    assert main(["train", "--validate", str(out)]) == 0
    from training.config import load_config

    cfg = load_config(out)
    assert cfg.model.quantize_transformer == "nf4" and cfg.resolutions == [512, 768]
    assert cfg.datasets[0].folder == data and cfg.name == "m4ria"
    assert main(argv) == 2  # never overwrites
    assert "exists" in capsys.readouterr().err
    assert main(["train", "--init", str(tmp_path / "x.yaml"), "--trigger", "m4ria"]) == 2
    assert main([*argv[:2], str(tmp_path / "y.yaml"), *argv[3:], "--preset", "6gb"]) == 2
    assert "unknown VRAM preset '6gb'" in capsys.readouterr().err


def test_usage_errors(config, tmp_path, capsys):
    assert main(["train"]) == 2
    assert "give a CONFIG" in capsys.readouterr().err
    assert main(["train", str(config), "--preset", "8gb"]) == 2
    assert "--preset go with --init" in capsys.readouterr().err
    blocked = tmp_path / "file"
    blocked.write_text("")
    assert main(["train", "--export-aitk", str(config), str(blocked / "job.yaml")]) == 1
    assert "likeness train: " in capsys.readouterr().err


def _start_cli(config: Path, env: dict) -> subprocess.Popen:
    # Its own session, so that killpg below acts like Ctrl+C in a terminal: SIGINT to the
    # whole foreground group (the CLI and, unless it is shielded, the trainer too).
    return subprocess.Popen(
        [sys.executable, "-m", "desktop", "train", str(config)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def _wait_for(proc: subprocess.Popen, text: str, timeout: float = 30) -> str:
    seen = ""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen += line
        if text in line:
            return seen
    raise AssertionError(f"{text!r} not seen in:\n{seen}")


@pytest.mark.skipif(os.name == "nt", reason="POSIX process groups")
def test_ctrl_c_sends_stop_and_the_run_ends_cleanly(fake, config):
    env = dict(os.environ, FAKE_MODE="wait_stop")
    proc = _start_cli(config, env)
    try:
        _wait_for(proc, "step 3/20")
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "stopping: finishing this step and saving a checkpoint" in out
    assert "stopped at step" in out
    assert f"continue with: likeness train {config} --resume" in out
    assert {"command": "stop"} in fake()


@pytest.mark.skipif(os.name == "nt", reason="POSIX process groups")
def test_second_ctrl_c_aborts(fake, config):
    env = dict(os.environ, FAKE_MODE="ignore_stop")
    proc = _start_cli(config, env)
    try:
        _wait_for(proc, "step 3/20")
        os.killpg(proc.pid, signal.SIGINT)
        _wait_for(proc, "stopping")
        started = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert time.monotonic() - started < 8  # not the 10 s SIGKILL fallback
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "aborted: no checkpoint was saved" in out
    assert {"sigterm": 2} in fake()  # two SIGTERMs: the trainer's "abort now"


@pytest.mark.skipif(os.name == "nt", reason="POSIX pipes")
def test_closed_output_stops_the_run_cleanly(fake, config):
    """`likeness train x.yaml | head -3`: when nobody reads any more, save and stop."""
    env = dict(os.environ, FAKE_MODE="wait_stop")
    proc = _start_cli(config, env)
    try:
        _wait_for(proc, "step 2/20")
        proc.stdout.close()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert {"command": "stop"} in fake()
    assert proc.returncode == 0


def test_terminal_view_redraws_one_progress_line(monkeypatch):
    monkeypatch.setenv("COLUMNS", "160")
    buf = io.StringIO()
    view = TrainView(buf, tty=True, color=False)
    view.handle({"event": "started", "name": "leyla", "total_steps": 100, "start_step": 40,
                 "resumed": True, "device": "cuda:0 (H100)", "run_dir": "/r"})  # fmt: skip
    view.handle({"event": "step", "step": 41, "loss": 0.5, "lr": 1e-4, "it_s": 2.5,
                 "eta_s": 3725, "vram_gb": 8.72})  # fmt: skip
    view.handle({"event": "warning", "message": "low disk", "code": "other"})
    view.handle({"event": "future_event", "x": 1})  # unknown events are ignored
    view.close()
    text = buf.getvalue()
    assert text.startswith("resuming leyla at step 40 on cuda:0 (H100): 100 steps -> /r\n")
    bar = "step 41/100  [########------------]  41%  loss 0.5000 (avg 0.5000)  lr 1.0e-04"
    assert "\r\033[K" + bar + "  2.50 it/s  ETA 1:02:05  VRAM 8.7 GB" in text
    # the warning clears the bar, prints on its own line, then the bar comes back
    assert "\r\033[Kwarning: low disk\n\r\033[Kstep 41/100" in text
    assert text.endswith("\n")


def test_progress_line_fits_narrow_terminals():
    view = TrainView(io.StringIO(), tty=True, color=False)
    view.handle({"event": "started", "name": "x", "total_steps": 3000, "start_step": 0})
    view.handle({"event": "step", "step": 1200, "loss": 0.123456, "lr": 1e-4, "it_s": 1.25,
                 "eta_s": 1440, "vram_gb": 15.9})  # fmt: skip
    wide, narrow = view.progress_text(width=200), view.progress_text(width=80)
    assert "[" in wide and "lr 1.0e-04" in wide
    assert len(narrow) < 80 and "[" not in narrow
    assert "loss 0.1235" in narrow and "ETA 24:00" in narrow and "1200/3000" in narrow


def test_format_duration():
    assert format_duration(None) == "--:--"
    assert format_duration(59.6) == "01:00"
    assert format_duration(3725) == "1:02:05"


def test_train_help_does_not_import_torch():
    code = (
        "import sys; from desktop.cli import build_parser; p = build_parser(); "
        "p.parse_args(['train', 'x.yaml']); assert 'torch' not in sys.modules, 'torch'; "
        "assert 'training.config' not in sys.modules, 'config'"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=60)


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX process groups")
def test_real_trainer_from_aitk_job_and_ctrl_c(tmp_path, tmp_path_factory):
    """The whole path on the tiny random Z-Image: export an ai-toolkit job, convert and train
    it with the real ``python -m training``, then Ctrl+C: a clean stop with a checkpoint.
    (The trainer's own tests cover that --resume continues exactly.)"""
    pytest.importorskip("torch")
    from tests.training.tiny_zimage import tiny_config, tiny_model_dir
    from training.aitk import save_aitk
    from training.config import validate_config

    model = tiny_model_dir(tmp_path_factory)
    cfg = validate_config(
        tiny_config(
            tmp_path, model,
            train={"steps": 200, "optimizer": "adamw", "lr": 1e-3, "caption_dropout": 0.0},
            save={"every": 1000, "keep_last": 3}, sample={"enabled": False},
        )
    )  # fmt: skip
    job = tmp_path / "job.yaml"
    save_aitk(cfg, job)
    env = {k: v for k, v in os.environ.items() if k != "LIKENESS_TRAINER_CMD"}
    # --force: the tiny dataset's four identical captions are an identity leak (the gate
    # refuses it; see test_gate_refuses_a_leaking_dataset); this test is about the trainer
    argv = [sys.executable, "-m", "desktop", "train", "--from-aitk", str(job), "--force"]
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        seen = _wait_for(proc, "step 1/200", timeout=400)
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = seen + out
    assert proc.returncode == 0, out + err
    assert "every setting carried over" in out
    run_dir = tmp_path / "runs" / "tiny"
    assert f"wrote {run_dir / 'config.yaml'}" in out
    assert "stopped at step" in out
    stopped_at = int(out.split("stopped at step ")[1].split()[0])
    assert 1 <= stopped_at < 200
    assert (run_dir / f"tiny_{stopped_at:09d}.safetensors").exists()
    assert f"continue with: likeness train {run_dir / 'config.yaml'} --resume" in out


@pytest.mark.slow
@pytest.mark.skipif(os.name == "nt", reason="POSIX signals")
def test_killed_cli_stops_the_real_trainer_cleanly_and_resume_works(tmp_path, tmp_path_factory):
    """SIGKILL of `likeness train`: the trainer sees its stdin close, saves and exits, and a
    --resume afterwards is the only trainer in the run folder (it was refused before)."""
    pytest.importorskip("torch")
    from tests.training.tiny_zimage import tiny_config, tiny_model_dir, write_config
    from training.events import ListSink
    from training.runner import run

    model = tiny_model_dir(tmp_path_factory)
    cfg = tiny_config(
        tmp_path, model, train={"steps": 500}, save={"every": 1000}, sample={"enabled": False}
    )
    path = write_config(tmp_path / "run.yaml", cfg)
    env = {k: v for k, v in os.environ.items() if k != "LIKENESS_TRAINER_CMD"}
    proc = _start_cli(path, env)
    run_dir = tmp_path / "runs" / "tiny"
    try:
        _wait_for(proc, "step 1/500", timeout=400)
        trainer_pid = json.loads((run_dir / "trainer.lock").read_text())["pid"]
        assert trainer_pid != proc.pid
        busy = ListSink()
        assert run(path, resume=True, sink=busy) == 8  # refused while it lives
        assert f"pid {trainer_pid}" in busy.of("error")[0]["message"]
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            os.kill(trainer_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        os.kill(trainer_pid, signal.SIGKILL)
        raise AssertionError("the trainer outlived the killed CLI")
    log = (run_dir / "train.log").read_text()
    assert "the process that started the trainer is gone" in log
    saved = sorted(run_dir.glob("tiny_*.safetensors"))
    assert saved, "no checkpoint was saved on the way out"
    resumed = ListSink()
    cfg["train"]["steps"] = int(saved[-1].stem.rsplit("_", 1)[1]) + 1
    write_config(path, cfg)
    assert run(path, resume=True, sink=resumed) == 0, resumed.of("error")
    assert resumed.of("done")[-1]["reason"] == "finished"


def test_gate_refuses_a_leaking_dataset(fake, config, tmp_path, capsys):
    """Exit 2 with the reasons, nothing started; --force trains and says why it was gated."""
    from PIL import Image

    data = tmp_path / "dataset"
    for i in range(4):
        Image.new("RGB", (512, 512), (i * 50, 90, 60)).save(data / f"b{i}.png")
        (data / f"b{i}.txt").write_text(f"l3yla, blue eyes, freckles, pose {i}", encoding="utf-8")
    assert main(["train", str(config)]) == 2
    captured = capsys.readouterr()
    assert "not ready to train" in captured.err and "identity-leak" in captured.err
    assert "b0.png" in captured.err and "--force" in captured.err
    assert fake() == []  # the trainer never started
    assert main(["train", str(config), "--force"]) == 0
    out = capsys.readouterr().out
    assert "training anyway (--force)" in out and "identity-leak" in out
    assert len(fake()) == 1
