"""``ThumbnailStore``: the encoded thumbnails in one SQLite file, written in batches.

One file per thumbnail cost more CPU than decoding it draft-mode: creating an inode on ext4
took 0.1-1 ms of system time per file (measured, docs/benchmarks.md), against ~3 ms for the
decode itself. Here a thumbnail is one row (``key``, ``bucket``, JPEG bytes); new rows wait
in memory and go to disk ``BATCH`` at a time in one transaction (WAL journal, no fsync per
batch: a cache may lose its last rows in a power cut, never its consistency).

Thread-safe: one writing connection behind a lock, and a reading connection per thread, so
that a worker looking a thumbnail up never waits for another worker's batch to be written
(WAL: readers see the last committed batch, rows still queued are answered from memory;
SQLite releases the GIL while it works). Several app instances may share the file (WAL, busy
timeout). A damaged or unusable file is moved aside and recreated; if even that fails the app
runs without a disk cache (thumbnails are decoded again when needed): a broken cache only
costs speed.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

BATCH = 64  # rows per transaction
MAX_DELAY_S = 1.0  # a pending row waits at most this long for its batch (checked on put)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS thumbs (
    key TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    jpeg BLOB NOT NULL,
    PRIMARY KEY (key, bucket)
)
"""


class ThumbnailStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()  # the connection
        self._pending_lock = threading.Lock()
        self._pending: dict[tuple[str, int], bytes] = {}
        self._flushing: dict[tuple[str, int], bytes] = {}
        self._oldest = 0.0
        self._local = threading.local()  # this thread's reading connection
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._conn: sqlite3.Connection | None = self._open()

    # -- connection ----------------------------------------------------------------------
    def _open(self) -> sqlite3.Connection | None:
        for attempt in range(2):
            try:
                if self.path.is_symlink():
                    raise sqlite3.DatabaseError("the cache file is a symlink; not following it")
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=5.0, check_same_thread=False, isolation_level=None
                )
                try:
                    conn.execute("PRAGMA journal_mode=WAL")
                    conn.execute("PRAGMA synchronous=NORMAL")
                    conn.execute(_SCHEMA)
                    conn.execute("SELECT 1 FROM thumbs LIMIT 1").fetchall()
                except BaseException:
                    conn.close()
                    raise
                return conn
            except (sqlite3.Error, OSError) as exc:
                if attempt == 0 and isinstance(exc, sqlite3.DatabaseError) and self._set_aside():
                    log.warning(
                        "Thumbnail cache %s unreadable (%s); starting afresh", self.path, exc
                    )
                    continue
                log.warning(
                    "Thumbnail cache %s unusable (%s); thumbnails will be decoded every time",
                    self.path,
                    exc,
                )
                return None
        return None

    def _set_aside(self) -> bool:
        """Move a damaged cache file (and its WAL) out of the way; True when done."""
        if self.path.is_symlink():
            return False
        moved = False
        for suffix in ("", "-wal", "-shm"):
            src = self.path.with_name(self.path.name + suffix)
            try:
                os.replace(src, src.with_name(src.name + ".damaged"))
                moved = True
            except FileNotFoundError:
                continue
            except OSError:
                return False
        return moved

    def _reader(self) -> sqlite3.Connection | None:
        """This thread's reading connection (opened on first use); None without a cache."""
        if self._conn is None:
            return None
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn
        try:
            if self.path.is_symlink():
                return None
            conn = sqlite3.connect(
                self.path, timeout=5.0, check_same_thread=False, isolation_level=None
            )
            conn.execute("PRAGMA query_only=1")
        except sqlite3.Error as exc:
            log.debug("thumbnail cache reader unavailable: %s", exc)
            return None
        with self._readers_lock:
            if self._conn is None:  # closed meanwhile
                conn.close()
                return None
            self._readers.append(conn)
        self._local.conn = conn
        return conn

    def _select(self, sql: str, key: str, bucket: int) -> tuple | None:
        """One row of ``sql`` through this thread's reader (None when absent or unreadable)."""
        conn = self._reader()
        if conn is None:
            return None
        try:
            return conn.execute(sql, (key, bucket)).fetchone()
        except sqlite3.Error as exc:
            log.debug("thumbnail cache read failed: %s", exc)
            return None

    def close(self) -> None:
        self.flush()
        with self._lock, self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- rows ----------------------------------------------------------------------------
    def get(self, key: str, bucket: int) -> bytes | None:
        with self._pending_lock:
            data = self._pending.get((key, bucket)) or self._flushing.get((key, bucket))
        if data is not None:
            return data
        row = self._select("SELECT jpeg FROM thumbs WHERE key=? AND bucket=?", key, bucket)
        return row[0] if row else None

    def has(self, key: str, bucket: int) -> bool:
        with self._pending_lock:
            if (key, bucket) in self._pending or (key, bucket) in self._flushing:
                return True
        return (
            self._select("SELECT 1 FROM thumbs WHERE key=? AND bucket=?", key, bucket) is not None
        )

    def present(self, keys: list[str], bucket: int) -> set[str]:
        """Which of ``keys`` are stored (queued rows included): one query for a whole batch
        of the background fill instead of one ``has`` per thumbnail."""
        with self._pending_lock:
            found = {
                k for k in keys if (k, bucket) in self._pending or (k, bucket) in self._flushing
            }
        rest = [k for k in keys if k not in found]
        conn = self._reader() if rest else None
        if conn is None:
            return found
        for i in range(0, len(rest), 500):  # (SQLite's limit on parameters is far above)
            chunk = rest[i : i + 500]
            marks = ",".join("?" * len(chunk))
            try:
                rows = conn.execute(
                    f"SELECT key FROM thumbs WHERE bucket=? AND key IN ({marks})",  # noqa: S608
                    (bucket, *chunk),
                ).fetchall()
            except sqlite3.Error as exc:
                log.debug("thumbnail cache read failed: %s", exc)
                return found
            found.update(row[0] for row in rows)
        return found

    def delete(self, key: str, bucket: int) -> None:
        with self._pending_lock:
            self._pending.pop((key, bucket), None)
        with self._lock:
            if self._conn is not None:
                try:
                    self._conn.execute("DELETE FROM thumbs WHERE key=? AND bucket=?", (key, bucket))
                except sqlite3.Error as exc:
                    log.debug("thumbnail cache delete failed: %s", exc)

    def put(self, key: str, bucket: int, jpeg: bytes) -> None:
        """Queue a row; writes the batch when it is full or its oldest row waited too long."""
        now = time.monotonic()
        with self._pending_lock:
            if not self._pending:
                self._oldest = now
            self._pending[(key, bucket)] = jpeg
            due = len(self._pending) >= BATCH or now - self._oldest >= MAX_DELAY_S
        if due:
            self.flush()

    def flush(self) -> None:
        """Write every queued row now (one transaction)."""
        with self._lock:
            with self._pending_lock:
                if not self._pending:
                    return
                self._flushing, self._pending = self._pending, {}
            rows = [(k, b, v) for (k, b), v in self._flushing.items()]
            if self._conn is not None:
                try:
                    with self._conn:
                        self._conn.execute("BEGIN")
                        self._conn.executemany(
                            "INSERT OR REPLACE INTO thumbs (key, bucket, jpeg) VALUES (?, ?, ?)",
                            rows,
                        )
                except sqlite3.Error as exc:  # a full disk or a locked file only costs speed
                    log.debug("cannot store %d thumbnails: %s", len(rows), exc)
            with self._pending_lock:
                self._flushing = {}

    def pending(self) -> int:
        with self._pending_lock:
            return len(self._pending)
