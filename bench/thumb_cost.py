"""Benchmark: where the CPU of one cached thumbnail goes, step by step, against bare PIL.

One thread, CPU time of that thread (``time.thread_time``: robust to other processes on a
shared machine), the steps interleaved image by image in a rotating order so that a load
that changes during the run hits every step alike. Each step includes the previous ones:

  bare            PIL: open the path, draft to 256, load, thumbnail (the bench's baseline)
  bytes           the same from the file's bytes in memory (what the safe loader does)
  load_image      ``curation.images.load_image(draft=..., hash_content=False)``
  + hash          the same hashing the bytes (blake2b, the cache key of the first version)
  decode_thumb    ``desktop.thumbs.cache.decode_thumbnail`` (load_image + RGB + thumbnail)
  + encode        ... + JPEG encode of the 256 px thumbnail (what the cache stores)
  + file          ... + one file per thumbnail (temp file, write, rename; the first version)
  cache.get       the app's ``ThumbnailCache.get`` with an empty cache (key from stat,
                  decode, encode, batched SQLite store)

Usage:
    .venv/bin/python bench/thumb_cost.py [FOLDER] [--count 600]

FOLDER holds 1024x1024 JPEGs (default: bench/_data/lb/images, made by open_large_dataset.py).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", nargs="?", default=str(ROOT / "bench/_data/lb/images"))
    ap.add_argument("--count", type=int, default=600)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="likeness-thumb-cost-"))
    os.environ["LIKENESS_CACHE_DIR"] = str(tmp / "cache")
    from PIL import Image

    from curation.images import load_image
    from desktop.thumbs.cache import ThumbnailCache, decode_thumbnail

    files = sorted(Path(args.folder).glob("img_*.jpg"))[: args.count]
    if not files:
        print(f"no img_*.jpg in {args.folder}", file=sys.stderr)
        return 2
    for f in files:  # page cache: every step reads from RAM
        f.read_bytes()
    cache = ThumbnailCache(tmp / "thumbs")
    files_dir = tmp / "files"
    made: set[Path] = set()

    def bare(p: Path) -> None:
        with Image.open(p) as im:
            im.draft("RGB", (256, 256))
            im.load()
            im.thumbnail((256, 256))

    def from_bytes(p: Path) -> None:
        with Image.open(io.BytesIO(p.read_bytes())) as im:
            im.draft("RGB", (256, 256))
            im.load()
            im.thumbnail((256, 256))

    def loader(p: Path) -> None:
        load_image(p, draft=(256, 256), hash_content=False)

    def hashed(p: Path) -> None:
        load_image(p, draft=(256, 256), hash_content=True)

    def encoded(p: Path) -> bytes:
        buf = io.BytesIO()
        decode_thumbnail(p, 256).save(buf, "JPEG", quality=85)
        return buf.getvalue()

    def one_file(p: Path) -> None:
        data = encoded(p)
        digest = hashlib.blake2b(p.read_bytes(), digest_size=16).hexdigest()
        folder = files_dir / digest[:2]
        if folder not in made:
            folder.mkdir(parents=True, exist_ok=True)
            made.add(folder)
        part = folder / f"{digest}.tmp"
        part.write_bytes(data)
        os.replace(part, folder / f"{digest}.jpg")

    steps = [
        ("bare", bare),
        ("bytes", from_bytes),
        ("load_image", loader),
        ("+ hash", hashed),
        ("decode_thumb", lambda p: decode_thumbnail(p, 256)),
        ("+ encode", encoded),
        ("+ file", one_file),
        ("cache.get", lambda p: cache.get(p, 256, want_image=False)),
    ]
    spent = dict.fromkeys((name for name, _ in steps), 0.0)
    load = os.getloadavg()[0]
    for i, f in enumerate(files):
        k = i % len(steps)
        for name, fn in steps[k:] + steps[:k]:
            t = time.thread_time()
            fn(f)
            spent[name] += time.thread_time() - t
    cache.flush()
    base = spent["bare"] / len(files) * 1000
    print(
        f"{len(files)} images from {args.folder}; load average {load:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    print(f"{'step':14s} {'CPU ms/image':>12s} {'vs bare':>8s}")
    for name, _ in steps:
        ms = spent[name] / len(files) * 1000
        print(f"{name:14s} {ms:12.3f} {ms - base:+8.3f}")
    print(f"bare / cache.get: {spent['bare'] / spent['cache.get']:.3f}")
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
