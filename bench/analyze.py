"""Benchmark: face analysis images/s per backend against bare decoding + bare detection.

Makes N 1024x1024 JPEGs from the shared real photos (resized and padded, with shifts so no
two are identical), then for each backend, in the same run and on the same files:

* ``decode``: PIL decode to an RGB array, nothing else;
* ``detect``: ``detector.detect`` on the already-decoded arrays;
* ``pipeline``: ``analyze_dataset`` on the file paths (hashing, decoding, detection,
  sharpness, hashes, classification, duplicates, identity), cache empty.

``overhead = pipeline / (decode + detect)``; the target is <= 1.25 (and >= 15 images/s with
YuNet on 2 cores). Medians of ``--repeats`` runs.

    .venv/bin/python bench/analyze.py --images 48 --repeats 5 --backends yunet haar
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("LIKENESS_SHARED", REPO.parent / "shared"))
PHOTOS = ["face_recognition/obama.jpg", "face_recognition/obama2.jpg", "face_recognition/obama3.jpg",
          "face_recognition/biden.jpg", "face_recognition/two_people.jpg", "scikit-image/astronaut.png",
          "scikit-image/camera.png", "scikit-image/chelsea.png"]  # fmt: skip


def make_images(folder: Path, count: int, size: int = 1024) -> list[Path]:
    paths = []
    sources = [Image.open(SHARED / "data/faces" / p).convert("RGB") for p in PHOTOS]
    for i in range(count):
        src = sources[i % len(sources)]
        shift = (i // len(sources)) * 7
        fitted = ImageOps.contain(src, (size - shift, size - shift), Image.Resampling.LANCZOS)
        canvas = Image.new("RGB", (size, size), (120 + shift % 60, 118, 115))
        canvas.paste(fitted, ((size - fitted.width) // 2 + shift // 2, (size - fitted.height) // 2))
        path = folder / f"img_{i:03d}.jpg"
        canvas.save(path, quality=92)
        paths.append(path)
    return paths


def time_once(backend: str, paths: list[Path], model_dir: Path, workers: int) -> dict[str, float]:
    from curation.analysis import analyze_dataset
    from curation.faces import create_detector

    det = create_detector(backend, model_dir=model_dir)
    det.detect(np.zeros((64, 64, 3), np.uint8))  # warm-up outside the timings
    c0, t0 = time.process_time(), time.perf_counter()
    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
    c1, t1 = time.process_time(), time.perf_counter()
    for arr in arrays:
        det.detect(arr)
    c2, t2 = time.process_time(), time.perf_counter()
    result = analyze_dataset(paths, detector=det, root=paths[0].parent, workers=workers)
    c3, t3 = time.process_time(), time.perf_counter()
    assert len(result.images) == len(paths) and all(img.ok for img in result.images)
    return {"decode": t1 - t0, "detect": t2 - t1, "pipeline": t3 - t2,
            "decode_cpu": c1 - c0, "detect_cpu": c2 - c1, "pipeline_cpu": c3 - c2,
            "name": det.name}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", nargs="+", default=["yunet", "haar"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model-dir", type=Path, default=SHARED / "models")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("LIKENESS_CACHE_DIR", tempfile.mkdtemp(prefix="likeness-bench-"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="likeness-bench-") as tmp:
        paths = make_images(Path(tmp), args.images)
        for backend in args.backends:
            runs = [
                time_once(backend, paths, args.model_dir, args.workers) for _ in range(args.repeats)
            ]
            keys = ("decode", "detect", "pipeline", "decode_cpu", "detect_cpu", "pipeline_cpu")
            med = {k: statistics.median(r[k] for r in runs) for k in keys}
            n = len(paths)
            rows.append({
                "backend": runs[0]["name"],
                "images": n,
                "decode_ms": round(1000 * med["decode"] / n, 2),
                "detect_ms": round(1000 * med["detect"] / n, 2),
                "pipeline_ms": round(1000 * med["pipeline"] / n, 2),
                "pipeline_images_per_s": round(n / med["pipeline"], 2),
                "bare_images_per_s": round(n / (med["decode"] + med["detect"]), 2),
                "overhead": round(med["pipeline"] / (med["decode"] + med["detect"]), 3),
                "overhead_vs_detector": round(med["pipeline"] / med["detect"], 3),
                # CPU seconds do not grow when other processes share the cores: n / CPU time
                # is a lower bound of images/s on 2 idle cores (wall <= CPU time there).
                "pipeline_cpu_ms": round(1000 * med["pipeline_cpu"] / n, 2),
                "bare_cpu_ms": round(1000 * (med["decode_cpu"] + med["detect_cpu"]) / n, 2),
                "cpu_overhead": round(med["pipeline_cpu"] / (med["decode_cpu"] + med["detect_cpu"]), 3),
                "idle_images_per_s_lower_bound": round(n / med["pipeline_cpu"], 2),
                "runs": [{k: round(v, 4) for k, v in r.items() if k != "name"} for r in runs],
            })  # fmt: skip
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    meta = {"cpu_count": os.cpu_count(), "load_avg": os.getloadavg(), "workers": args.workers}
    if args.json:
        print(json.dumps({"meta": meta, "results": rows}, indent=2))
    else:
        print(f"cpus {meta['cpu_count']}, load {meta['load_avg'][0]:.1f}, workers {args.workers}")
        print("backend      wall ms/img: decode  detect  pipeline  img/s  overhead"
              " | CPU ms/img: bare  pipeline  overhead  idle img/s >=")  # fmt: skip
        for r in rows:
            print(f"{r['backend']:12s} {r['decode_ms']:19.1f} {r['detect_ms']:7.1f}"
                  f" {r['pipeline_ms']:9.1f} {r['pipeline_images_per_s']:6.1f} {r['overhead']:9.2f}"
                  f" | {r['bare_cpu_ms']:16.1f} {r['pipeline_cpu_ms']:9.1f} {r['cpu_overhead']:9.2f}"
                  f" {r['idle_images_per_s_lower_bound']:13.1f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
