"""Disk cache of thumbnails in ``curation.paths.cache_dir()/thumbs``.

A thumbnail file is named by a hash of the image's path, size and modification time (the
size + mtime test the workspace already uses for captions) and the size bucket
(``thumbs/v2/256/ab/abcdef....jpg``). Finding a cached thumbnail costs one ``stat`` of the
image and one open of the cache file: no content hashing and no index to keep. An image
edited in place gets a new key (its mtime changes), so a stale thumbnail is never shown; a
renamed or copied image is decoded once more under its new path.

Why not key by content (as the first version did): hashing every file and appending to a
path -> hash index cost ~0.5 ms of CPU per thumbnail on top of a ~3 ms draft decode, and
nothing in the app needs the content hash of a thumbnail (the analysis caches hash the files
themselves). See docs/benchmarks.md.

Thread-safe: many decoding workers share one instance; two app instances may share the
folder (each file is written to a temp name and renamed into place).
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from curation import paths
from curation.errors import ImageLoadError
from curation.images import load_image

log = logging.getLogger(__name__)

BUCKETS = (256, 512)
LAYOUT = "v2"  # thumbs/v2/<bucket>/<key[:2]>/<key>.jpg
JPEG_QUALITY = 85
_OLD_LAYOUT = ("index.tsv", "256", "512")  # the content-hash layout, removed on first use


class ThumbnailError(Exception):
    """An image that cannot be shown as a thumbnail; ``str()`` is the text for the tile."""


def bucket_for(pixels: int) -> int:
    """The smallest cached size that is at least ``pixels`` (the largest one otherwise)."""
    for b in BUCKETS:
        if pixels <= b:
            return b
    return BUCKETS[-1]


def cache_key(path: Path) -> str:
    """The cache key of ``path`` as it is now: a hash of its path, size and mtime.

    Raises ``ThumbnailError`` when the file cannot be stat'ed."""
    try:
        st = os.stat(path)
    except FileNotFoundError as exc:
        raise ThumbnailError("cannot read: the file is gone (moved or deleted)") from exc
    except OSError as exc:
        raise ThumbnailError(f"cannot read: {exc.strerror or exc}") from exc
    raw = f"{os.fspath(path)}\0{st.st_size}\0{st.st_mtime_ns}".encode("utf-8", "surrogateescape")
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


@dataclass
class Thumb:
    image: Image.Image
    key: str  # the cache key (path + size + mtime), see ``cache_key``
    from_cache: bool


class ThumbnailCache:
    """Get-or-build thumbnails; safe to call from several threads at once."""

    def __init__(self, root: Path | None = None) -> None:
        self.base = Path(root) if root else paths.cache_dir() / "thumbs"
        self.root = self.base / LAYOUT
        self.root.mkdir(parents=True, exist_ok=True)
        self._dirs: set[Path] = set()  # bucket/xx folders known to exist
        self._remove_old_layout()

    def _remove_old_layout(self) -> None:
        """Drop the thumbnails of the content-hash layout (a cache: nothing is lost), in the
        background so that opening the app does not wait for thousands of unlinks."""
        old = [self.base / name for name in _OLD_LAYOUT if (self.base / name).exists()]
        if not old:
            return

        def remove() -> None:
            for path in old:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

        threading.Thread(target=remove, name="thumbs-cleanup", daemon=True).start()

    def file_for(self, key: str, bucket: int) -> Path:
        return self.root / str(bucket) / key[:2] / f"{key}.jpg"

    def is_cached(self, path: Path, bucket: int) -> bool:
        """True when a thumbnail of ``path`` as it is now is on disk (no decoding)."""
        try:
            return self.file_for(cache_key(path), bucket).is_file()
        except ThumbnailError:
            return False

    # -- get or build -------------------------------------------------------------------
    def get(
        self, path: Path, bucket: int, max_pixels: int | None = None, want_image: bool = True
    ) -> Thumb | None:
        """The thumbnail of ``path`` (built and stored if missing).

        With ``want_image=False`` (background prefetch) a cached thumbnail is not decoded and
        ``None`` is returned once the file is on disk. Raises ``ThumbnailError``.
        """
        key = cache_key(path)
        target = self.file_for(key, bucket)
        if want_image:
            cached = self._read_cached(target)
            if cached is not None:
                return Thumb(cached, key, True)
        elif os.path.isfile(target):
            return None
        image = decode_thumbnail(Path(path), bucket, max_pixels)
        self._store(target, image)
        return Thumb(image, key, False) if want_image else None

    @staticmethod
    def _read_cached(target: Path) -> Image.Image | None:
        try:
            with Image.open(target) as im:
                im.load()
                return im.convert("RGB") if im.mode != "RGB" else im.copy()
        except FileNotFoundError:
            return None
        except (OSError, SyntaxError, ValueError) as exc:  # a damaged cache file: rebuild it
            log.debug("dropping unreadable cached thumbnail %s: %s", target, exc)
            target.unlink(missing_ok=True)
            return None

    def _store(self, target: Path, image: Image.Image) -> None:
        """Write ``image`` to ``target`` atomically (temp name + rename: a reader never sees
        half a file). No fsync: a thumbnail lost in a crash is simply decoded again."""
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=JPEG_QUALITY)
        tmp = target.with_name(f"{target.stem}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            folder = target.parent
            if folder not in self._dirs:
                folder.mkdir(parents=True, exist_ok=True)
                self._dirs.add(folder)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            try:
                os.write(fd, buf.getbuffer())
            finally:
                os.close(fd)
            os.replace(tmp, target)
        except OSError as exc:  # a full or read-only cache only costs speed
            log.debug("cannot store thumbnail %s: %s", target, exc)
            self._dirs.discard(target.parent)
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass


def decode_thumbnail(path: Path, bucket: int, max_pixels: int | None = None) -> Image.Image:
    """Decode ``path`` with the core's safe loader in draft mode and shrink it to ``bucket``.

    Returns the RGB thumbnail; raises ``ThumbnailError`` with the core's message ("cannot
    read: truncated JPEG ...").
    """
    try:
        loaded = load_image(
            path, max_pixels=max_pixels, draft=(bucket, bucket), hash_content=False
        )
    except ImageLoadError as exc:
        raise ThumbnailError(str(exc)) from exc
    except MemoryError as exc:
        raise ThumbnailError("cannot read: not enough memory to decode this image") from exc
    image = loaded.image
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((bucket, bucket), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return image
