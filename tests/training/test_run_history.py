"""Run status and history rebuilt from ``events.jsonl`` and the trainer lock."""

from __future__ import annotations

import json
import os

import yaml

from training.run_history import load_history, read_events, runs_for_dataset, summary_row
from training.runlock import RunLock, holder


def _write(run, *events, partial: str = ""):
    run.mkdir(parents=True, exist_ok=True)
    with open(run / "events.jsonl", "a") as fh:
        for ev in events:
            fh.write(json.dumps(ev) + "\n")
        fh.write(partial)


STARTED = {"event": "started", "protocol": 1, "name": "r", "run_dir": "/", "device": "cpu",
           "total_steps": 10, "start_step": 0, "resumed": False}  # fmt: skip


def _step(i, loss=0.5):
    return {"event": "step", "step": i, "loss": loss, "lr": 1e-4, "it_s": 1.0, "eta_s": 3.0,
            "vram_gb": None}  # fmt: skip


def test_finished_stopped_failed(tmp_path):
    run = tmp_path / "r"
    _write(run, STARTED, _step(1), _step(2, 0.25),
           {"event": "checkpoint_saved", "step": 2, "path": "/c", "state_path": "/s"},
           {"event": "done", "step": 2, "reason": "finished", "final_path": "/f"})  # fmt: skip
    h = load_history(run)
    assert h.status() == "finished" and h.loss == [(1, 0.5), (2, 0.25)] and h.total_steps == 10
    row = summary_row(h)
    assert row["checkpoints"] == 1 and row["loss"] == 0.25 and row["step"] == 2
    run2 = tmp_path / "r2"
    _write(
        run2, STARTED, {"event": "error", "code": "out_of_memory", "message": "m", "details": []}
    )
    assert load_history(run2).status() == "failed"


def test_no_ending_event_is_running_while_locked_and_interrupted_after(tmp_path):
    run = tmp_path / "r"
    _write(run, STARTED, _step(1), partial='{"event": "step", "st')  # a line being written
    events, offset = read_events(run / "events.jsonl")
    assert len(events) == 2 and offset < (run / "events.jsonl").stat().st_size
    lock = RunLock(run).acquire()
    try:
        assert holder(run)["pid"] == os.getpid()
        assert load_history(run).status() == "running"
    finally:
        lock.release()
    assert holder(run) is None
    assert load_history(run).status() == "interrupted"


def test_resumed_run_replaces_the_replayed_part_of_the_curve(tmp_path):
    run = tmp_path / "r"
    _write(run, STARTED, _step(1), _step(2), _step(3), {**STARTED, "start_step": 2}, _step(3, 0.1))
    assert load_history(run).loss == [(1, 0.5), (2, 0.5), (3, 0.1)]


def test_symlinked_events_file_is_not_read(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    other = tmp_path / "elsewhere.jsonl"
    other.write_text(json.dumps(STARTED) + "\n")
    (run / "events.jsonl").symlink_to(other)
    assert read_events(run / "events.jsonl") == ([], 0)


def test_runs_for_dataset_lists_only_its_runs(tmp_path):
    data, other = tmp_path / "data", tmp_path / "other"
    data.mkdir(), other.mkdir()
    runs = tmp_path / "runs"
    for name, folder in (("a", data), ("b", other)):
        (runs / name).mkdir(parents=True)
        (runs / name / "config.yaml").write_text(
            yaml.safe_dump({"name": name, "trigger": "t", "datasets": [{"folder": str(folder)}]})
        )
        _write(runs / name, STARTED)
    (runs / "junk").mkdir()
    (runs / "junk" / "config.yaml").write_text("{not yaml")
    assert [h.name for h in runs_for_dataset(runs, data)] == ["a"]
