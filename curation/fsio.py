"""The one place Likeness writes, deletes and reads user-side files safely.

Every file the app writes (captions, reports, manifests, settings, thumbnail indexes) goes
through :func:`write_atomic`: a temporary file created exclusively (``O_EXCL | O_NOFOLLOW``)
in the target's folder under a short name, fsync, ``os.replace`` over the target, fsync of
the folder. It never writes through a symbolic link (a link at the target is refused, a link
planted at the temporary name makes the exclusive create fail), refuses targets that are not
regular files, honours a read-only file even when running as root (no write bit = read-only),
keeps the replaced file's mode and owner, and with ``root`` refuses any path that resolves
outside that folder.

Reading (:func:`read_limited`) never blocks on a FIFO or device (``O_NONBLOCK`` then a
regular-file check on the open descriptor) and never reads more than a limit.

Temporary files are named ``.likeness-tmp-<pid>-<hex>`` (about 30 characters, whatever the
target's name); :func:`remove_stale_temp_files` deletes those whose process is gone.
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from typing import BinaryIO

__all__ = [
    "TEMP_MARK",
    "WriteRefused",
    "delete_file",
    "describe_special",
    "ensure_inside",
    "open_regular",
    "read_limited",
    "remove_stale_temp_files",
    "write_atomic",
    "write_atomic_text",
]

log = logging.getLogger(__name__)

TEMP_MARK = ".likeness-tmp-"
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
STALE_ALIVE_S = 24 * 3600.0  # a temp file of a live pid this old is a reused pid's


class WriteRefused(OSError):
    """Likeness will not write or delete this path; ``reason`` says why, for a user."""

    def __init__(self, reason: str, err: int = errno.EPERM) -> None:
        super().__init__(err, reason)
        self.reason = reason


def describe_special(mode: int) -> str | None:
    """What a non-regular file is, in words ("a folder", "a FIFO (named pipe)", ...); None
    for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _real(path: Path) -> str:
    return os.path.realpath(path)


def _inside(real_path: str, real_root: str) -> bool:
    return real_path == real_root or real_path.startswith(real_root.rstrip(os.sep) + os.sep)


def ensure_inside(root: str | os.PathLike[str], path: str | os.PathLike[str]) -> None:
    """Raise :class:`WriteRefused` unless ``path``'s folder resolves inside ``root`` (the
    last component itself is checked by the writers: they never follow it)."""
    path = Path(path)
    if path.name in ("", ".", ".."):
        raise WriteRefused(f"{path} is not a file name")
    if not _inside(_real(path.parent), _real(Path(root))):
        raise WriteRefused(
            f"{path.name} is in a folder that leads outside the dataset (a linked folder); "
            "Likeness writes nothing outside the dataset"
        )


def _readonly(st: os.stat_result, path: Path) -> bool:
    """No write bit at all counts as read-only even for root (who may write anything)."""
    return not (st.st_mode & 0o222) or not os.access(path, os.W_OK)


def _check_target(
    path: Path, root: str | os.PathLike[str] | None, replace_link: bool = False
) -> os.stat_result | None:
    if root is not None:
        ensure_inside(root, path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode) and replace_link:
        return None  # the rename replaces the link itself; its target is never touched
    if stat.S_ISLNK(st.st_mode):
        raise WriteRefused(
            "it is a symbolic link; Likeness never writes or deletes through links (replace "
            "the link by a real file to edit it here)"
        )
    what = describe_special(st.st_mode)
    if what is not None:
        raise WriteRefused(f"it is {what}, not a regular file")
    if _readonly(st, path):
        raise PermissionError(errno.EACCES, "read-only", str(path))
    return st


def temp_name() -> str:
    """A short, unique temporary name (fits any file-name limit)."""
    return f"{TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; NTFS renames are journaled
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(
    path: str | os.PathLike[str],
    data: bytes,
    root: str | os.PathLike[str] | None = None,
    new_mode: int = 0o666,
    replace_link: bool = False,
) -> Path:
    """Replace ``path`` with ``data`` atomically (see the module doc). Raises ``OSError``:
    :class:`WriteRefused` for a link, a special file or a path outside ``root``,
    ``PermissionError`` for a read-only file. ``new_mode`` (less the umask) is for a file
    that did not exist; an existing one keeps its mode and owner. ``replace_link``: for the
    app's own files (reports in its state folder), a link planted at ``path`` is replaced
    by the new file instead of refused (its target is never written)."""
    path = Path(path)
    st = _check_target(path, root, replace_link)
    tmp = path.parent / temp_name()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC | _BINARY
    fd = os.open(tmp, flags, new_mode if st is None else 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if st is not None:
                if hasattr(os, "fchown") and st.st_uid != os.geteuid():
                    try:  # root editing a user's caption: it stays the user's
                        os.fchown(fd, st.st_uid, st.st_gid)
                    except OSError:
                        pass
                if hasattr(os, "fchmod"):
                    os.fchmod(fd, stat.S_IMODE(st.st_mode))
            os.fsync(fd)
        finally:
            os.close(fd)
        if st is not None and not hasattr(os, "fchmod"):
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(path.parent)
    return path


def write_atomic_text(
    path: str | os.PathLike[str],
    text: str,
    root: str | os.PathLike[str] | None = None,
    replace_link: bool = False,
) -> Path:
    """:func:`write_atomic` of UTF-8 text."""
    return write_atomic(path, text.encode("utf-8"), root=root, replace_link=replace_link)


def delete_file(path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> None:
    """Remove a regular file (missing is fine); refuses links, special files, read-only
    files and paths outside ``root`` like :func:`write_atomic`."""
    path = Path(path)
    if _check_target(path, root) is None:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    _fsync_dir(path.parent)


def read_limited(
    path: str | os.PathLike[str],
    limit: int,
    root: str | os.PathLike[str] | None = None,
) -> tuple[bytes | None, bool]:
    """(bytes, is_link) of a regular file, or (None, False) when it does not exist.

    Never blocks (a FIFO is opened non-blocking and refused), never reads more than
    ``limit`` bytes, and with ``root`` never follows a link that leads outside it. Raises
    ``OSError`` with a user-readable ``strerror`` (:class:`WriteRefused` for refusals;
    ``ELOOP`` for a link loop; ``ENOENT`` for a link to nothing, with ``is_link`` implied).
    """
    path = Path(path)
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        return None, False
    is_link = stat.S_ISLNK(lst.st_mode)
    if is_link:
        try:
            os.stat(path)
        except FileNotFoundError:
            raise WriteRefused("it is a link to a file that does not exist", errno.ENOENT) from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise WriteRefused("it is a symbolic link loop", errno.ELOOP) from None
            raise
        if root is not None and not _inside(_real(path), _real(Path(root))):
            raise WriteRefused("it is a link to a file outside the dataset; not read")
    else:
        what = describe_special(lst.st_mode)
        if what is not None:
            raise WriteRefused(f"it is {what}, not a text file")
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY)
    try:
        st = os.fstat(fd)
        what = describe_special(st.st_mode)
        if what is not None:
            raise WriteRefused(f"it is {what}, not a text file")
        if st.st_size > limit:
            raise WriteRefused(
                f"it is {_size(st.st_size)}, over the {_size(limit)} limit", errno.EFBIG
            )
        chunks, total = [], 0
        while True:
            chunk = os.read(fd, min(1 << 16, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # grew while we read it
                raise WriteRefused(f"it is over the {_size(limit)} limit", errno.EFBIG)
    finally:
        os.close(fd)
    return b"".join(chunks), is_link


def open_regular(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a regular file for binary reading without ever blocking: a FIFO, socket or
    device (a file swapped for one after the scan) raises :class:`WriteRefused`."""
    fd = os.open(path, os.O_RDONLY | _NONBLOCK | _CLOEXEC | _BINARY)
    try:
        what = describe_special(os.fstat(fd).st_mode)
        if what is not None:
            raise WriteRefused(f"it is {what}, not a regular file")
        if _NONBLOCK and hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _size(n: int) -> str:
    return f"{n / 1024:.0f} KB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MB"


def _pid_alive(pid: int) -> bool:
    """Whether a local process ``pid`` exists (psutil: ``os.kill(pid, 0)`` would terminate
    the process on Windows)."""
    if pid == os.getpid():
        return True
    try:
        import psutil
    except ImportError:  # pragma: no cover - psutil is a dependency
        if os.name == "nt":
            return True  # unknown: the age rule removes it later
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except OSError:  # EPERM: exists, another user's
            return True
        return True
    return psutil.pid_exists(pid)


def remove_stale_temp_files(folder: str | os.PathLike[str], min_age_s: float = 0.0) -> int:
    """Delete temporary files (``.likeness-tmp-<pid>-*`` and the older
    ``.<name>.likeness-tmp-<pid>-*``) in ``folder`` whose process is gone, or that are older
    than a day (a reused pid). Only regular files are removed. Returns a count."""
    removed = 0
    now = time.time()
    try:
        with os.scandir(folder) as it:
            entries = [e for e in it if e.name.startswith(".") and TEMP_MARK in e.name]
    except OSError:
        return 0
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(st.st_mode) or now - st.st_mtime < min_age_s:
                continue
            pid_text = entry.name.rpartition(TEMP_MARK)[2].partition("-")[0]
            alive = pid_text.isdigit() and _pid_alive(int(pid_text))
            if alive and now - st.st_mtime < STALE_ALIVE_S:
                continue
            os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed
