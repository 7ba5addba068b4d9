"""Generated test datasets (made at test time; no binaries are committed).

``make_bad_corpus(folder)`` writes one file per awkward case and returns
``{name: Case}`` saying what a correct loader must do with it. ``make_dataset(folder, n)``
writes ``n`` small images with captions, fast (the same bytes for every image unless told).
Other test modules may reuse both.
"""

from __future__ import annotations

import functools
import io
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

UNICODE_NAME = "Zoë 日本語 ✓"


@dataclass(frozen=True)
class Case:
    path: Path
    error: str | None = None  # substring of the ImageLoadError message, None: loads fine
    note: str | None = None  # substring of a note the loader must add


def _noise(w: int, h: int, seed: int = 0, mode: str = "RGB") -> Image.Image:
    rng = np.random.default_rng(seed)
    channels = len(mode) if mode != "L" else 1
    arr = rng.integers(0, 256, size=(h, w, channels) if channels > 1 else (h, w), dtype=np.uint8)
    return Image.fromarray(arr, mode if mode in ("RGB", "L", "RGBA") else None)


def jpeg_bytes(w: int = 256, h: int = 192, seed: int = 0, **save: object) -> bytes:
    buf = io.BytesIO()
    _noise(w, h, seed).save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.lru_cache(maxsize=4)
def bomb_png(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 1-bit PNG of width x height that is tiny on disk (all zeros)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    block = b"\x00" * (1 + (width + 7) // 8) * 500  # 500 rows at a time
    comp = zlib.compressobj(1)
    parts = [comp.compress(block) for _ in range(height // 500)]
    parts.append(comp.compress(b"\x00" * (1 + (width + 7) // 8) * (height % 500)))
    parts.append(comp.flush())
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", b"".join(parts))
        + png_chunk(b"IEND", b"")
    )


def exif_rotated_jpeg(path: Path) -> None:
    """Stored 60x40: left half red, right half blue, EXIF orientation 6 (display rotated
    90 degrees clockwise: 40x60, red on top)."""
    img = Image.new("RGB", (60, 40), (255, 0, 0))
    img.paste((0, 0, 255), (30, 0, 60, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(path, "JPEG", quality=95, exif=exif.tobytes())


def make_bad_corpus(folder: Path) -> dict[str, Case]:
    folder.mkdir(parents=True, exist_ok=True)
    cases: dict[str, Case] = {}

    def add(name: str, data: bytes | None = None, **kw: object) -> Path:
        path = folder / name
        if data is not None:
            path.write_bytes(data)
        cases[name] = Case(path, **kw)  # type: ignore[arg-type]
        return path

    good = jpeg_bytes(256, 192, seed=1)
    add("truncated.jpg", good[: len(good) * 6 // 10], error="cannot read: truncated JPEG")
    add("empty.png", b"", error="empty file (0 bytes)")
    add("text.png", b"this is not a picture\n", error="not an image: the file is text named .png")
    add("page.jpg", b"<!DOCTYPE html><html><body>404</body></html>", error="web page (HTML)")

    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in CMYK
    buf = io.BytesIO()
    cmyk.save(buf, "JPEG", quality=95)
    add("cmyk.jpg", buf.getvalue(), note="CMYK")

    grad = np.tile(np.linspace(0, 65535, 256).astype(np.uint16), (64, 1))
    buf = io.BytesIO()
    Image.fromarray(grad).save(buf, "PNG")
    add("grey16.png", buf.getvalue(), note="16-bit")

    pal = Image.new("P", (16, 16), 0)
    pal.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    pal.paste(1, (8, 0, 16, 16))  # right half red, left half index 0 = transparent
    buf = io.BytesIO()
    pal.save(buf, "PNG", transparency=0)
    add("palette_transparent.png", buf.getvalue(), note="transparent")

    frames = [Image.new("RGB", (20, 20), c) for c in ((0, 255, 0), (255, 0, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    gif = add("animated.gif", buf.getvalue(), note="animated")
    del gif  # .gif is not a dataset extension; loaders still read it (probing a stray GIF)

    buf = io.BytesIO()  # an animated file with a dataset extension
    frames[0].save(
        buf, "WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True
    )
    add("animated.webp", buf.getvalue(), note="animated")

    buf = io.BytesIO()
    Image.new("RGB", (1, 1), (10, 20, 30)).save(buf, "PNG")
    add("one_pixel.png", buf.getvalue())

    add("bomb.png", bomb_png(), error="20000x20000 = 400 MP, over the 150 MP limit")

    exif_rotated_jpeg(folder / "exif_rotated.jpg")
    cases["exif_rotated.jpg"] = Case(folder / "exif_rotated.jpg", note="orientation 6")

    la = Image.new("LA", (10, 10), (0, 0))  # fully transparent black
    buf = io.BytesIO()
    la.save(buf, "PNG")
    add("la_transparent.png", buf.getvalue(), note="transparent")

    rgba = Image.new("RGBA", (10, 10), (0, 0, 255, 255))
    rgba.paste((0, 0, 0, 0), (0, 0, 5, 10))
    buf = io.BytesIO()
    rgba.save(buf, "PNG")
    add("rgba_half.png", buf.getvalue(), note="transparent")

    buf = io.BytesIO()
    Image.fromarray(grad).save(buf, "TIFF")
    add("grey16.tif", buf.getvalue(), note="16-bit")

    buf = io.BytesIO()
    _noise(40, 30, 3).save(buf, "WEBP")
    add("upper.WEBP", buf.getvalue())
    buf = io.BytesIO()
    _noise(40, 30, 4).save(buf, "BMP")
    add("plain.bmp", buf.getvalue())
    add("wrong_ext.png", jpeg_bytes(32, 32, seed=5), note="file is JPEG but named .png")

    buf = io.BytesIO()
    Image.new("RGB", (24, 16), (0, 128, 0)).save(buf, "PNG")
    add(f"{UNICODE_NAME}.png", buf.getvalue())
    (folder / f"{UNICODE_NAME}.txt").write_text("ünïcödé caption", encoding="utf-8")

    # captions in awkward encodings, paired with a valid image each
    one = Image.new("RGB", (8, 8), (200, 200, 200))
    for stem, raw in (
        ("latin1", "café, naïve, 50°".encode("latin-1")),
        ("utf16", "ñandú, 日本".encode("utf-16")),
        ("utf8bom", "\ufeffsmiling, bob".encode()),
    ):
        one.save(folder / f"{stem}.png")
        (folder / f"{stem}.txt").write_bytes(raw)
        cases[f"{stem}.png"] = Case(folder / f"{stem}.png")
    return cases


def make_dataset(
    folder: Path,
    n: int,
    captions: bool = True,
    caption: str = "photo of l3yla, smiling, red scarf, red scarf",
    size: tuple[int, int] = (16, 16),
    distinct: bool = False,
) -> list[Path]:
    """``n`` images ``img00000.png`` ... with captions (same bytes unless ``distinct``)."""
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", size, (120, 80, 60)).save(buf, "PNG")
    data = buf.getvalue()
    paths = []
    for i in range(n):
        path = folder / f"img{i:05d}.png"
        if distinct:
            buf = io.BytesIO()
            Image.new("RGB", size, (i % 256, (i // 256) % 256, 60)).save(buf, "PNG")
            data = buf.getvalue()
        path.write_bytes(data)
        if captions:
            path.with_suffix(".txt").write_text(f"{caption} {i}", encoding="utf-8")
        paths.append(path)
    return paths


def hash_tree(folder: Path, suffixes: tuple[str, ...] | None = None) -> dict[str, str]:
    """rel path -> blake2b of bytes, for every file (optionally filtered by suffix)."""
    import hashlib

    out = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and ".likeness" not in path.parts:
            if suffixes is None or path.suffix.lower() in suffixes:
                out[path.relative_to(folder).as_posix()] = hashlib.blake2b(
                    path.read_bytes()
                ).hexdigest()
    return out


def make_hostile_dataset(ds: Path, outside: Path) -> dict[str, str]:
    """A dataset of entries that once broke the "never modify, never lose" promise: links
    (out of the folder, inside, dangling, loops, to devices), FIFOs, a socket, folders named
    like files, an oversized caption, undecodable and 255-byte names, a read-only caption, a
    hard link to a file outside, a linked subfolder and a dead writer's temp file. Returns
    ``{entry name: kind}``. ``outside`` receives the files the links point to; a correct app
    never changes a byte there."""
    import os
    import socket

    ds.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    make_dataset(ds, 6, caption="photo of ohwx")
    make_dataset(outside / "shared", 2, caption="outside")
    (outside / "secret.txt").write_text("someone else's text")
    (outside / "hard.txt").write_text("hard-linked text")
    png = (ds / "img00000.png").read_bytes()
    kinds: dict[str, str] = {}

    def image(name: str, kind: str, caption: str | None = None) -> Path:
        (ds / name).write_bytes(png)
        if caption is not None:
            (ds / name).with_suffix(".txt").write_text(caption)
        kinds[name] = kind
        return ds / name

    image("cap_out.png", "caption links outside")
    (ds / "cap_out.txt").symlink_to(outside / "secret.txt")
    image("cap_dangling.png", "caption is a dangling link to outside")
    (ds / "cap_dangling.txt").symlink_to(outside / "made-by-link.txt")
    image("cap_inside.png", "caption links to another caption")
    (ds / "cap_inside.txt").symlink_to("img00001.txt")
    image("cap_loop.png", "caption is a link loop")
    (ds / "cap_loop.txt").symlink_to("cap_loop.txt")
    image("cap_zero.png", "caption links to /dev/zero")
    (ds / "cap_zero.txt").symlink_to("/dev/zero")
    image("cap_folder.png", "caption is a folder")
    (ds / "cap_folder.txt").mkdir()
    image("cap_big.png", "caption over 64 KB")
    (ds / "cap_big.txt").write_bytes(b"x" * 100_000)
    image("cap_ro.png", "read-only caption", caption="read only text")
    (ds / "cap_ro.txt").chmod(0o444)
    image("cap_hard.png", "caption hard-linked to a file outside")
    os.link(outside / "hard.txt", ds / "cap_hard.txt")
    (ds / "img_dangling.png").symlink_to(outside / "nothing.png")
    kinds["img_dangling.png"] = "image is a dangling link"
    (ds / "img_loop.png").symlink_to("img_loop.png")
    kinds["img_loop.png"] = "image is a link loop"
    (ds / "img_zero.png").symlink_to("/dev/zero")
    kinds["img_zero.png"] = "image links to a device"
    (ds / "img_folder.png").mkdir()
    kinds["img_folder.png"] = "folder named like an image"
    (ds / "linked").symlink_to(outside / "shared", target_is_directory=True)
    kinds["linked"] = "subfolder links outside"
    with open(os.fsencode(str(ds)) + b"/bad\xff.png", "wb") as fh:
        fh.write(png)
    kinds["bad?.png"] = "undecodable name"
    image("n" * 251 + ".png", "255-byte caption name")
    (ds / ".likeness-tmp-4999999-dead").write_text("left by a killed writer")
    kinds[".likeness-tmp-4999999-dead"] = "temp file of a dead process"
    if hasattr(os, "mkfifo"):
        os.mkfifo(ds / "fifo.png")
        kinds["fifo.png"] = "image is a FIFO"
        image("cap_fifo.png", "caption is a FIFO")
        os.mkfifo(ds / "cap_fifo.txt")
    if hasattr(socket, "AF_UNIX") and len(str(ds / "sock.png")) < 100:
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(ds / "sock.png"))
        sock.close()
        kinds["sock.png"] = "image is a socket"
    return kinds
