"""One trainer per run folder: ``<run>/trainer.lock``.

The trainer holds an exclusive OS lock on the file for as long as it lives (``flock`` on
POSIX, ``msvcrt.locking`` on Windows); the kernel drops it when the process ends, however it
ends, so the lock of a dead trainer (SIGKILL, power cut) is simply taken over by the next one.
The file also holds who has it (pid, host, start time, as JSON), so a refused start can say
which process to stop. The file is opened without following symlinks and must be the user's.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from curation.writer_lock import try_lock_fd
from training import fileio
from training.errors import RunLockedError

log = logging.getLogger(__name__)

LOCK_FILE = "trainer.lock"
_WIN_LOCK_OFFSET = 1 << 30  # Windows locks a byte range: lock one far past the JSON


def _try_lock(fd: int) -> bool:
    return try_lock_fd(fd, win_offset=_WIN_LOCK_OFFSET)


def _read_owner(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 4096).decode("utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def describe_owner(owner: dict[str, Any]) -> str:
    started = owner.get("started")
    when = (
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
        if isinstance(started, int | float)
        else "an unknown time"
    )
    return f"pid {owner.get('pid', '?')} on {owner.get('host', '?')}, started {when}"


class RunLock:
    """``with RunLock(run_dir):`` or ``acquire()`` / ``release()``."""

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / LOCK_FILE
        self._fd: int | None = None
        self.stale: dict[str, Any] | None = None  # the dead owner whose lock was taken over

    def acquire(self) -> RunLock:
        fd = fileio._open_nofollow(self.path, os.O_RDWR | os.O_CREAT)
        try:
            fileio._check_regular(fd, self.path, own=True)
            if not _try_lock(fd):
                owner = _read_owner(fd)
                raise RunLockedError(
                    f"another trainer is using {self.path.parent} ({describe_owner(owner)}): "
                    f"stop it first (write `stop` into {self.path.parent / 'control'} or end pid "
                    f"{owner.get('pid', '?')}), then start again",
                    details=[json.dumps(owner)],
                )
            previous = _read_owner(fd)
            if previous.get("pid") and previous.get("pid") != os.getpid():
                self.stale = previous
                log.info("took over the lock of a trainer that is gone (%s)", previous)
            info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            fileio._write_all(fd, json.dumps(info).encode("utf-8"))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        """Mark the file free (empty) and drop the lock; the file stays (removing a locked
        file would let two trainers lock two different files of the same name)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)  # closing drops flock / msvcrt locks

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(run_dir: Path) -> dict[str, Any] | None:
    """The live trainer holding ``run_dir``'s lock (its pid/host/started), or None.

    For a reader such as the GUI deciding between "running" and "interrupted": it takes the
    lock for an instant when nobody holds it (never writing the file) and lets go at once."""
    path = Path(run_dir) / LOCK_FILE
    try:
        fd = fileio._open_nofollow(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if _try_lock(fd):
            return None
        return _read_owner(fd) or {"pid": None}
    finally:
        os.close(fd)  # also drops the instant lock taken above
