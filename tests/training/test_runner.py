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
