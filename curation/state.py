"""SQLite storage behind :class:`curation.workspace.Workspace`.

One file per dataset, ``state.sqlite`` in WAL mode (readers never block the writer; a killed
process never corrupts it). Tables:

- ``images``: the index. One row per image ever seen (``present`` = 0 once it is gone, so its
  flags survive a temporary move), its size/mtime, a cached probe result (``info`` JSON or
  ``error``), and the caption as last seen on disk (``cap_*``), used to notice captions changed
  by other programs.
- ``history``: every caption change, with time, origin (user, bulk, auto, undo, redo,
  external) and the raw old/new text (NULL: no caption file).
- ``steps`` + ``step_changes``: the undo stack. ``state`` is applied / undone, or a
  transitional state (applying / undoing / redoing) written *before* any file is touched: that
  is the journal that lets the next open reconcile an interrupted operation.
- ``flags``, ``overrides``, ``cache``, ``pending`` (caption edits that could not be written).
- ``settings``: the user's dataset settings (trigger, identity line, profile), one JSON value
  per key; see :mod:`curation.dataset_settings`. Decisions, not a cache.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from curation import paths
from curation.caption_io import read_caption
from curation.dataset import STATE_DIRNAME
from curation.errors import CaptionReadError, WorkspaceError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TRANSITIONAL = ("applying", "undoing", "redoing")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images(
    rel TEXT PRIMARY KEY,
    present INTEGER NOT NULL DEFAULT 1,
    size INTEGER, mtime_ns INTEGER,
    info TEXT, error TEXT,
    cap_exists INTEGER NOT NULL DEFAULT 0,
    cap_size INTEGER, cap_mtime_ns INTEGER, cap_text TEXT, cap_warning TEXT
);
CREATE TABLE IF NOT EXISTS history(
    id INTEGER PRIMARY KEY, rel TEXT NOT NULL, time REAL NOT NULL, origin TEXT NOT NULL,
    old_text TEXT, new_text TEXT, step_id INTEGER
);
CREATE INDEX IF NOT EXISTS history_rel ON history(rel, id);
CREATE TABLE IF NOT EXISTS steps(
    id INTEGER PRIMARY KEY, time REAL NOT NULL, label TEXT NOT NULL, origin TEXT NOT NULL,
    state TEXT NOT NULL, incomplete INTEGER NOT NULL DEFAULT 0, owner TEXT
);
CREATE TABLE IF NOT EXISTS step_changes(
    step_id INTEGER NOT NULL, rel TEXT NOT NULL, old_text TEXT, new_text TEXT,
    PRIMARY KEY(step_id, rel)
);
CREATE TABLE IF NOT EXISTS flags(
    rel TEXT PRIMARY KEY, excluded INTEGER NOT NULL DEFAULT 0, note TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS overrides(
    rel TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY(rel, key)
);
CREATE TABLE IF NOT EXISTS cache(
    namespace TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, time REAL NOT NULL,
    PRIMARY KEY(namespace, key)
);
CREATE TABLE IF NOT EXISTS settings(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pending(
    rel TEXT PRIMARY KEY, text TEXT, base_text TEXT, base_exists INTEGER NOT NULL,
    time REAL NOT NULL, error TEXT NOT NULL
);
"""


# Steps this process is moving right now: (db path, step id). A step in a transitional
# state is only "interrupted" if its owner process is gone (or, for this process, if the
# step is not in this set), so opening a dataset never "repairs" an edit in progress.
_live_steps: set[tuple[str, int]] = set()
_live_lock = threading.Lock()


def owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def mark_live(db_path: str, step_id: int, live: bool = True) -> None:
    """Mark a step as being moved by this process (call inside the transaction that puts it
    in a transitional state, unmark in a ``finally`` once it left that state)."""
    with _live_lock:
        (_live_steps.add if live else _live_steps.discard)((db_path, step_id))


def step_in_progress(db_path: str, step: Step) -> bool:
    """Whether a transitional step belongs to an operation that is still running."""
    host, _, pid_text = (step.owner or "").rpartition(":")
    if not pid_text.isdigit() or host != socket.gethostname():
        return False  # unknown, or another machine (a shared folder): treat as interrupted
    pid = int(pid_text)
    if pid == os.getpid():
        with _live_lock:
            return (db_path, step.id) in _live_steps
    try:
        import psutil

        proc = psutil.Process(pid)
        # a pid reused by a process started after the step is not its owner
        return proc.create_time() <= step.time + 1.0
    except ImportError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess, AccessDenied, ...
        return False


class StateVersionError(WorkspaceError):
    """The state db was written by a newer Likeness."""


class StateCorruptError(WorkspaceError):
    """The state db file is damaged (not a database / malformed)."""


@dataclass(frozen=True)
class Step:
    id: int
    time: float
    label: str
    origin: str
    state: str
    incomplete: bool = False
    count: int = 0
    owner: str | None = None  # "host:pid" of the process that last moved it


@dataclass(frozen=True)
class Change:
    rel: str
    old: str | None  # None: there was no caption file
    new: str | None  # None: the caption file is removed (undo of a creation)


@dataclass(frozen=True)
class CaptionRow:
    rel: str
    present: bool
    cap_exists: bool
    cap_size: int | None
    cap_mtime_ns: int | None
    cap_text: str | None
    cap_warning: str | None


class StateDB:
    """A thread-safe wrapper of one sqlite connection (all access under one lock)."""

    def __init__(self, path: Path | str) -> None:
        self.path = str(path)
        self.lock = threading.RLock()
        try:
            self.conn = sqlite3.connect(
                self.path, timeout=15, isolation_level=None, check_same_thread=False
            )
            if self.path != ":memory:":
                mode = self.conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("state db %s: WAL not available, using %s", self.path, mode)
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
            self._check_version()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self.conn.close()
            text = str(exc).lower()
            kind = (
                StateCorruptError
                if ("not a database" in text or "malformed" in text)
                else WorkspaceError
            )
            raise kind(f"cannot open the workspace state {self.path}: {exc}") from exc

    def _check_version(self) -> None:
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            self.conn.execute(
                "INSERT OR REPLACE INTO meta VALUES('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row[0]) > SCHEMA_VERSION:
            self.conn.close()
            raise StateVersionError(
                f"the workspace state {self.path} was written by a newer Likeness "
                f"(schema {row[0]}); update Likeness or delete the .likeness folder"
            )

    def _migrate(self) -> None:
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(images)")}
        if "cap_warning" not in columns:  # added during schema 1's development
            self.conn.execute("ALTER TABLE images ADD COLUMN cap_warning TEXT")
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(steps)")}
        if "owner" not in columns:
            self.conn.execute("ALTER TABLE steps ADD COLUMN owner TEXT")

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def query(self, sql: str, params: Iterable = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(sql, tuple(params)).fetchall()

    # -- images ---------------------------------------------------------------------------
    def caption_rows(self) -> dict[str, CaptionRow]:
        rows = self.query(
            "SELECT rel, present, cap_exists, cap_size, cap_mtime_ns, cap_text, cap_warning "
            "FROM images"
        )
        return {r[0]: CaptionRow(r[0], bool(r[1]), bool(r[2]), *r[3:]) for r in rows}

    @staticmethod
    def upsert_caption_state(conn: sqlite3.Connection, rows: Iterable[tuple]) -> None:
        """rows: (rel, cap_exists, cap_size, cap_mtime_ns, cap_text, cap_warning)."""
        conn.executemany(
            "INSERT INTO images(rel, cap_exists, cap_size, cap_mtime_ns, cap_text, cap_warning) "
            "VALUES(?,?,?,?,?,?) ON CONFLICT(rel) DO UPDATE SET "
            "cap_exists=excluded.cap_exists, cap_size=excluded.cap_size, "
            "cap_mtime_ns=excluded.cap_mtime_ns, cap_text=excluded.cap_text, "
            "cap_warning=excluded.cap_warning",
            [(rel, int(e), s, m, t, w) for rel, e, s, m, t, w in rows],
        )

    @staticmethod
    def add_history(
        conn: sqlite3.Connection,
        rows: Iterable[tuple[str, str, str | None, str | None, int | None]],
        when: float | None = None,
    ) -> None:
        """rows: (rel, origin, old_text, new_text, step_id)."""
        when = time.time() if when is None else when
        conn.executemany(
            "INSERT INTO history(rel, time, origin, old_text, new_text, step_id) "
            "VALUES(?,?,?,?,?,?)",
            [(rel, when, origin, old, new, step) for rel, origin, old, new, step in rows],
        )

    # -- steps ----------------------------------------------------------------------------
    def steps(self, states: Iterable[str] | None = None) -> list[Step]:
        sql = (
            "SELECT s.id, s.time, s.label, s.origin, s.state, s.incomplete, "
            "(SELECT COUNT(*) FROM step_changes c WHERE c.step_id = s.id), s.owner FROM steps s"
        )
        params: tuple = ()
        if states is not None:
            states = tuple(states)
            sql += f" WHERE s.state IN ({','.join('?' * len(states))})"
            params = states
        return [
            Step(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7])
            for r in self.query(sql + " ORDER BY s.id", params)
        ]

    def changes(self, step_id: int) -> list[Change]:
        rows = self.query(
            "SELECT rel, old_text, new_text FROM step_changes WHERE step_id=? ORDER BY rowid",
            (step_id,),
        )
        return [Change(*r) for r in rows]

    @staticmethod
    def set_step_state(conn: sqlite3.Connection, step_id: int, state: str) -> None:
        conn.execute("UPDATE steps SET state=?, owner=? WHERE id=?", (state, owner(), step_id))

    # -- json helpers ---------------------------------------------------------------------
    @staticmethod
    def dumps(value: object) -> str:
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"value is not JSON-serialisable: {exc}") from exc

    @staticmethod
    def loads(text: str) -> object:
        return json.loads(text)


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


def _try_open(folder: Path, root: Path, notes: list[str]) -> StateDB:
    folder.mkdir(parents=True, exist_ok=True)
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
            (folder / "dataset.txt").write_text(str(root) + "\n", encoding="utf-8")
        return db, folder
    if create:
        raise WorkspaceError(
            f"cannot store workspace state in {inside} nor in {fallback}: check permissions"
        )
    return StateDB(":memory:"), None


class JournalMixin:
    """Recovery of caption steps a killed process left half done (part of Workspace).

    Expects ``self.db``, ``self._items``, ``self._stat_caption``, ``self._set_known`` and
    ``self.recovered``.
    """

    db: StateDB

    def _recover(self) -> None:
        """Reconcile steps a killed process left in a transitional state (see module doc)."""
        for step in self.db.steps(TRANSITIONAL):
            if step_in_progress(self.db.path, step):
                log.info("step %s is being applied by live process %s", step.id, step.owner)
                continue
            changes = self.db.changes(step.id)
            on_disk: dict[str, str | None] = {}
            for c in changes:
                item = self._items.get(c.rel)
                if item is None:
                    on_disk[c.rel] = "\x00gone"
                    continue
                try:
                    cap = read_caption(item.caption_path)
                except CaptionReadError:
                    on_disk[c.rel] = "\x00unreadable"
                    continue
                on_disk[c.rel] = cap.text if cap.exists else None
            new_ = [c for c in changes if on_disk[c.rel] == c.new]
            old_ = [c for c in changes if on_disk[c.rel] == c.old and c.old != c.new]
            if step.state == "undoing":
                reached, origin = old_, "undo"
                state = "undone" if not new_ else "applied"
                keep = changes if state == "undone" or not old_ else new_
            else:
                reached, origin = new_, step.origin if step.state == "applying" else "redo"
                state = "applied" if new_ else ("undone" if step.state == "redoing" else "drop")
                keep = new_ if old_ else changes
            incomplete = bool(old_ and new_)
            with self.db.tx() as conn:
                drop = {c.rel for c in changes} - {c.rel for c in keep}
                conn.executemany(
                    "DELETE FROM step_changes WHERE step_id=? AND rel=?",
                    [(step.id, rel) for rel in drop],
                )
                if state == "drop":
                    conn.execute("DELETE FROM step_changes WHERE step_id=?", (step.id,))
                    conn.execute("DELETE FROM steps WHERE id=?", (step.id,))
                else:
                    conn.execute(
                        "UPDATE steps SET state=?, incomplete=incomplete OR ? WHERE id=?",
                        (state, int(incomplete), step.id),
                    )
                # the captions the step reached: history and index, so _reconcile does not
                # mistake them for external edits
                hist, rows = [], []
                for c in reached:
                    item = self._items[c.rel]
                    target = c.old if step.state == "undoing" else c.new
                    stat = self._stat_caption(item) if target is not None else None
                    rows.append(self._set_known(c.rel, target, stat))
                    before = c.new if step.state == "undoing" else c.old
                    hist.append((c.rel, origin, before, target, step.id))
                StateDB.upsert_caption_state(conn, rows)
                StateDB.add_history(conn, hist)
            message = (
                f"'{step.label}' was interrupted: {len(reached)} of {len(changes)} captions had "
                f"been {'reverted' if step.state == 'undoing' else 'changed'}"
            )
            if incomplete:
                message += "; the finished part is kept as an undoable step"
            log.warning(message)
            self.recovered.append(message)
