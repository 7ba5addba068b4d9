"""Disk cache of thumbnails in ``curation.paths.cache_dir()/thumbs``.

A thumbnail is stored under a hash of the image's path, size and modification time (the
size + mtime test the workspace already uses for captions) and its size bucket, as JPEG
bytes in one SQLite file written in batches (``store.ThumbnailStore``). Finding a cached
thumbnail costs one ``stat`` of the image and one indexed read: no content hashing, no index
to keep, no file to create per thumbnail. An image edited in place gets a new key (its mtime
changes), so a stale thumbnail is never shown; a renamed or copied image is decoded once
more under its new path.

Why not key by content and write one file per thumbnail (as the first version did): hashing
every image and creating a file per thumbnail cost ~0.9 ms of CPU per thumbnail, most of the
app's extra over a ~3.5 ms bare draft decode, and nothing in the app needs the content hash
of a thumbnail (the analysis caches hash the files themselves). See docs/benchmarks.md
(``bench/thumb_cost.py``).

Thread-safe: many decoding workers share one instance.
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
from curation.errors import ImageLoadError, LikenessError
from curation.images import load_image
from desktop.thumbs.store import ThumbnailStore

log = logging.getLogger(__name__)

BUCKETS = (256, 512)
STORE_FILE = "thumbs-v2.sqlite"
JPEG_QUALITY = 85
_OLD_LAYOUT = ("index.tsv", "256", "512")  # the content-hash layout, removed on first use


class ThumbnailError(LikenessError):
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
        self.root = Path(root) if root else paths.cache_dir() / "thumbs"
        self.store = ThumbnailStore(self.root / STORE_FILE)
        self._remove_old_layout()

    def _remove_old_layout(self) -> None:
        """Drop the one-file-per-thumbnail layout of earlier versions (a cache: nothing is
        lost), in the background so that opening the app does not wait for the unlinks."""
        old = [self.root / name for name in _OLD_LAYOUT]
        old = [p for p in old if p.exists() or p.is_symlink()]
        if not old:
            return

        def remove() -> None:
            for path in old:
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)

        threading.Thread(target=remove, name="thumbs-cleanup", daemon=True).start()

    def is_cached(self, path: Path, bucket: int) -> bool:
        """True when a thumbnail of ``path`` as it is now is stored (no decoding)."""
        try:
            return self.store.has(cache_key(path), bucket)
        except ThumbnailError:
            return False

    def flush(self) -> None:
        """Write the thumbnails still queued in memory (the loader calls this when idle)."""
        self.store.flush()

    def close(self) -> None:
        self.store.close()

    # -- get or build -------------------------------------------------------------------
    def get(
        self, path: Path, bucket: int, max_pixels: int | None = None, want_image: bool = True
    ) -> Thumb | None:
        """The thumbnail of ``path`` (built and stored if missing).

        With ``want_image=False`` (background prefetch) a cached thumbnail is not decoded and
        ``None`` is returned once it is stored. Raises ``ThumbnailError``.
        """
        key = cache_key(path)
        if want_image:
            cached = self._read_cached(key, bucket)
            if cached is not None:
                return Thumb(cached, key, True)
        elif self.store.has(key, bucket):
            return None
        image = self.build(path, bucket, key, max_pixels)
        return Thumb(image, key, False) if want_image else None

    def missing(self, paths: list[Path], bucket: int) -> list[str | None]:
        """For each of ``paths``: its cache key when no thumbnail of it as it is now is
        stored, else None (one query for the batch: the background fill's check).

        A file that cannot be stat'ed counts as missing with key "" (building it then
        raises the ``ThumbnailError`` that says why)."""
        keys: list[str] = []
        for path in paths:
            try:
                keys.append(cache_key(path))
            except ThumbnailError:
                keys.append("")
        stored = self.store.present([k for k in keys if k], bucket)
        return [None if k and k in stored else k for k in keys]

    def build(self, path: Path, bucket: int, key: str, max_pixels: int | None = None):
        """Decode ``path``, store its thumbnail under ``key`` and return it (a PIL image).

        ``key`` "" (the file could not be stat'ed): it is looked up again, so the error
        says why. Raises ``ThumbnailError``."""
        if not key:
            key = cache_key(path)
        image = decode_thumbnail(Path(path), bucket, max_pixels)
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=JPEG_QUALITY)
        self.store.put(key, bucket, buf.getvalue())
        return image

    def _read_cached(self, key: str, bucket: int) -> Image.Image | None:
        data = self.store.get(key, bucket)
        if data is None:
            return None
        try:
            im = Image.open(io.BytesIO(data))  # in memory: nothing to close
            im.load()
            return im if im.mode == "RGB" else im.convert("RGB")
        except (OSError, SyntaxError, ValueError) as exc:  # a damaged row: rebuild it
            log.debug("dropping unreadable cached thumbnail %s: %s", key, exc)
            self.store.delete(key, bucket)
            return None


def decode_thumbnail(path: Path, bucket: int, max_pixels: int | None = None) -> Image.Image:
    """Decode ``path`` with the core's safe loader in draft mode and shrink it to ``bucket``.

    Returns the RGB thumbnail; raises ``ThumbnailError`` with the core's message ("cannot
    read: truncated JPEG ...").
    """
    try:
        loaded = load_image(path, max_pixels=max_pixels, draft=(bucket, bucket), hash_content=False)
    except ImageLoadError as exc:
        raise ThumbnailError(str(exc)) from exc
    except MemoryError as exc:
        raise ThumbnailError("cannot read: not enough memory to decode this image") from exc
    image = loaded.image
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((bucket, bucket), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return image
