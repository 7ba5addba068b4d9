"""Disk cache of thumbnails in ``curation.paths.cache_dir()/thumbs``.

A thumbnail file is named by the image's content hash and the size bucket
(``thumbs/256/ab/abcdef....jpg``), so a renamed or copied image reuses its thumbnail and an
edited image gets a new one. The hash comes out of the decode (the core's
loader hashes the bytes it reads), and an append-only index maps ``path|mtime_ns|size`` to
it, so later runs find a thumbnail without reading the image again. (A renamed copy is
decoded once more, but its thumbnail file is shared.)
Thread-safe: many decoding workers share one instance.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from curation import paths
from curation.errors import ImageLoadError, LikenessError
from curation.images import load_image

log = logging.getLogger(__name__)

BUCKETS = (256, 512)
INDEX_FILE = "index.tsv"
JPEG_QUALITY = 85
_MAX_INDEX_LINES = 200_000


class ThumbnailError(LikenessError):
    """An image that cannot be shown as a thumbnail; ``str()`` is the text for the tile."""


def bucket_for(pixels: int) -> int:
    """The smallest cached size that is at least ``pixels`` (the largest one otherwise)."""
    for b in BUCKETS:
        if pixels <= b:
            return b
    return BUCKETS[-1]


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@dataclass
class Thumb:
    image: Image.Image
    content_hash: str
    from_cache: bool


class ThumbnailCache:
    """Get-or-build thumbnails; safe to call from several threads at once."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else paths.cache_dir() / "thumbs"
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._index: dict[str, str] = {}
        self._index_path = self.root / INDEX_FILE
        self._load_index()

    # -- index: path+mtime+size -> content hash ------------------------------------------
    def _load_index(self) -> None:
        try:
            with open(self._index_path, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.warning("Thumbnail index %s unreadable (%s); rebuilding", self._index_path, exc)
            return
        for line in lines:
            key, _, value = line.rpartition("\t")
            if key and len(value) == 32:
                self._index[key] = value
        if len(lines) > _MAX_INDEX_LINES:  # compact: keep the newest entry per key
            tmp = self._index_path.with_suffix(".tmp")
            tmp.write_text("".join(f"{k}\t{v}\n" for k, v in self._index.items()), "utf-8")
            os.replace(tmp, self._index_path)

    def _remember(self, key: str, digest: str) -> None:
        with self._lock:
            if self._index.get(key) == digest:
                return
            self._index[key] = digest
            try:
                with open(self._index_path, "a", encoding="utf-8") as fh:
                    fh.write(f"{key}\t{digest}\n")
            except OSError as exc:
                log.debug("cannot append to thumbnail index: %s", exc)

    @staticmethod
    def stat_key(path: Path) -> str:
        st = os.stat(path)
        return f"{os.fspath(path)}|{st.st_mtime_ns}|{st.st_size}"

    def file_for(self, digest: str, bucket: int) -> Path:
        return self.root / str(bucket) / digest[:2] / f"{digest}.jpg"

    def known_hash(self, path: Path) -> str | None:
        try:
            key = self.stat_key(path)
        except OSError:
            return None
        with self._lock:
            return self._index.get(key)

    # -- get or build -------------------------------------------------------------------
    def get(
        self, path: Path, bucket: int, max_pixels: int | None = None, want_image: bool = True
    ) -> Thumb | None:
        """The thumbnail of ``path`` (built and stored if missing).

        With ``want_image=False`` (background prefetch) a cached thumbnail is not decoded and
        ``None`` is returned once the file is on disk. Raises ``ThumbnailError``.
        """
        try:
            key = self.stat_key(path)
        except FileNotFoundError as exc:
            raise ThumbnailError("cannot read: the file is gone (moved or deleted)") from exc
        except OSError as exc:
            raise ThumbnailError(f"cannot read: {exc.strerror or exc}") from exc
        with self._lock:
            digest = self._index.get(key)
        if digest:
            thumb = self._read_cached(digest, bucket, want_image)
            if thumb is not None or (not want_image and self.file_for(digest, bucket).exists()):
                return thumb
        image, digest = decode_thumbnail(Path(path), bucket, max_pixels)
        self._remember(key, digest)
        if not self.file_for(digest, bucket).exists():
            self._store(digest, bucket, image)
        return Thumb(image, digest, False) if want_image else None

    def _read_cached(self, digest: str, bucket: int, want_image: bool) -> Thumb | None:
        if not want_image:
            return None
        target = self.file_for(digest, bucket)
        try:
            with Image.open(target) as im:
                im.load()
                return Thumb(im.convert("RGB"), digest, True)
        except FileNotFoundError:
            return None
        except (OSError, SyntaxError, ValueError) as exc:  # a damaged cache file: rebuild it
            log.debug("dropping unreadable cached thumbnail %s: %s", target, exc)
            target.unlink(missing_ok=True)
            return None

    def _store(self, digest: str, bucket: int, image: Image.Image) -> None:
        target = self.file_for(digest, bucket)
        tmp = target.with_name(f"{target.stem}.{threading.get_ident()}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            image.save(tmp, "JPEG", quality=JPEG_QUALITY)
            os.replace(tmp, target)
        except OSError as exc:  # a full or read-only cache only costs speed
            log.debug("cannot store thumbnail %s: %s", target, exc)
            tmp.unlink(missing_ok=True)


def decode_thumbnail(
    path: Path, bucket: int, max_pixels: int | None = None
) -> tuple[Image.Image, str]:
    """Decode ``path`` with the core's safe loader in draft mode and shrink it to ``bucket``.

    Returns the RGB thumbnail and the file's content hash; raises ``ThumbnailError`` with
    the core's message ("cannot read: truncated JPEG ...").
    """
    try:
        loaded = load_image(path, max_pixels=max_pixels, draft=(bucket, bucket))
    except ImageLoadError as exc:
        raise ThumbnailError(str(exc)) from exc
    except MemoryError as exc:
        raise ThumbnailError("cannot read: not enough memory to decode this image") from exc
    image = loaded.image
    if image.mode != "RGB":
        image = image.convert("RGB")
    image.thumbnail((bucket, bucket), Image.Resampling.BICUBIC, reducing_gap=2.0)
    return image, loaded.info.content_hash
