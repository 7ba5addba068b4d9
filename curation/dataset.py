"""Scan a dataset folder: images, their caption sidecars and kohya-style repeat counts.

Scanning never decodes an image: it walks the folder with ``os.scandir`` and stats each file
(fast for 10,000 files). Probing images for errors is a separate step
(:func:`curation.images.probe_images`).
"""

from __future__ import annotations

import errno
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from curation.errors import DatasetError
from curation.fsio import describe_special
from curation.jobs import Cancelled, CancelToken, ItemResult, ProgressFn, report

__all__ = [
    "IMAGE_EXTS",
    "CAPTION_EXT",
    "STATE_DIRNAME",
    "DatasetError",
    "ImageItem",
    "ScanResult",
    "scan_folder",
    "kohya_repeats",
    "natural_key",
]

log = logging.getLogger(__name__)

IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
CAPTION_EXT = ".txt"
STATE_DIRNAME = ".likeness"
_KOHYA_RE = re.compile(r"^(\d+)_(.+)$")
_NUM_RE = re.compile(r"(\d+)")


@dataclass(frozen=True)
class ImageItem:
    """One image of a dataset, as found by the scan (nothing decoded)."""

    path: Path  # absolute
    rel: str  # POSIX path relative to the dataset root
    caption_name: str  # file name of the caption sidecar (``a.txt``, or ``a.TXT`` if so found)
    has_caption: bool
    repeats: int = 1
    size_bytes: int = 0
    mtime_ns: int = 0
    caption_size: int = 0
    caption_mtime_ns: int = 0

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def caption_path(self) -> Path:
        """Where the caption sidecar is, or would be written."""
        return self.path.with_name(self.caption_name)

    @property
    def caption_rel(self) -> str:
        parent = self.rel.rpartition("/")[0]
        return f"{parent}/{self.caption_name}" if parent else self.caption_name


@dataclass
class ScanResult:
    root: Path
    items: list[ImageItem]
    errors: list[ItemResult] = field(default_factory=list)
    warnings: list[ItemResult] = field(default_factory=list)

    @property
    def captioned(self) -> int:
        return sum(1 for item in self.items if item.has_caption)

    @property
    def uncaptioned(self) -> int:
        return len(self.items) - self.captioned


def natural_key(text: str) -> tuple:
    """Sort key where ``img2`` comes before ``img10`` (case-insensitive)."""
    return tuple(int(p) if p.isdigit() else p.casefold() for p in _NUM_RE.split(text))


def kohya_repeats(folder_name: str) -> int | None:
    """``10_l3yla`` -> 10; None when the name is not a kohya ``<repeats>_<name>`` folder."""
    match = _KOHYA_RE.match(folder_name)
    if not match:
        return None
    value = int(match.group(1))
    return value if value > 0 else None


def _check_root(root: Path) -> Path:
    try:
        resolved = root.expanduser().resolve()
    except (OSError, RuntimeError) as exc:
        raise DatasetError(f"cannot open dataset folder {root}: {exc}") from exc
    if not resolved.exists():
        raise DatasetError(f"dataset folder does not exist: {resolved}")
    if not resolved.is_dir():
        raise DatasetError(f"not a folder: {resolved} (choose the folder that holds the images)")
    if not _utf8_ok(str(resolved)):
        raise DatasetError(
            f"the folder path {_printable(str(resolved))} is not valid UTF-8: rename the folder"
        )
    if not os.access(resolved, os.R_OK | os.X_OK):
        raise DatasetError(f"dataset folder is not readable: {resolved} (check its permissions)")
    return resolved


def scan_folder(
    root: str | os.PathLike[str],
    recursive: bool = True,
    on_progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> ScanResult:
    """List the images under ``root`` with their caption sidecars.

    Skips ``.likeness/`` and every hidden folder or file (names starting with ``.``, which
    also covers macOS ``._*`` resource forks). Symlinked folders are not followed. An
    unreadable subfolder becomes an entry in ``errors``; an unusable root raises
    :class:`DatasetError`. ``on_progress(done, 0, folder)`` is called once per folder (the
    total is unknown while walking); ``cancel`` is checked between folders.
    """
    base = _check_root(Path(root))
    items: list[ImageItem] = []
    errors: list[ItemResult] = []
    warnings: list[ItemResult] = []
    root_repeats = kohya_repeats(base.name) or 1
    # (folder path, rel prefix, repeats inherited from the nearest kohya folder)
    stack: list[tuple[str, str, int]] = [(str(base), "", root_repeats)]
    folders_done = 0
    while stack:
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        folder, prefix, repeats = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            if not prefix:
                raise DatasetError(f"cannot read dataset folder {base}: {exc.strerror}") from exc
            errors.append(ItemResult(path=prefix.rstrip("/"), error=_os_message(exc)))
            continue
        images: list[tuple[os.DirEntry[str], str]] = []
        captions: dict[str, os.DirEntry[str]] = {}
        for entry in entries:
            name = entry.name
            if name[0] == ".":
                continue
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False
            if not _utf8_ok(name):
                ext = "." + name.rpartition(".")[2].lower()
                if is_dir or ext in IMAGE_EXTS or ext == CAPTION_EXT:
                    errors.append(ItemResult(path=prefix + _printable(name), error=BAD_NAME))
                continue
            if is_dir:
                ext = "." + name.rpartition(".")[2].lower() if "." in name else ""
                if ext == CAPTION_EXT:  # the image's caption slot holds a folder: unreadable
                    captions.setdefault(name.rpartition(".")[0], entry)
                elif ext in IMAGE_EXTS:
                    warnings.append(
                        ItemResult(
                            path=prefix + name,
                            error="a folder named like an image: not an image (its contents "
                            "are scanned as a subfolder)",
                        )
                    )
                if recursive:
                    sub_repeats = kohya_repeats(name) or repeats
                    stack.append((entry.path, f"{prefix}{name}/", sub_repeats))
                continue
            stem, dot, ext = name.rpartition(".")
            if not dot:
                continue
            ext = "." + ext.lower()
            if ext in IMAGE_EXTS:
                images.append((entry, stem))
            elif ext == CAPTION_EXT:
                if stem in captions:  # a.txt and a.TXT on a case-sensitive file system
                    warnings.append(
                        ItemResult(path=prefix + name, error="two caption files for one stem")
                    )
                captions.setdefault(stem, entry)
        stems_seen: dict[str, str] = {}
        folder_path = Path(folder)
        for entry, stem in images:
            rel = prefix + entry.name
            if stem in stems_seen:
                warnings.append(
                    ItemResult(
                        path=rel,
                        error=f"same name as {stems_seen[stem]}: both use the caption "
                        f"{stem}{CAPTION_EXT}",
                    )
                )
            else:
                stems_seen[stem] = rel
            try:
                st = entry.stat()
            except OSError as exc:
                errors.append(ItemResult(path=rel, error=_link_message(entry, exc)))
                continue
            what = describe_special(st.st_mode)
            if what is not None:  # never opened: a FIFO would block, a device never ends
                errors.append(
                    ItemResult(path=rel, error=f"it is {what}, not an image file; skipped")
                )
                continue
            cap = captions.get(stem)
            cap_size = cap_mtime = 0
            if cap is not None:
                try:
                    cst = cap.stat()
                    cap_size, cap_mtime = cst.st_size, cst.st_mtime_ns
                except OSError:  # a dangling link or a loop: kept, reading it says why
                    pass
            items.append(
                ImageItem(
                    path=folder_path / entry.name,
                    rel=rel,
                    caption_name=cap.name if cap is not None else stem + CAPTION_EXT,
                    has_caption=cap is not None,
                    repeats=repeats,
                    size_bytes=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    caption_size=cap_size,
                    caption_mtime_ns=cap_mtime,
                )
            )
        folders_done += 1
        report(on_progress, len(items), 0, prefix or ".")
    items.sort(key=lambda item: natural_key(item.rel))
    log.debug("scanned %s: %d images, %d errors", base, len(items), len(errors))
    return ScanResult(root=base, items=items, errors=errors, warnings=warnings)


BAD_NAME = "file name is not valid UTF-8 (e.g. from an old zip archive): rename it to include it"


def _utf8_ok(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes kept as surrogates by os.fsdecode
        return False
    return True


def _printable(name: str) -> str:
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _link_message(entry: os.DirEntry[str], exc: OSError) -> str:
    """Why an entry cannot be stat'ed, naming link problems plainly."""
    try:
        is_link = entry.is_symlink()
    except OSError:
        is_link = False
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link loop; skipped"
    if is_link and isinstance(exc, FileNotFoundError):
        return "it is a link to a file that does not exist; skipped"
    return _os_message(exc)


def _os_message(exc: OSError) -> str:
    if isinstance(exc, PermissionError):
        return "permission denied (check the file's permissions)"
    return f"cannot read: {exc.strerror or exc}"
