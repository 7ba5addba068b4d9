"""The process protocol: ``python -m training run CONFIG`` speaks JSON lines and obeys commands."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.training.tiny_zimage import tiny_config, tiny_model_dir, write_config

REPO = Path(__file__).resolve().parents[2]


def test_parse_command_accepts_plain_and_json():
    from training.runner import parse_command

    assert parse_command("stop\n") == "stop"
    assert parse_command("  SAVE ") == "save"
    assert parse_command('{"command": "sample"}') == "sample"
    assert parse_command("") is None
    assert parse_command("{broken") == "{broken"


def test_control_file_commands_are_consumed_once(tmp_path):
    from training.runner import CommandInbox

    inbox = CommandInbox(tmp_path, stdin=io.StringIO("sample\n\n"))
    (tmp_path / "control").write_text('save\n{"command": "stop"}\n', encoding="utf-8")
    deadline = time.time() + 5
    got: list[str] = []
    while time.time() < deadline and len(got) < 3:
        got += inbox.poll()
        time.sleep(0.01)
    assert sorted(got) == ["sample", "save", "stop"]
    assert not (tmp_path / "control").exists()
    assert inbox.poll() == []
    assert not list(tmp_path.iterdir())  # no leftovers of the rename-and-read


def test_event_sink_writes_one_json_line_per_event():
    from training.events import EventSink

    buf = io.StringIO()
    sink = EventSink(buf)
    sink.emit("step", step=1, loss=float("nan"), lr=1e-4, it_s=None, eta_s=1.5, vram_gb=None)
    sink.warning("careful", code="other")
    lines = buf.getvalue().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["step", "warning"]
    assert json.loads(lines[0])["loss"] is None  # NaN is not valid JSON


@pytest.mark.slow
def test_subprocess_protocol_commands_and_sigterm_stop(tmp_path_factory, tmp_path):
    """stdin commands run; SIGTERM (what QProcess.terminate sends) is a clean stop."""
    model_dir = tiny_model_dir(tmp_path_factory)
    cfg = tiny_config(
        tmp_path, model_dir, train={"steps": 50}, save={"every": 100}, sample={"every": 100}
    )
    path = write_config(tmp_path / "run.yaml", cfg)
    env = {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "training", "run", str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=str(tmp_path),
        env=env,
    )
    events = []
    try:
        for line in proc.stdout:
            event = json.loads(line)  # every stdout line is a JSON event
            events.append(event)
            if event["event"] == "step" and event["step"] == 2:
                proc.stdin.write("sample\nbogus\n")
                proc.stdin.flush()
            if event["event"] == "warning" and event["code"] == "command_unknown":
                proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()
    assert code == 0, stderr[-2000:]
    names = [e["event"] for e in events]
    assert names[0] == "started" or names[0] == "warning"
    done = events[-1]
    assert done["event"] == "done" and done["reason"] == "stopped"
    assert 2 <= done["step"] < 50
    saved = [e for e in events if e["event"] == "checkpoint_saved"]
    assert saved and saved[-1]["step"] == done["step"] and Path(saved[-1]["path"]).exists()
    assert any(e["event"] == "sample_saved" for e in events), "\n".join(map(str, events[-8:]))
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_subprocess_invalid_config_exits_with_an_error_event(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\ntrain: [unclosed\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "training", "run", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 2
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert lines[-1]["event"] == "error" and lines[-1]["code"] == "config_invalid"
    assert "Traceback" not in out.stdout + out.stderr


def test_fresh_run_is_refused_over_checkpoints_unless_resume_or_overwrite(
    tmp_path_factory, tmp_path
):
    from training.events import ListSink
    from training.runner import run

    model_dir = tiny_model_dir(tmp_path_factory)
    cfg = tiny_config(tmp_path, model_dir, train={"steps": 2}, save={"every": 2})
    path = write_config(tmp_path / "run.yaml", cfg)
    first = ListSink()
    assert run(path, resume=False, sink=first) == 0, first.of("error")
    # on the CPU every component runs on the CPU, and the events say so
    placed = [(e["component"], e["device"]) for e in first.of("status") if "component" in e]
    assert ("text_encoder", "cpu") in placed and ("vae", "cpu") in placed
    run_dir = tmp_path / "runs" / "tiny"
    manifest = json.loads((run_dir / "samples" / "2" / "manifest.json").read_text())
    assert manifest["items"][0]["vae_device"] == "cpu"
    before = sorted(p.name for p in run_dir.glob("*.safetensors"))
    assert before == ["tiny.safetensors", "tiny_000000002.safetensors"]

    again = ListSink()
    assert run(path, resume=False, sink=again) == 2
    [err] = again.of("error")
    assert err["code"] == "run_exists" and not again.of("started")
    assert "already has checkpoints" in err["message"] and "--resume" in err["message"]
    assert sorted(p.name for p in run_dir.glob("*.safetensors")) == before  # untouched

    # --overwrite moves the old run aside (nothing deleted) and starts over
    old_bytes = (run_dir / "tiny.safetensors").read_bytes()
    sink = ListSink()
    assert run(path, resume=False, sink=sink, overwrite=True) == 0, sink.of("error")
    [moved] = [w for w in sink.of("warning") if w["code"] == "previous_run_moved"]
    [previous] = list(run_dir.glob("previous-*"))
    assert moved["path"] == str(previous.resolve())
    assert (previous / "tiny.safetensors").read_bytes() == old_bytes
    assert (previous / "tiny_000000002.safetensors").is_file()
    assert (previous / "state").is_dir() and (previous / "samples" / "2").is_dir()
    assert (previous / "config.yaml").is_file()
    assert (run_dir / "tiny.safetensors").is_file() and (run_dir / "config.yaml").is_file()
    assert sink.events[-1]["event"] == "done"


def test_overwrite_flag_is_accepted_by_the_process_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "training", "run", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 0 and "--overwrite" in out.stdout


@pytest.mark.slow
def test_detached_trainer_keeps_training_when_stdin_and_stdout_go(tmp_path_factory, tmp_path):
    """``--detached`` (the Train tab's mode): a closed stdin and a gone reader are no stop;
    the events are still in ``<run>/events.jsonl``."""
    model_dir = tiny_model_dir(tmp_path_factory)
    cfg = tiny_config(tmp_path, model_dir, train={"steps": 3}, sample={"enabled": False})
    path = write_config(tmp_path / "run.yaml", cfg)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "training", "run", str(path), "--detached"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    proc.stdin.close()
    proc.stdout.readline()  # the first event, then nobody reads any more
    proc.stdout.close()
    assert proc.wait(timeout=600) == 0
    events = (tmp_path / "runs" / "tiny" / "events.jsonl").read_text().splitlines()
    done = json.loads(events[-1])
    assert done["event"] == "done" and done["reason"] == "finished" and done["step"] == 3
