"""Caption sidecar files: tolerant reading, atomic UTF-8 writing.

Reading never crashes on odd bytes: UTF-8 (with or without BOM), UTF-16/32 with a BOM,
UTF-16 without a BOM (detected from its zero bytes), else Windows-1252 with a warning (bytes
cp1252 leaves undefined fall back to Latin-1). Writing goes through :mod:`curation.fsio`
(temporary file in the same folder, fsync, rename; never through a link): a crash at any
moment leaves either the old or the new caption, never a mix. Leftover temporary files are
hidden (scans skip them); :func:`remove_stale_temp_files` deletes them.
"""

from __future__ import annotations

import codecs
import errno
import logging
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

from curation.errors import CaptionReadError, CaptionWriteError
from curation.fsio import (
    TEMP_MARK,
    WriteRefused,
    delete_file,
    read_limited,
    remove_stale_temp_files,
    write_atomic,
)

__all__ = [
    "CaptionReadError",
    "CaptionText",
    "CaptionWriteError",
    "decode_caption",
    "normalize_caption",
    "read_caption",
    "remove_stale_temp_files",
    "TEMP_MARK",
    "MAX_CAPTION_BYTES",
    "write_caption_atomic",
    "delete_caption",
]

log = logging.getLogger(__name__)

MAX_CAPTION_BYTES = 64 * 1024  # a caption is a line of text; anything this big is not one
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


@dataclass(frozen=True)
class CaptionText:
    text: str
    encoding: str  # "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "cp1252", ... or "" if missing
    warning: str | None = None
    exists: bool = True
    read_only: bool = False  # a link: never written through


def decode_caption(data: bytes) -> CaptionText:
    """Decode caption bytes; never raises."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return CaptionText(data.decode(encoding), encoding)
            except UnicodeDecodeError:
                text = data.decode(encoding, errors="replace")
                return CaptionText(
                    text, encoding, f"caption is damaged {encoding}: bad bytes replaced"
                )
    # NUL bytes are valid UTF-8 but never part of a caption: UTF-16 without a BOM comes first
    utf16 = _guess_bomless_utf16(data) if b"\x00" in data else None
    if utf16 is not None:
        try:
            return CaptionText(
                data.decode(utf16), utf16, f"caption is {utf16.upper()} without a byte-order mark"
            )
        except UnicodeDecodeError:
            pass
    try:
        return CaptionText(data.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    warning = "caption is not UTF-8; read as Windows-1252 (it will be saved as UTF-8)"
    try:
        return CaptionText(data.decode("cp1252"), "cp1252", warning)
    except UnicodeDecodeError:
        # cp1252 leaves 0x81 0x8D 0x8F 0x90 0x9D undefined: decode those as Latin-1
        chars = []
        for byte in data:
            try:
                chars.append(bytes([byte]).decode("cp1252"))
            except UnicodeDecodeError:
                chars.append(chr(byte))
        return CaptionText("".join(chars), "cp1252", warning)


def _guess_bomless_utf16(data: bytes) -> str | None:
    if len(data) < 4 or len(data) % 2:
        return None
    even_zeros = data[0::2].count(0)
    odd_zeros = data[1::2].count(0)
    half = len(data) // 2
    if odd_zeros >= half * 0.6 and even_zeros == 0:
        return "utf-16-le"
    if even_zeros >= half * 0.6 and odd_zeros == 0:
        return "utf-16-be"
    return None


def normalize_caption(text: str) -> str:
    """The caption as one line, the way every trainer will read the same text.

    kohya-style trainers read only the first line (stripped), ai-toolkit the whole file with
    its line breaks: a caption of several lines is two different captions. Lines are joined
    with ", " (commas and blanks at the joins dropped, empty lines skipped), runs of blanks
    (tabs, no-break spaces) become one space, and the ends are trimmed.
    """
    lines = [_BLANKS_RE.sub(" ", line).strip() for line in text.splitlines()]
    lines = [line for line in lines if line.strip(" ,")]
    if len(lines) > 1:
        lines = [line.strip(" ,") if i else line.rstrip(" ,") for i, line in enumerate(lines)]
    return ", ".join(lines)


_BLANKS_RE = re.compile(r"[^\S\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")
_FINAL_BREAKS_RE = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+\Z")


def read_caption(
    path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
) -> CaptionText:
    """Read a caption. A missing file gives ``CaptionText("", "", exists=False)``; an
    unreadable one raises :class:`CaptionReadError`: a folder, FIFO, socket or device named
    like a caption (never opened for a blocking read), a dangling link, a link loop, a link
    leading outside ``root``, a file over :data:`MAX_CAPTION_BYTES`. A caption that is a
    link (inside ``root``) is read and marked ``read_only``: Likeness never writes through it.
    A final line break is not part of the text (editors add one; no trainer reads it), so it
    never shows as an empty second line."""
    path = Path(path)
    try:
        data, is_link = read_limited(path, MAX_CAPTION_BYTES, root=root)
    except WriteRefused as exc:
        hint = (
            " (captions are short text files); rename or move it"
            if exc.errno == errno.EFBIG
            else ""
        )
        raise CaptionReadError(f"cannot read caption {path.name}: {exc.reason}{hint}") from exc
    except PermissionError as exc:
        raise CaptionReadError(
            f"cannot read caption {path.name}: permission denied (check its permissions)"
        ) from exc
    except OSError as exc:
        raise CaptionReadError(f"cannot read caption {path.name}: {exc.strerror or exc}") from exc
    if data is None:
        return CaptionText("", "", None, exists=False)
    cap = decode_caption(data)
    text = _FINAL_BREAKS_RE.sub("", cap.text)
    if text != cap.text:
        cap = replace(cap, text=text)
    if is_link:
        cap = replace(cap, read_only=True, warning=cap.warning or LINK_WARNING)
    return cap


LINK_WARNING = (
    "caption is a symbolic link: shown read-only (Likeness never writes through links; "
    "replace the link by a real file to edit it)"
)


def _write_error(path: Path, exc: OSError, what: str = "write") -> CaptionWriteError:
    if isinstance(exc, WriteRefused):
        return CaptionWriteError(f"cannot {what} caption {path.name}: {exc.reason}")
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        if exc.errno == errno.EROFS:
            reason = "the disk is read-only"
        else:
            reason = "permission denied: the caption or its folder is read-only"
            if os.name == "nt":
                reason += " (or the file is open in another program)"
        return CaptionWriteError(
            f"cannot {what} caption {path.name}: {reason}. Your edit is kept and will be saved "
            "again on the next save; make the file writable (or fix the folder's permissions)."
        )
    if exc.errno == errno.ENOSPC:
        return CaptionWriteError(
            f"cannot {what} caption {path.name}: the disk is full. Your edit is kept; free some "
            "space and save again."
        )
    return CaptionWriteError(
        f"cannot {what} caption {path.name}: {exc.strerror or exc}. Your edit is kept."
    )


def write_caption_atomic(
    path: str | os.PathLike[str], text: str, root: str | os.PathLike[str] | None = None
) -> None:
    """Write ``text`` as UTF-8 (no BOM) to ``path`` atomically with :func:`fsio.write_atomic`
    (keeps mode and owner; never through a link; nothing outside ``root``). A read-only
    caption is refused, even as root (POSIX would let the rename replace it, silently
    defeating the user's write protection). Raises :class:`CaptionWriteError`."""
    path = Path(path)
    try:
        write_atomic(path, text.encode("utf-8"), root=root)
    except OSError as exc:
        raise _write_error(path, exc) from exc


def delete_caption(
    path: str | os.PathLike[str], root: str | os.PathLike[str] | None = None
) -> None:
    """Remove a caption file (used to undo the creation of a caption). Missing is fine; a
    link, a special file or a read-only file is refused."""
    path = Path(path)
    try:
        delete_file(path, root=root)
    except OSError as exc:
        raise _write_error(path, exc, "delete") from exc
