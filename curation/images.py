"""Safe image loading and probing.

Every image Likeness decodes goes through :func:`load_image` (or :func:`probe_image`), which:

- reads the file once, hashing its bytes (blake2b-128) for caches keyed by content;
- refuses images over a pixel limit *from the header, before decoding* (decompression-bomb
  guard; default 150 MP, adjustable with :func:`set_default_max_pixels`, or per call);
- applies the EXIF orientation;
- turns CMYK (through its ICC profile when it has one), 16-bit and 32-bit grey (scaled, not
  clipped: a 16-bit grey image never comes out white), palette, LA/RGBA into 8-bit RGB.
  Transparent pixels are composited **on white** (what a person expects to see behind a cut-out;
  trainers that drop the alpha channel may see black or garbage there, so ``notes`` says so);
  ``keep_alpha=True`` returns RGBA instead;
- uses frame 0 of animated files, with a note;
- turns every failure into :class:`ImageLoadError` with a message a user can act on
  ("cannot read: truncated JPEG", "not an image: the file is text named .png",
  "empty file (0 bytes)").

Pillow's own decompression-bomb check is switched off (``Image.MAX_IMAGE_PIXELS = None``)
because it raises before the size is known; the check here is stricter (it fires at 1x the
limit, not Pillow's 2x) and its message names the size. Decode images through this module.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from curation.errors import ImageLoadError
from curation.fsio import WriteRefused, open_regular
from curation.jobs import CancelToken, ItemResult, ProgressFn, report

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "ImageInfo",
    "ImageLoadError",
    "LoadedImage",
    "file_hash",
    "get_default_max_pixels",
    "load_image",
    "probe_image",
    "probe_images",
    "set_default_max_pixels",
]

log = logging.getLogger(__name__)

Image.MAX_IMAGE_PIXELS = None  # the guard is enforced below, from the header, at 1x the limit
DEFAULT_MAX_PIXELS = 150_000_000
_max_pixels = DEFAULT_MAX_PIXELS
_HASH_CHUNK = 1 << 20

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_EXT_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".png": "PNG",
    ".webp": "WEBP",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".gif": "GIF",
}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


@dataclass(frozen=True)
class ImageInfo:
    """What Likeness records about an image file. Width and height are as displayed (after
    the EXIF orientation); ``format`` is the real format, whatever the file extension says."""

    width: int
    height: int
    format: str
    mode: str
    size_bytes: int
    content_hash: str
    notes: tuple[str, ...] = ()
    orientation: int = 1
    has_alpha: bool = False
    animated: bool = False

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1e6


@dataclass
class LoadedImage:
    image: Image.Image  # 8-bit RGB (or RGBA with keep_alpha=True)
    info: ImageInfo
    notes: list[str] = field(default_factory=list)  # the same notes, for convenience


def set_default_max_pixels(pixels: int) -> None:
    """Set the decompression-bomb limit (Preferences). 0 disables the limit."""
    global _max_pixels
    if pixels < 0:
        raise ValueError("max pixels must be >= 0")
    _max_pixels = int(pixels)


def get_default_max_pixels() -> int:
    return _max_pixels


def file_hash(path: str | os.PathLike[str]) -> str:
    """blake2b-128 of the file bytes, hex (fast: ~1 GB/s)."""
    digest = hashlib.blake2b(digest_size=16)
    with open_regular(path) as fh:  # never blocks on a FIFO
        while chunk := fh.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _bytes_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _read(path: Path) -> bytes:
    with _opened(path) as (fh, _size):
        try:
            data = fh.read()
        except OSError as exc:  # e.g. EIO on a failing disk
            raise ImageLoadError(f"cannot read: {exc.strerror or exc}") from exc
    if not data:
        raise ImageLoadError("empty file (0 bytes)")
    return data


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[tuple[BinaryIO, int]]:
    """The file open for reading and its size, with every failure as ``ImageLoadError``."""
    try:
        fh = open_regular(path)  # never blocks on a FIFO, never reads a device
    except FileNotFoundError as exc:
        raise ImageLoadError(f"file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ImageLoadError(f"not an image: {path} is a folder") from exc
    except WriteRefused as exc:
        raise ImageLoadError(f"not an image: {exc.reason}") from exc
    except PermissionError as exc:
        raise ImageLoadError(
            "cannot read: permission denied (check the file's permissions)"
        ) from exc
    except OSError as exc:
        raise ImageLoadError(f"cannot read: {exc.strerror or exc}") from exc
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
        except OSError as exc:
            raise ImageLoadError(f"cannot read: {exc.strerror or exc}") from exc
        yield fh, size


def _describe_non_image(data: bytes, ext: str) -> str:
    head = data[:4096]
    named = f"named {ext}" if ext else "without an extension"
    stripped = head.lstrip().lower()
    if head.startswith(b"%PDF"):
        kind = "a PDF"
    elif head.startswith(b"PK\x03\x04"):
        kind = "a ZIP archive"
    elif stripped.startswith((b"<!doctype html", b"<html")):
        kind = "a web page (HTML)"
    elif head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
        return f"not an image Likeness can read: the file is HEIC/HEIF {named} (convert it to PNG or JPEG)"
    elif head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return (
            f"not an image Likeness can read: the file is AVIF {named} (convert it to PNG or JPEG)"
        )
    elif _looks_like_text(head):
        kind = "text"
    else:
        kind = "unrecognised data"
    return f"not an image: the file is {kind} {named}"


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return head.startswith((b"\xff\xfe", b"\xfe\xff"))  # UTF-16 text with a BOM
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a multi-byte char cut by the 4 KiB slice
            try:
                head.decode("cp1252")
            except UnicodeDecodeError:
                return False
    return True


def _open(source: BinaryIO, path: Path, size: int) -> Image.Image:
    """``Image.open`` of ``source`` (the file or its bytes); a failure names what the file is."""
    try:
        return Image.open(source)
    except UnidentifiedImageError as exc:
        raise ImageLoadError(_describe_non_image(_head(source), path.suffix.lower())) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # header present but broken
        head = _head(source)
        if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
            if size < int.from_bytes(head[4:8], "little") + 8:
                raise _decode_error(EOFError(), "WEBP") from exc
            raise ImageLoadError(f"cannot read: corrupt WEBP ({exc})") from exc
        raise ImageLoadError(f"cannot read: broken image header ({exc})") from exc


def _head(source: BinaryIO) -> bytes:
    """The first 4 KiB of ``source`` (for describing a file that is not an image)."""
    try:
        source.seek(0)
        return source.read(4096)
    except (OSError, ValueError):
        return b""


def _format_mp(pixels: int) -> str:
    mp = pixels / 1e6
    return f"{mp:.0f}" if mp >= 10 else f"{mp:.1f}"


def _check_size(im: Image.Image, max_pixels: int | None) -> None:
    limit = _max_pixels if max_pixels is None else max_pixels
    w, h = im.size
    if w <= 0 or h <= 0:
        raise ImageLoadError(f"cannot read: the header says the image is {w}x{h}")
    if limit and w * h > limit:
        raise ImageLoadError(
            f"image is {w}x{h} = {_format_mp(w * h)} MP, over the {_format_mp(limit)} MP limit; "
            "raise it in Preferences (CLI: --max-megapixels) if you trust this file"
        )


def _orientation(im: Image.Image, loaded: bool = False) -> int:
    if im.format == "PNG" and "exif" not in im.info and not loaded:
        return 1  # PNG getexif() would decode the whole image (and hide its errors)
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 - broken EXIF must not make the image unreadable
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _decode_error(exc: BaseException, fmt: str) -> ImageLoadError:
    text = str(exc)
    if isinstance(exc, EOFError) or "truncated" in text.lower() or "Truncated" in text:
        return ImageLoadError(
            f"cannot read: truncated {fmt} (the file is incomplete: re-export or re-download it)"
        )
    return ImageLoadError(f"cannot read: corrupt {fmt} ({text or type(exc).__name__})")


def _header_notes(im: Image.Image, path: Path, orientation: int) -> list[str]:
    notes: list[str] = []
    expected = _EXT_FORMATS.get(path.suffix.lower())
    if expected and im.format and im.format != expected:
        notes.append(f"file is {im.format} but named {path.suffix}")
    if getattr(im, "is_animated", False):
        notes.append("animated: using the first frame")
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        notes.append("16-bit: scaled to 8-bit")
    elif im.mode == "F":
        notes.append("32-bit float: scaled to 8-bit")
    elif im.mode == "CMYK":
        notes.append("CMYK: converted to RGB")
    if orientation != 1:
        notes.append(f"EXIF orientation {orientation} applied")
    return notes


def _has_alpha(im: Image.Image) -> bool:
    return im.mode in _ALPHA_MODES or "transparency" in im.info


def _info(
    im: Image.Image,
    size_bytes: int,
    content_hash: str,
    orientation: int,
    notes: list[str],
    size: tuple[int, int] | None = None,
    mode: str | None = None,
) -> ImageInfo:
    w, h = size or im.size
    if orientation in (5, 6, 7, 8):
        w, h = h, w
    return ImageInfo(
        width=w,
        height=h,
        format=im.format or "unknown",
        mode=mode or im.mode,
        size_bytes=size_bytes,
        content_hash=content_hash,
        notes=tuple(notes),
        orientation=orientation,
        has_alpha=_has_alpha(im),
        animated=bool(getattr(im, "is_animated", False)),
    )


def _to_8bit_grey(im: Image.Image) -> Image.Image:
    arr = np.asarray(im)
    if im.mode == "F":
        arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
        scale = 255.0 if arr.size and arr.max() <= 1.0 else 1.0
        out = np.clip(arr * scale + 0.5, 0, 255)
    else:  # I;16* (0..65535) or I (a 16-bit source decoded into 32-bit ints)
        arr = np.clip(arr.astype(np.int64), 0, 65535)
        out = (arr * 255 + 32767) // 65535
    return Image.fromarray(out.astype(np.uint8), "L")


def _cmyk_to_rgb(im: Image.Image) -> Image.Image:
    icc = im.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            dst = ImageCms.createProfile("sRGB")
            out = ImageCms.profileToProfile(im, src, dst, outputMode="RGB")
            if out is not None:  # None only with inPlace=True
                return out
        except Exception as exc:  # noqa: BLE001 - fall back to the plain conversion
            log.debug("ICC conversion failed, using plain CMYK->RGB: %s", exc)
    return im.convert("RGB")


def _normalise(im: Image.Image) -> Image.Image:
    """Any mode -> RGB or RGBA (8-bit)."""
    mode = im.mode
    if mode in ("RGB", "RGBA"):
        if mode == "RGB" and "transparency" in im.info:
            return im.convert("RGBA")
        return im
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _to_8bit_grey(im).convert("RGB")
    if mode == "CMYK":
        return _cmyk_to_rgb(im)
    if mode in ("P", "L", "1") and "transparency" in im.info:
        return im.convert("RGBA")
    if mode in _ALPHA_MODES:
        return im.convert("RGBA")
    try:
        return im.convert("RGB")
    except ValueError as exc:  # e.g. LAB TIFFs
        raise ImageLoadError(
            f"cannot read: {mode} colour is not supported (save the file as RGB)"
        ) from exc


def _flatten(im: Image.Image, keep_alpha: bool, notes: list[str]) -> Image.Image:
    if im.mode != "RGBA":
        return im
    lo, _hi = im.getchannel("A").getextrema()
    if lo == 255:
        return im.convert("RGB")
    if keep_alpha:
        return im
    notes.append("transparent: shown on white (trainers that drop alpha may see black there)")
    background = Image.new("RGB", im.size, (255, 255, 255))
    background.paste(im, mask=im.getchannel("A"))
    return background


def load_image(
    path: str | os.PathLike[str],
    max_pixels: int | None = None,
    draft: tuple[int, int] | None = None,
    keep_alpha: bool = False,
    hash_content: bool = True,
) -> LoadedImage:
    """Decode ``path`` into an 8-bit RGB image, safely (see the module docstring).

    ``draft=(w, h)``: a fast downscaling path for thumbnails. The result is at least about
    ``w x h`` (aspect ratio kept, never upscaled) and at most about twice that: JPEGs decode at
    1/2, 1/4 or 1/8 scale (libjpeg DCT scaling), then an integer box ``reduce``. Resize the
    result to the exact size yourself. ``info`` always describes the full-size file.
    ``hash_content=False`` skips hashing the bytes (``info.content_hash`` is then ""), for
    callers that key nothing by content (the thumbnail cache: ~0.25 ms of a ~3 ms decode).
    Raises :class:`ImageLoadError`.
    """
    path = Path(path)
    if hash_content:
        data = _read(path)
        return _load(
            _open(io.BytesIO(data), path, len(data)),
            path,
            len(data),
            _bytes_hash(data),
            max_pixels,
            draft,
            keep_alpha,
        )
    # nothing to hash: decode straight from the file (no copy of it in memory, ~0.1 ms less
    # per thumbnail, see bench/thumb_cost.py)
    with _opened(path) as (fh, size):
        if size == 0:
            raise ImageLoadError("empty file (0 bytes)")
        return _load(_open(fh, path, size), path, size, "", max_pixels, draft, keep_alpha)


def _load(
    im: Image.Image,
    path: Path,
    size_bytes: int,
    content_hash: str,
    max_pixels: int | None,
    draft: tuple[int, int] | None,
    keep_alpha: bool,
) -> LoadedImage:
    with im:
        _check_size(im, max_pixels)
        fmt = im.format or "image"
        header_size, header_mode = im.size, im.mode
        orientation = _orientation(im) if fmt == "JPEG" else 1
        dw, dh = 1, 1
        if draft:
            dw, dh = (draft[1], draft[0]) if orientation in (5, 6, 7, 8) else draft
            if fmt == "JPEG":
                try:
                    im.draft(im.mode, (max(1, dw), max(1, dh)))
                except Exception as exc:  # noqa: BLE001 - draft is only an optimisation
                    log.debug("draft failed for %s: %s", path, exc)
        try:
            if getattr(im, "is_animated", False):
                im.seek(0)
            im.load()
            if fmt != "JPEG":
                orientation = _orientation(im, loaded=True)
                if draft and orientation in (5, 6, 7, 8):
                    dw, dh = draft[1], draft[0]
            notes = _header_notes(im, path, orientation)
            info = _info(im, size_bytes, content_hash, orientation, notes, header_size, header_mode)
            out = _normalise(im)
            if draft:
                factor = min(out.width // max(1, dw), out.height // max(1, dh))
                if factor >= 2:
                    out = out.reduce(factor)
            method = _TRANSPOSE.get(orientation)
            if method is not None:
                out = out.transpose(method)
            out = _flatten(out, keep_alpha, notes)
            # ``out`` may be ``im`` itself: leaving ``with`` only drops its file pointer, the
            # decoded pixels stay usable (Pillow >= 10), so no copy
        except ImageLoadError:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            raise _decode_error(exc, fmt) from exc
        except RuntimeError as exc:
            raise ImageLoadError(f"cannot read: corrupt {fmt} ({exc})") from exc
        except MemoryError as exc:
            raise ImageLoadError(f"cannot read: not enough memory to decode this {fmt}") from exc
    if tuple(notes) != info.notes:
        info = ImageInfo(**{**info.__dict__, "notes": tuple(notes)})
    return LoadedImage(image=out, info=info, notes=list(notes))


def _check_png_chunks(data: bytes) -> None:
    """Walk every PNG chunk checking its CRC up to IEND (what Pillow's verify() does,
    without a second open: ~10x cheaper for small files). Raises ImageLoadError."""
    view = memoryview(data)
    pos, size = 8, len(data)
    while pos + 12 <= size:
        length = int.from_bytes(view[pos : pos + 4], "big")
        kind = bytes(view[pos + 4 : pos + 8])
        end = pos + 12 + length
        if end > size:
            break
        if zlib.crc32(view[pos + 4 : pos + 8 + length]) != int.from_bytes(
            view[pos + 8 + length : end], "big"
        ):
            name = kind.decode("latin-1", "replace")
            raise ImageLoadError(f"cannot read: corrupt PNG (bad checksum in the {name} chunk)")
        if kind == b"IEND":
            return
        pos = end
    raise _decode_error(EOFError(), "PNG")


def _jpeg_ends_cleanly(data: bytes) -> bool:
    """True when the file ends with the JPEG end-of-image marker (zero padding allowed).
    Inside entropy-coded data every 0xFF is stuffed, so FF D9 at the very end is the marker."""
    return data.rstrip(b"\x00").endswith(b"\xff\xd9")


def probe_image(
    path: str | os.PathLike[str], max_pixels: int | None = None, thorough: bool = False
) -> ImageInfo:
    """Header parse plus a cheap integrity check; raises :class:`ImageLoadError`.

    - JPEG: a file that ends with its end-of-image marker passes without decoding (catches
      every truncated download or copy); one that does not is decoded at 1/8 scale, which
      tells a real truncation from harmless trailing bytes. ``thorough=True`` always decodes
      (1/8 scale: the entropy decoder still reads every byte, so corruption in the middle
      of the file is found too, ~1.5x cheaper than a full decode).
    - PNG: every chunk's CRC is checked up to IEND (no inflate); ``thorough`` decodes fully.
    - Other formats (WebP, BMP, TIFF): a full decode.
    """
    path = Path(path)
    data = _read(path)
    im = _open(io.BytesIO(data), path, len(data))
    with im:
        _check_size(im, max_pixels)
        orientation = _orientation(im)
        notes = _header_notes(im, path, orientation)
        info = _info(im, len(data), _bytes_hash(data), orientation, notes)
        try:
            if im.format == "PNG" and not thorough:
                _check_png_chunks(data)
            elif im.format == "JPEG" and not thorough and _jpeg_ends_cleanly(data):
                pass
            else:
                if im.format == "JPEG":
                    im.draft(im.mode, (1, 1))
                if getattr(im, "is_animated", False):
                    im.seek(0)
                im.load()
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            raise _decode_error(exc, info.format) from exc
        except RuntimeError as exc:
            raise ImageLoadError(f"cannot read: corrupt {info.format} ({exc})") from exc
        except MemoryError as exc:
            raise ImageLoadError(
                f"cannot read: not enough memory to decode this {info.format}"
            ) from exc
    return info


def probe_images(
    paths: Sequence[str | os.PathLike[str]],
    max_pixels: int | None = None,
    on_progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    workers: int | None = None,
    thorough: bool = False,
) -> list[ItemResult]:
    """Probe many images (threads: Pillow releases the GIL while decoding). One
    ``ItemResult(path, value=ImageInfo | None, error=str | None)`` per path, in order. Items
    not reached because of ``cancel`` get the error "cancelled"."""
    total = len(paths)
    results: list[ItemResult | None] = [None] * total
    workers = workers or min(4, os.cpu_count() or 1)

    def one(index: int) -> None:
        path = paths[index]
        if cancel is not None and cancel.cancelled:
            results[index] = ItemResult(path=str(path), error="cancelled")
            return
        try:
            results[index] = ItemResult(
                path=str(path), value=probe_image(path, max_pixels, thorough)
            )
        except ImageLoadError as exc:
            results[index] = ItemResult(path=str(path), error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a bad file must never end the batch
            log.exception("unexpected error probing %s", path)
            results[index] = ItemResult(path=str(path), error=f"cannot read: {exc}")

    done = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for _ in pool.map(one, range(total)):
            done += 1
            report(on_progress, done, total, "")
    return [r for r in results if r is not None]
