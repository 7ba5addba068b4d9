"""One writer at a time per dataset, across processes.

The caption files and the state db of a dataset may be edited by the GUI and by ``likeness``
commands at once. Every caption step (plan -> journal -> files -> done) runs while holding an
OS lock on ``<state dir>/writer.lock`` (``flock`` on POSIX, ``msvcrt.locking`` on Windows),
so two writers never interleave and each step applies to what is on disk now. SQLite's own
``BEGIN IMMEDIATE`` cannot be held across the step: the journal row must be committed before
the first file is touched, so that a killed process can be reconciled.

The lock is re-entrant within a thread (a bulk step that flushes pending edits first), and
another thread of the same process waits like another process does. The OS drops the lock
when the process dies, so a killed writer never blocks the next one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from curation import paths
from curation.errors import WorkspaceError

__all__ = ["LOCK_NAME", "WriterBusyError", "WriterLock", "lock_path_for"]

LOCK_NAME = "writer.lock"
DEFAULT_TIMEOUT_S = 30.0
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class WriterBusyError(WorkspaceError):
    """Another process kept the dataset's writer lock for longer than the timeout."""


def lock_path_for(root: Path, state_dir: Path | None) -> Path:
    """The lock file: in the state folder, else (in-memory state) in the user cache."""
    if state_dir is not None:
        return state_dir / LOCK_NAME
    digest = hashlib.sha256(str(root).encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return paths.cache_dir() / "locks" / f"{digest}.lock"  # the folder is made on first use


def try_lock_fd(fd: int, win_offset: int = 0) -> bool:
    """Take an exclusive OS lock on the open file ``fd`` without waiting (``flock``; on
    Windows ``msvcrt`` locks the byte at ``win_offset``). False when another holds it.
    Also used by the trainer's run lock (``training.runlock``)."""
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        os.lseek(fd, win_offset, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        with contextlib.suppress(OSError):
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return
    import fcntl

    fcntl.flock(fd, fcntl.LOCK_UN)


class WriterLock:
    """``with lock.hold(): ...`` holds the dataset's writer lock (re-entrant per thread)."""

    def __init__(self, path: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._fd: int | None = None

    @contextlib.contextmanager
    def hold(self, timeout_s: float | None = None) -> Iterator[None]:
        """Wait up to ``timeout_s`` (default: the lock's) for the lock, else raise
        :class:`WriterBusyError`."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + timeout
        if timeout > 0:
            got = self._thread_lock.acquire(timeout=timeout)
        else:
            got = self._thread_lock.acquire(blocking=False)
        if not got:
            raise self._busy()
        try:
            if self._depth == 0:
                self._fd = self._acquire(deadline)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and self._fd is not None:
                    fd, self._fd = self._fd, None
                    try:
                        _unlock(fd)
                    finally:
                        os.close(fd)
        finally:
            self._thread_lock.release()

    def _acquire(self, deadline: float) -> int:
        try:
            if not self.path.parent.exists():  # the user-cache lock folder
                self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW | _CLOEXEC, 0o666)
        except OSError as exc:
            raise WorkspaceError(
                f"cannot open the dataset's writer lock {self.path}: {exc.strerror or exc}"
            ) from exc
        delay = 0.002
        while True:
            if try_lock_fd(fd):
                return fd
            if time.monotonic() >= deadline:
                os.close(fd)
                raise self._busy()
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _busy(self) -> WriterBusyError:
        return WriterBusyError(
            f"another Likeness window or command has been saving captions in this dataset for "
            f"over {self.timeout_s:.0f} s; nothing was changed, try again when it is done"
        )
