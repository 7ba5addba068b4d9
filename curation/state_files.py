"""Where a dataset's state lives and how it is opened (see ADR 0002 and 0005).

``<dataset>/.likeness/state.sqlite``, else (a read-only folder) the user cache; a damaged db
is moved aside and a new one started; a ``.likeness`` or state file that is not a real
folder / file is refused with one clear error.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import stat
import time
from pathlib import Path

from curation import paths
from curation.dataset import STATE_DIRNAME
from curation.errors import WorkspaceError
from curation.fsio import describe_special, write_atomic_text
from curation.state import StateCorruptError, StateDB, StateVersionError

__all__ = ["check_state_dir", "open_state_db", "state_location"]

log = logging.getLogger(__name__)


def state_location(root: Path) -> tuple[Path, Path]:
    """(preferred state dir inside the dataset, fallback dir in the user cache)."""
    digest = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return root / STATE_DIRNAME, paths.cache_dir() / "state" / digest


def _move_aside(db_path: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = db_path.with_name(f"{db_path.name}.corrupt-{stamp}")
    for suffix in ("", "-wal", "-shm"):
        part = Path(str(db_path) + suffix)
        if part.exists():
            part.replace(Path(str(target) + suffix))
    return target


def check_state_dir(folder: Path) -> None:
    """Raise :class:`WorkspaceError` when the state folder or its files are not what they
    must be: a real folder (not a link, not a file) holding regular files. SQLite would
    follow a link and put the state elsewhere, or crash on a folder named like its file."""
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        what = "a link" if stat.S_ISLNK(st.st_mode) else (describe_special(st.st_mode) or "a file")
        raise WorkspaceError(
            f"{folder} is {what}, not a folder: Likeness keeps this dataset's state (undo "
            f"history, flags) in a real folder of that name. Remove or rename it and try again."
        )
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "writer.lock"):
        try:
            st = os.lstat(folder / name)
        except FileNotFoundError:
            continue
        if not stat.S_ISREG(st.st_mode):
            what = "a link" if stat.S_ISLNK(st.st_mode) else describe_special(st.st_mode)
            raise WorkspaceError(
                f"{folder / name} is {what}, not a file: Likeness cannot keep its state there. "
                "Remove or rename it (captions are safe: they are the .txt files)."
            )


def _try_open(folder: Path, root: Path, notes: list[str]) -> StateDB:
    check_state_dir(folder)
    folder.mkdir(parents=True, exist_ok=True)
    check_state_dir(folder)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{folder} is read-only")
    db_path = folder / "state.sqlite"
    try:
        db = StateDB(db_path)
    except StateCorruptError as exc:
        moved = _move_aside(db_path)
        notes.append(
            f"the workspace state was damaged ({exc}); it was moved to {moved.name} and a new "
            "one started. Captions are safe (they are the .txt files); undo history, flags "
            "and notes start empty."
        )
        log.warning(notes[-1])
        db = StateDB(db_path)
    try:
        with db.tx() as conn:  # prove it is writable
            conn.execute("INSERT OR REPLACE INTO meta VALUES('dataset', ?)", (str(root),))
    except BaseException:
        db.close()
        raise
    return db


def open_state_db(root: Path, create: bool, notes: list[str]) -> tuple[StateDB, Path | None]:
    """Open the state of dataset ``root``: ``<root>/.likeness/state.sqlite``, else (folder
    read-only) the user cache dir; with ``create=False`` an in-memory db when none exists.
    Messages for the user (a damaged db moved aside) are appended to ``notes``."""
    inside, fallback = state_location(root)
    check_state_dir(inside)
    order = [inside, fallback]
    if not (inside / "state.sqlite").exists() and (fallback / "state.sqlite").exists():
        order.reverse()  # the folder was read-only before: keep using that state
    for folder in order:
        if not create and not (folder / "state.sqlite").exists():
            continue
        try:
            db = _try_open(folder, root, notes)
        except StateVersionError:
            raise
        except (OSError, WorkspaceError, sqlite3.Error) as exc:
            log.info("state cannot live in %s (%s)", folder, exc)
            continue
        if folder == fallback:
            write_atomic_text(folder / "dataset.txt", str(root) + "\n")
        return db, folder
    if create:
        raise WorkspaceError(
            f"cannot store workspace state in {inside} nor in {fallback}: check permissions"
        )
    return StateDB(":memory:"), None
