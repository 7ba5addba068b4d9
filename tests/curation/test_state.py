"""Workspace state storage: where it lives (dataset, cache fallback, in-memory), schema
guards, and the journal that recovers caption edits interrupted by a crash."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from curation import paths, workspace
from curation.errors import WorkspaceError
from curation.workspace import Workspace, state_location
from tests.corpus import make_dataset

IS_ROOT = not hasattr(os, "geteuid") or os.geteuid() == 0  # root ignores permissions
R0, R1, R4 = "img00000.png", "img00001.png", "img00004.png"


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    make_dataset(tmp_path / "data", 5, caption="photo of l3yla")
    (tmp_path / "data" / "img00004.txt").unlink()  # one uncaptioned image
    return tmp_path / "data"


def cap(ds: Path, i: int) -> str:
    return (ds / f"img{i:05d}.txt").read_text(encoding="utf-8")


def test_state_lives_in_dataset_in_wal_mode(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        assert ws.state_dir == ds / ".likeness"
        assert len(ws.items) == 5 and ws.caption(R0) == "photo of l3yla 0"
        assert ws.caption(R4) == "" and not ws.has_caption(R4)
    db = sqlite3.connect(ds / ".likeness" / "state.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT COUNT(*) FROM images").fetchone()[0] == 5
    db.close()


def test_state_falls_back_to_cache_dir(ds: Path, monkeypatch) -> None:
    real_mkdir = Path.mkdir

    def mkdir(self, *a, **k):  # the dataset cannot hold our state (a read-only folder)
        if self.name == ".likeness":
            raise PermissionError(13, "Permission denied")
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with Workspace.open(ds) as ws:
        _inside, fallback = state_location(ds.resolve())
        assert ws.state_dir == fallback and str(fallback).startswith(str(paths.cache_dir()))
        assert (fallback / "dataset.txt").read_text().strip() == str(ds.resolve())
        ws.set_caption(R0, "edit")
    with Workspace.open(ds) as ws:
        assert ws.undo().written == [R0]


def test_read_only_dataset_folder_simulated(ds: Path, monkeypatch) -> None:
    real_mkdir = Path.mkdir

    def mkdir(self, *a, **k):
        if self.name == ".likeness":
            raise PermissionError(13, "Permission denied")
        return real_mkdir(self, *a, **k)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with Workspace.open(ds) as ws:
        assert ".likeness" not in str(ws.state_dir)
    assert not (ds / ".likeness").exists()


@pytest.mark.skipif(IS_ROOT, reason="root ignores file permissions")
def test_read_only_dataset_folder_real_chmod(ds: Path) -> None:
    ds.chmod(0o555)
    try:
        with Workspace.open(ds) as ws:
            assert ".likeness" not in str(ws.state_dir)
    finally:
        ds.chmod(0o755)


def test_create_false_writes_nothing(ds: Path) -> None:
    with Workspace.open(ds, create=False) as ws:
        assert ws.state_dir is None and len(ws.items) == 5
        ws.set_excluded(R0)
    assert not (ds / ".likeness").exists()
    with Workspace.open(ds) as ws:
        ws.set_excluded(R1)
    with Workspace.open(ds, create=False) as ws:  # existing state is used
        assert ws.excluded() == {R1}


def test_deleting_state_loses_no_user_text(ds: Path) -> None:
    import shutil

    with Workspace.open(ds) as ws:
        ws.set_caption(R0, "written by the user")
    shutil.rmtree(ds / ".likeness")
    with Workspace.open(ds) as ws:
        assert ws.caption(R0) == "written by the user" and not ws.can_undo


def test_newer_schema_is_refused(ds: Path) -> None:
    Workspace.open(ds).close()
    db = sqlite3.connect(ds / ".likeness" / "state.sqlite")
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(WorkspaceError, match="newer Likeness"):
        Workspace.open(ds)  # never silently replaced by a fresh state elsewhere


def test_corrupt_state_is_moved_aside(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        ws.set_caption(R0, "kept in the txt")
    for f in (ds / ".likeness").glob("state.sqlite*"):
        f.unlink()
    (ds / ".likeness" / "state.sqlite").write_bytes(b"garbage " * 200)
    with Workspace.open(ds) as ws:
        assert ws.caption(R0) == "kept in the txt"
        assert ws.recovered and "damaged" in ws.recovered[0]
        ws.set_caption(R0, "works again")
    assert list((ds / ".likeness").glob("state.sqlite.corrupt-*"))


class Crash(BaseException):
    """Stands in for SIGKILL: nothing after it runs (no except/finally in our code sees it)."""


def crash_after(monkeypatch, n: int) -> None:
    """The first ``n`` caption writes succeed (in whatever order the writer threads run
    them), every later one "dies"."""
    real = workspace.write_caption_atomic
    count = {"n": 0}
    lock = threading.Lock()

    def write(path, text, root=None):
        with lock:
            if count["n"] >= n:
                raise Crash()
            count["n"] += 1
        real(path, text, root=root)

    monkeypatch.setattr(workspace, "write_caption_atomic", write)


def test_interrupted_bulk_edit_is_recovered(tmp_path: Path, monkeypatch) -> None:
    ds = tmp_path / "d"
    make_dataset(ds, 10, caption="old")
    ws = Workspace.open(ds)
    crash_after(monkeypatch, 4)
    with pytest.raises(Crash):
        ws.apply_changes({f"img{i:05d}.png": f"new {i}" for i in range(10)}, label="bulk x")
    ws.close()
    monkeypatch.undo()
    texts = [cap(ds, i) for i in range(10)]
    assert all(t in (f"old {i}", f"new {i}") for i, t in enumerate(texts))
    assert sum(t.startswith("new") for t in texts) == 4
    with Workspace.open(ds) as ws:
        assert ws.recovered and "4 of 10" in ws.recovered[0]
        step = ws.steps()[-1]
        assert (step.state, step.incomplete, step.count) == ("applied", True, 4)
        assert all(h.origin != "external" for i in range(10) for h in ws.history(f"img{i:05d}.png"))
        ws.undo()
        assert [cap(ds, i) for i in range(10)] == [f"old {i}" for i in range(10)]


def test_bulk_edit_killed_before_any_write_leaves_no_step(tmp_path, monkeypatch) -> None:
    ds = tmp_path / "d"
    make_dataset(ds, 3, caption="old")
    ws = Workspace.open(ds)
    crash_after(monkeypatch, 0)
    with pytest.raises(Crash):
        ws.apply_changes({f"img{i:05d}.png": "new" for i in range(3)})
    ws.close()
    monkeypatch.undo()
    with Workspace.open(ds) as ws:
        assert ws.steps() == [] and not ws.can_undo


def test_interrupted_undo_is_recovered(tmp_path: Path, monkeypatch) -> None:
    ds = tmp_path / "d"
    make_dataset(ds, 6, caption="old")
    ws = Workspace.open(ds)
    ws.apply_changes({f"img{i:05d}.png": f"new {i}" for i in range(6)}, label="b")
    crash_after(monkeypatch, 2)
    with pytest.raises(Crash):
        ws.undo()
    ws.close()
    monkeypatch.undo()
    with Workspace.open(ds) as ws:
        assert "2 of 6" in ws.recovered[0]
        ws.undo()  # reverts the 4 captions the interrupted undo had not reached
        assert [cap(ds, i) for i in range(6)] == [f"old {i}" for i in range(6)]


def test_opening_never_recovers_an_edit_still_in_progress(tmp_path, monkeypatch) -> None:
    ds = tmp_path / "d"
    make_dataset(ds, 6, caption="old")
    real = workspace.write_caption_atomic
    started, release = threading.Event(), threading.Event()

    def slow_write(path, text, root=None):
        started.set()
        assert release.wait(20)
        real(path, text, root=root)

    monkeypatch.setattr(workspace, "write_caption_atomic", slow_write)
    ws_a = Workspace.open(ds)
    worker = threading.Thread(
        target=ws_a.apply_changes, args=({f"img{i:05d}.png": f"new {i}" for i in range(6)},)
    )
    worker.start()
    assert started.wait(20)
    with Workspace.open(ds) as ws_b:  # a second window / CLI while the edit runs
        assert ws_b.recovered == []
        assert [s.state for s in ws_b.steps()] == ["applying"]
    release.set()
    worker.join(20)
    ws_a.close()
    with Workspace.open(ds) as ws_c:
        step = ws_c.steps()[-1]
        assert (step.state, step.count, step.incomplete) == ("applied", 6, False)
        ws_c.undo()
    assert [cap(ds, i) for i in range(6)] == [f"old {i}" for i in range(6)]


def test_step_owned_by_another_live_process_is_left_alone(tmp_path) -> None:
    import socket
    import subprocess
    import sys

    ds = tmp_path / "d"
    make_dataset(ds, 2, caption="old")
    Workspace.open(ds).close()
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        db = sqlite3.connect(ds / ".likeness" / "state.sqlite")
        db.execute(
            "INSERT INTO steps(time, label, origin, state, owner) VALUES(?,?,?,?,?)",
            (time.time(), "theirs", "bulk", "applying", f"{socket.gethostname()}:{other.pid}"),
        )
        db.execute("INSERT INTO step_changes VALUES(1, 'img00000.png', 'old 0', 'new')")
        db.commit()
        db.close()
        with Workspace.open(ds) as ws:
            assert [s.state for s in ws.steps()] == ["applying"] and not ws.recovered
    finally:
        other.kill()
        other.wait()
    with Workspace.open(ds) as ws:  # its owner is gone: now it is an interrupted edit
        assert ws.steps() == [] and "'theirs' was interrupted" in ws.recovered[0]
