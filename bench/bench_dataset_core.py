"""Measure the dataset core: scan, workspace open, image probing, bulk apply.

Run: ``.venv/bin/python bench/bench_dataset_core.py [--n 10000] [--repeat 5]``
Prints medians (seconds) as one JSON object. Writes only under a temporary folder.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from curation.bulk import plan_replace  # noqa: E402
from curation.dataset import scan_folder  # noqa: E402
from curation.images import load_image, probe_image, probe_images  # noqa: E402
from curation.workspace import Workspace  # noqa: E402


def timed(fn, repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def photo_like(size: int, seed: int) -> Image.Image:
    """Smooth gradients plus mild noise: compresses like a photo, not like pure noise."""
    rng = np.random.default_rng(seed)
    x = np.linspace(0, 255, size)
    base = np.stack(
        [np.add.outer(x, x) / 2, np.tile(x, (size, 1)), np.tile(x[:, None], (1, size))], -1
    )
    return Image.fromarray((base + rng.normal(0, 6, base.shape)).clip(0, 255).astype(np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    out: dict[str, float | int] = {"n": args.n}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "10_l3yla"
        root.mkdir()
        buf = io.BytesIO()
        Image.new("RGB", (16, 16)).save(buf, "PNG")
        for i in range(args.n):
            (root / f"img{i:05d}.png").write_bytes(buf.getvalue())
            (root / f"img{i:05d}.txt").write_text(f"photo of l3yla, red scarf {i}")
        out["scan_s"] = timed(lambda: scan_folder(root), args.repeat)

        def first_open() -> None:
            shutil.rmtree(root / ".likeness", ignore_errors=True)
            Workspace.open(root).close()

        out["open_first_s"] = timed(first_open, args.repeat)
        out["open_again_s"] = timed(lambda: Workspace.open(root).close(), args.repeat)

        ws = Workspace.open(root)
        rels = [i.rel for i in ws.items[:500]]

        def bulk() -> None:
            ws.apply_changes(plan_replace(ws.captions(rels), "red", "blue"), label="b")
            ws.undo()

        out["bulk_500_apply_plus_undo_s"] = timed(bulk, max(1, args.repeat // 2))
        ws.close()

        jpg = Path(tmp) / "photo.jpg"
        photo_like(1024, 0).save(jpg, quality=92)
        png = Path(tmp) / "photo.png"
        photo_like(1024, 1).save(png)

        def header_only(path: Path) -> None:
            with Image.open(path) as im:
                im.size  # noqa: B018

        def full_decode(path: Path) -> None:
            with Image.open(path) as im:
                im.load()

        reps = args.repeat * 4
        out["jpeg1024_header_ms"] = timed(lambda: header_only(jpg), reps) * 1e3
        out["jpeg1024_probe_ms"] = timed(lambda: probe_image(jpg), reps) * 1e3
        out["jpeg1024_full_decode_ms"] = timed(lambda: full_decode(jpg), reps) * 1e3
        out["jpeg1024_load_draft256_ms"] = (
            timed(lambda: load_image(jpg, draft=(256, 256)), reps) * 1e3
        )
        out["jpeg1024_load_full_ms"] = timed(lambda: load_image(jpg), reps) * 1e3
        out["png1024_probe_ms"] = timed(lambda: probe_image(png), reps) * 1e3
        out["png1024_full_decode_ms"] = timed(lambda: full_decode(png), reps) * 1e3

        # a folder of 200 photo-like 1024x1024 JPEGs, probed in threads as `likeness scan` does
        folder = Path(tmp) / "jpegs"
        folder.mkdir()
        for i in range(200):
            photo_like(1024, i).save(folder / f"p{i:03d}.jpg", quality=90)
        paths = sorted(folder.iterdir())
        for mode in ("quick", "thorough"):
            t = timed(lambda m=mode: probe_images(paths, thorough=m == "thorough"), 2)
            out[f"probe_200_jpegs_{mode}_per_s"] = 200 / t
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
