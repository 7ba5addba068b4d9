"""Every file the trainer writes or reads in a run folder goes through here.

* Writes: a temporary file in the same folder (created exclusively, so never a symlink), all
  bytes written with ``os.write`` (a full disk is a real ``OSError``, never a library's own
  exception type), fsync, rename over the target (a symlink at the target is replaced, not
  followed), fsync of the folder.
* Reads and appends: ``O_NOFOLLOW``, and only regular files; a symlink is refused with a
  clear error instead of being followed to a file somebody else chose.
* The run folder is created private to the user (0700) and refused when it is a symlink or
  owned by another user.

OSErrors pass through; ``save_error`` turns one into ``DiskFullError`` (no space, quota) or
``SaveError`` (anything else) for the user.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from training.errors import DiskFullError, SaveError

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
BINARY = getattr(os, "O_BINARY", 0)
DISK_FULL_ERRNOS = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
CHUNK = 16 << 20


class UnsafePathError(OSError):
    """A run-folder path is a symlink, not a regular file, or belongs to another user."""


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def save_error(exc: OSError, what: Path) -> Exception:
    """The user-facing error for a failed write of ``what``."""
    if is_disk_full(exc):
        return DiskFullError(
            f"no space left on the disk while writing {Path(what).name}: free some space, then "
            f"run again with --resume (the newest complete checkpoint and state are intact)"
        )
    return SaveError(f"cannot write {exc.filename or what}: {exc.strerror or exc}")


def _write_all(fd: int, data: bytes | memoryview) -> None:
    """The one place bytes are written (fault tests patch it to fill the disk)."""
    view = memoryview(data)
    while view:
        n = os.write(fd, view[:CHUNK])
        view = view[n:]


def fsync_dir(path: Path) -> None:
    """Flush a folder entry to disk; folders cannot be opened on Windows (skipped there)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync directories
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes | memoryview) -> Path:
    """Write ``data`` to ``path`` through a temporary file + fsync + rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        try:
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically; OSError passes through."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def _check_regular(fd: int, path: Path, *, own: bool) -> os.stat_result:
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(errno.EINVAL, "not a regular file", str(path))
    if own and hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise UnsafePathError(errno.EPERM, "owned by another user", str(path))
    return st


def _open_nofollow(path: Path, flags: int, mode: int = 0o600) -> int:
    try:
        return os.open(str(path), flags | NOFOLLOW | BINARY, mode)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (not NOFOLLOW and Path(path).is_symlink()):
            raise UnsafePathError(errno.ELOOP, "is a symlink (not followed)", str(path)) from None
        raise


def read_bytes(path: Path, *, limit: int | None = None, own: bool = False) -> bytes:
    """The bytes of a regular file, never through a symlink; ``own``: the user's own file only.
    ``limit``: refuse files larger than that many bytes."""
    if not NOFOLLOW and Path(path).is_symlink():  # pragma: no cover - Windows
        raise UnsafePathError(errno.ELOOP, "is a symlink (not followed)", str(path))
    # O_NONBLOCK: a FIFO planted under the name must not hang the trainer in open()
    fd = _open_nofollow(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        st = _check_regular(fd, path, own=own)
        if limit is not None and st.st_size > limit:
            raise UnsafePathError(errno.EFBIG, f"larger than {limit} bytes", str(path))
        chunks = []
        while chunk := os.read(fd, CHUNK):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def open_append(path: Path, *, encoding: str = "utf-8"):
    """A text stream appending to ``path`` (created 0600), never through a symlink."""
    if not NOFOLLOW and Path(path).is_symlink():  # pragma: no cover - Windows
        raise UnsafePathError(errno.ELOOP, "is a symlink (not followed)", str(path))
    fd = _open_nofollow(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    try:
        _check_regular(fd, path, own=False)
    except BaseException:
        os.close(fd)
        raise
    return os.fdopen(fd, "a", encoding=encoding, errors="replace")


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed, the last level private to the user (0700);
    refuse a symlink, a non-folder, or a folder owned by another user."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    check_dir(path)
    return path


def check_dir(path: Path) -> None:
    """A folder the trainer writes into must be a real folder of this user, not a symlink."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        raise UnsafePathError(errno.ELOOP, "is a symlink (not followed)", str(path))
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(errno.ENOTDIR, "is not a folder", str(path))
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise UnsafePathError(errno.EPERM, "owned by another user", str(path))


def sub_dir(parent: Path, name: str) -> Path:
    """``parent / name`` as a folder of this user (created 0700), never a symlink."""
    return private_dir(Path(parent) / name)
