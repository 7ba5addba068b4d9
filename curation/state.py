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

from curation.errors import WorkspaceError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MAX_UNDO_STEPS = 200
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
CREATE TABLE IF NOT EXISTS step_meta(
    step_id INTEGER NOT NULL, rel TEXT NOT NULL, key TEXT NOT NULL,
    old_value TEXT, new_value TEXT, PRIMARY KEY(step_id, rel, key)
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
    kind: str = "captions"  # or "meta": exclusions and overrides


@dataclass(frozen=True)
class Change:
    rel: str
    old: str | None  # None: there was no caption file
    new: str | None  # None: the caption file is removed (undo of a creation)


@dataclass(frozen=True)
class MetaChange:
    """One per-image setting changed by a step: ``key`` is ``excluded`` or
    ``override:<name>``; values are JSON (None: no override)."""

    rel: str
    key: str
    old: object
    new: object


def _json_or_none(text: str | None) -> object:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


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
        if "kind" not in columns:  # 'captions' or 'meta' (exclusions, overrides)
            self.conn.execute("ALTER TABLE steps ADD COLUMN kind TEXT NOT NULL DEFAULT 'captions'")

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
            "(SELECT COUNT(*) FROM step_changes c WHERE c.step_id = s.id) + "
            "(SELECT COUNT(*) FROM step_meta m WHERE m.step_id = s.id), s.owner, s.kind "
            "FROM steps s"
        )
        params: tuple = ()
        if states is not None:
            states = tuple(states)
            sql += f" WHERE s.state IN ({','.join('?' * len(states))})"
            params = states
        return [
            Step(r[0], r[1], r[2], r[3], r[4], bool(r[5]), r[6], r[7], r[8])
            for r in self.query(sql + " ORDER BY s.id", params)
        ]

    def changes(self, step_id: int) -> list[Change]:
        rows = self.query(
            "SELECT rel, old_text, new_text FROM step_changes WHERE step_id=? ORDER BY rowid",
            (step_id,),
        )
        return [Change(*r) for r in rows]

    def step_rels(self, step_id: int) -> list[str]:
        """The images a step touches, in order."""
        rows = self.query(
            "SELECT rel FROM step_changes WHERE step_id=? UNION "
            "SELECT rel FROM step_meta WHERE step_id=?",
            (step_id, step_id),
        )
        return sorted({r[0] for r in rows})

    def meta_changes(self, step_id: int) -> list[MetaChange]:
        rows = self.query(
            "SELECT rel, key, old_value, new_value FROM step_meta WHERE step_id=? ORDER BY rowid",
            (step_id,),
        )
        return [
            MetaChange(rel, key, _json_or_none(old), _json_or_none(new))
            for rel, key, old, new in rows
        ]

    @staticmethod
    def delete_steps(conn: sqlite3.Connection, ids: Iterable[int]) -> None:
        params = [(i,) for i in ids]
        conn.executemany("DELETE FROM step_changes WHERE step_id=?", params)
        conn.executemany("DELETE FROM step_meta WHERE step_id=?", params)
        conn.executemany("DELETE FROM steps WHERE id=?", params)

    @staticmethod
    def start_step(
        conn: sqlite3.Connection, label: str, origin: str, state: str, kind: str, keep: int
    ) -> int:
        """A new step on top of the stack: the redo branch is dropped, and applied steps
        beyond the newest ``keep`` are forgotten. Returns its id."""
        undone = [r[0] for r in conn.execute("SELECT id FROM steps WHERE state='undone'")]
        StateDB.delete_steps(conn, undone)
        cur = conn.execute(
            "INSERT INTO steps(time, label, origin, state, owner, kind) VALUES(?,?,?,?,?,?)",
            (time.time(), label, origin, state, owner(), kind),
        )
        old = conn.execute(
            "SELECT id FROM steps WHERE state='applied' ORDER BY id DESC LIMIT -1 OFFSET ?",
            (keep,),
        )
        StateDB.delete_steps(conn, [r[0] for r in old])
        step_id = cur.lastrowid
        assert step_id is not None  # set by the INSERT above
        return step_id

    @staticmethod
    def add_meta_changes(
        conn: sqlite3.Connection, step_id: int, changes: Iterable[MetaChange]
    ) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO step_meta VALUES(?,?,?,?,?)",
            [(step_id, c.rel, c.key, StateDB.dumps(c.old), StateDB.dumps(c.new)) for c in changes],
        )

    @staticmethod
    def drop_step_changes(conn: sqlite3.Connection, step_id: int, rels: Iterable[str]) -> None:
        """Leave ``rels`` out of a step (captions it did not change)."""
        conn.executemany(
            "DELETE FROM step_changes WHERE step_id=? AND rel=?", [(step_id, r) for r in rels]
        )

    @staticmethod
    def settle_step(conn: sqlite3.Connection, step_id: int, state: str, incomplete: bool) -> None:
        """A recovered step's final state (``incomplete``: only part reached the disk)."""
        conn.execute(
            "UPDATE steps SET state=?, incomplete=incomplete OR ? WHERE id=?",
            (state, int(incomplete), step_id),
        )

    @staticmethod
    def set_step_state(conn: sqlite3.Connection, step_id: int, state: str) -> None:
        conn.execute("UPDATE steps SET state=?, owner=? WHERE id=?", (state, owner(), step_id))

    @staticmethod
    def add_step_changes(conn: sqlite3.Connection, step_id: int, changes: Iterable[Change]) -> None:
        conn.executemany(
            "INSERT INTO step_changes VALUES(?,?,?,?)",
            [(step_id, c.rel, c.old, c.new) for c in changes],
        )

    # -- history and pending edits -------------------------------------------------------
    def history_rows(self, rel: str) -> list[tuple]:
        """(time, origin, old_text, new_text, step_id) of one image, oldest first."""
        return self.query(
            "SELECT time, origin, old_text, new_text, step_id FROM history WHERE rel=? ORDER BY id",
            (rel,),
        )

    def trim_history(self, keep: int) -> None:
        with self.tx() as conn:
            conn.execute(
                "DELETE FROM history WHERE id <= (SELECT MAX(id) FROM history) - ?", (keep,)
            )

    @staticmethod
    def set_present(conn: sqlite3.Connection, rels: Iterable[str], present: bool) -> None:
        conn.executemany(
            "UPDATE images SET present=? WHERE rel=?", [(int(present), r) for r in rels]
        )

    def pending_rows(self) -> list[tuple[str, str | None, str | None, str]]:
        """(rel, text, base text or None, error) of every stored pending edit."""
        return [
            (rel, text, base if base_exists else None, error)
            for rel, text, base, base_exists, error in self.query(
                "SELECT rel, text, base_text, base_exists, error FROM pending"
            )
        ]

    @staticmethod
    def put_pending(
        conn: sqlite3.Connection, rel: str, edit: tuple[str | None, str, str | None] | None
    ) -> None:
        """Store ``edit`` = (text, error, base) as rel's pending edit; None removes it."""
        if edit is None:
            conn.execute("DELETE FROM pending WHERE rel=?", (rel,))
            return
        text, error, base = edit
        conn.execute(
            "INSERT OR REPLACE INTO pending VALUES(?,?,?,?,?,?)",
            (rel, text, base, int(base is not None), time.time(), error),
        )

    # -- flags, overrides, cache, image probe index --------------------------------------
    def flag_rows(self) -> list[tuple[str, bool, str]]:
        return [(r, bool(e), n) for r, e, n in self.query("SELECT rel, excluded, note FROM flags")]

    def override_rows(self) -> list[tuple[str, str, str]]:
        """(rel, key, JSON text)."""
        return self.query("SELECT rel, key, value FROM overrides")

    @staticmethod
    def put_flag(conn: sqlite3.Connection, rel: str, excluded: bool, note: str) -> None:
        conn.execute("INSERT OR REPLACE INTO flags VALUES(?,?,?)", (rel, int(excluded), note))

    @staticmethod
    def put_override(conn: sqlite3.Connection, rel: str, key: str, value: object) -> None:
        """Store one override (JSON); None removes it."""
        if value is None:
            conn.execute("DELETE FROM overrides WHERE rel=? AND key=?", (rel, key))
        else:
            conn.execute(
                "INSERT OR REPLACE INTO overrides VALUES(?,?,?)",
                (rel, key, StateDB.dumps(value)),
            )

    def cache_texts(self, namespace: str, keys: Iterable[str]) -> dict[str, str]:
        """key -> stored JSON text, for the keys that have an entry."""
        keys = list(keys)
        out: dict[str, str] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.query(
                f"SELECT key, value FROM cache WHERE namespace=? AND key IN "
                f"({','.join('?' * len(chunk))})",
                (namespace, *chunk),
            )
            out.update(rows)
        return out

    def cache_put_texts(self, namespace: str, values: Iterable[tuple[str, str]]) -> None:
        rows = [(namespace, k, v, time.time()) for k, v in values]
        with self.tx() as conn:
            conn.executemany("INSERT OR REPLACE INTO cache VALUES(?,?,?,?)", rows)

    def cache_delete(self, namespace: str, key: str | None = None) -> None:
        with self.tx() as conn:
            if key is None:
                conn.execute("DELETE FROM cache WHERE namespace=?", (namespace,))
            else:
                conn.execute("DELETE FROM cache WHERE namespace=? AND key=?", (namespace, key))

    def probe_rows(self) -> dict[str, tuple[int | None, int | None, str | None, str | None]]:
        """rel -> (size, mtime_ns, info JSON, error) of the image probe index."""
        return {
            r[0]: r[1:] for r in self.query("SELECT rel, size, mtime_ns, info, error FROM images")
        }

    def put_probe_rows(self, rows: Iterable[tuple]) -> None:
        """rows: (rel, size, mtime_ns, info JSON or None, error or None)."""
        with self.tx() as conn:
            conn.executemany(
                "INSERT INTO images(rel, size, mtime_ns, info, error) VALUES(?,?,?,?,?) "
                "ON CONFLICT(rel) DO UPDATE SET size=excluded.size, "
                "mtime_ns=excluded.mtime_ns, info=excluded.info, error=excluded.error",
                list(rows),
            )

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
