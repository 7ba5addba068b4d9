"""The typed protocol: every event the trainer writes parses into its dataclass."""

from __future__ import annotations

import io
import json

import pytest

from training import protocol as p
from training.events import EventSink
from training.runner import parse_command


def test_every_event_the_sink_writes_parses_back_typed():
    out = io.StringIO()
    sink = EventSink(out)
    sink.started(
        name="leyla", run_dir="/r", device="cpu", total_steps=10, start_step=0, resumed=False
    )
    sink.status("caching latents", component="vae", device="cpu")
    sink.cache_progress("latents", 1, 4)
    sink.emit("step", step=1, loss=0.5, lr=1e-4, it_s=2.0, eta_s=None, vram_gb=None)
    sink.emit("sample_saved", step=1, index=0, seed=42, prompt="l3yla", path="/r/s.png")
    sink.emit("checkpoint_saved", step=1, path="/r/a.safetensors", state_path=None)
    sink.warning("skipped", code="image_skipped", path="/x.png")
    sink.error("no memory", "out_of_memory", ["a", "b"])
    sink.emit("done", step=1, reason="stopped", final_path=None)
    events = [p.parse_event(line) for line in out.getvalue().splitlines()]
    kinds = [type(e) for e in events]
    assert kinds == [
        p.Started, p.Status, p.CacheProgress, p.Step, p.SampleSaved,
        p.CheckpointSaved, p.Warning_, p.Error, p.Done,
    ]  # fmt: skip
    started, status, cache, step, sample, ckpt, warn, err, done = events
    assert started.name_ == "leyla" and started.name == "started" and started.total_steps == 10
    assert status.component == "vae" and cache.done == 1 and cache.total == 4
    assert step.loss == 0.5 and step.eta_s is None and step.items == ()
    assert sample.seed == 42 and ckpt.state_path is None and warn.path == "/x.png"
    assert err.code == "out_of_memory" and err.details == ("a", "b")
    assert done.reason == "stopped" and done.final_path is None


def test_unknown_events_and_fields_are_kept_not_fatal():
    ev = p.parse_event(json.dumps({"event": "likeness_curve", "value": 0.3}))
    assert isinstance(ev, p.UnknownEvent) and ev.name == "likeness_curve" and ev.raw["value"] == 0.3
    ev = p.parse_event(json.dumps({"event": "done", "step": 3, "reason": "finished",
                                   "final_path": "/f", "new_field": 1}))  # fmt: skip
    assert isinstance(ev, p.Done) and ev.step == 3


@pytest.mark.parametrize("line", ["not json", "[1, 2]", '{"no": "event"}', '{"event": 3}'])
def test_bad_lines_raise_protocol_error(line):
    with pytest.raises(p.ProtocolError):
        p.parse_event(line)


def test_commands_are_one_vocabulary():
    assert parse_command is p.parse_command  # the trainer reads what the GUI writes
    for cmd in p.COMMANDS:
        assert p.parse_command(p.command_line(cmd)) == cmd
    assert p.parse_command("  STOP ") == "stop" and p.parse_command("") is None
    with pytest.raises(ValueError, match="unknown trainer command"):
        p.command_line("explode")


def test_error_codes_match_the_documented_exit_statuses():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "trainer-protocol.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in doc.splitlines() if line.startswith("| `")}
    for code, status in p.ERROR_CODES.items():
        assert rows[f"`{code}`"].rstrip().endswith(f"| {status} |"), code
    assert p.ERROR_CODES["out_of_memory"] == 6 and p.ERROR_CODES["run_locked"] == 8
