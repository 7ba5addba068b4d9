"""Kill a bulk edit (and an undo) over 500 captions with SIGKILL at random moments: every
caption must be fully old or fully new, and the next open must leave a consistent, undoable
state."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from curation.caption_io import TEMP_MARK
from curation.workspace import Workspace
from tests.corpus import make_dataset

REPO = Path(__file__).resolve().parents[2]
N = 500

CHILD = r"""
import sys
from curation.workspace import Workspace
from curation.bulk import plan_replace
ws = Workspace.open(sys.argv[1])
mode = sys.argv[2]
if mode == "apply":
    changes = plan_replace(ws.captions(), "old caption", "NEW caption, much longer text")
    print("START", flush=True)
    ws.apply_changes(changes, label="kill me")
else:
    print("START", flush=True)
    ws.undo()
print("DONE", flush=True)
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


def old(i: int) -> str:
    return f"old caption {i}"


def new(i: int) -> str:
    return f"NEW caption, much longer text {i}"


def run_child(ds: Path, mode: str, kill_after: float | None) -> tuple[bool, float]:
    """Start the child; kill it ``kill_after`` seconds after it says START. Returns
    (killed, seconds from START to exit or kill)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(ds), mode],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "START", (line, proc.stderr.read())
        start = time.perf_counter()
        if kill_after is None:
            proc.wait(timeout=120)
            assert proc.returncode == 0, proc.stderr.read()
            return False, time.perf_counter() - start
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        return proc.returncode == -signal.SIGKILL, time.perf_counter() - start
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


def captions_state(ds: Path) -> list[str]:
    """'old' / 'new' per caption; fails on anything else (a torn or empty caption)."""
    states = []
    for i in range(N):
        text = (ds / f"img{i:05d}.txt").read_text(encoding="utf-8")
        assert text in (old(i), new(i)), f"caption {i} is torn: {text!r}"
        states.append("new" if text == new(i) else "old")
    return states


def fresh(tmp_path: Path, name: str) -> Path:
    ds = tmp_path / name
    make_dataset(ds, N, caption="old caption")
    for i in range(N):  # make_dataset writes "<caption> <i>"
        assert (ds / f"img{i:05d}.txt").read_text() == old(i)
    return ds


def check_recovery(ds: Path) -> None:
    leftovers = [p.name for p in ds.iterdir() if p.name.startswith(".") and p.name != ".likeness"]
    assert all(TEMP_MARK in name for name in leftovers), leftovers
    with Workspace.open(ds) as ws:
        assert all(TEMP_MARK not in i.rel for i in ws.items) and len(ws.items) == N
        assert not [s for s in ws.steps() if s.state not in ("applied", "undone")]
        for i in range(0, N, 50):
            assert "external" not in [h.origin for h in ws.history(f"img{i:05d}.png")]
        while ws.can_undo:
            result = ws.undo()
            assert not result.skipped and not result.pending
    assert set(captions_state(ds)) == {"old"}


@pytest.mark.slow
def test_sigkill_during_bulk_edit_and_undo(tmp_path: Path) -> None:
    # calibrate: how long does the whole edit take here, now?
    ds = fresh(tmp_path, "calibrate")
    _, duration = run_child(ds, "apply", None)
    assert set(captions_state(ds)) == {"new"}
    rng = random.Random(1234)
    outcomes: list[tuple[str, int]] = []
    trial = 0
    while trial < 6 or (trial < 14 and not any(0 < n < N for _, n in outcomes)):
        mode = "apply" if trial % 3 != 2 else "undo"
        ds = fresh(tmp_path, f"trial{trial}")
        if mode == "undo":
            with Workspace.open(ds) as ws:
                ws.apply_changes({f"img{i:05d}.png": new(i) for i in range(N)}, label="pre")
        run_child(ds, mode, rng.uniform(0.0, duration * 0.9))
        states = captions_state(ds)  # every caption fully old or fully new
        outcomes.append((mode, states.count("new")))
        check_recovery(ds)
        trial += 1
    # the test is only meaningful if some kill landed in the middle of the writes
    assert any(0 < n < N for _, n in outcomes), outcomes
