"""Benchmark: face analysis images/s per backend against bare decoding + bare detection.

Makes N 1024x1024 JPEGs from the shared real photos (resized and padded, with shifts so no
two are identical), then for each backend, in the same run and on the same files:

* ``decode`` ("bare decode"): ``np.asarray(PIL.Image.open(path).convert("RGB"))`` for every
  file, one after the other on one thread: file read + full-size JPEG decode + the array copy,
  no EXIF/CMYK/16-bit handling, no hashing;
* ``detect`` ("bare detect"): ``detector.detect`` on each already-decoded full-size array, one
  after the other: for YuNet that includes its own shrink to 512 px, the RGB->BGR swap and
  the network (cv2.dnn on all cores);
* ``pipeline``: ``analyze_dataset`` on the file paths, cache empty: content hash, decode with
  EXIF/CMYK/16-bit handling, detection, face sharpness, perceptual hashes, back-view person
  check on face-less images, classification, duplicates, identity. It may overlap decoding
  with detection (that is part of what it is allowed to do); the bare phases do not.

``overhead = pipeline / (decode + detect)`` per round, median over ``--repeats`` rounds (the
phase order rotates from round to round); the target is <= 1.25 (and >= 15 images/s with
YuNet on 2 cores). The per-phase times are medians too.

    .venv/bin/python bench/analyze.py --images 48 --repeats 5 --backends yunet haar

Identity on (the dlib embedder; ``hog+dlib`` is dlib without the YuNet file, as on a fresh
install; the target there is >= 10 images/s on 2 cores):

    .venv/bin/python bench/analyze.py --images 48 --repeats 3 --backends yunet dlib hog+dlib

CPU times count this process and dlib's descriptor processes (`curation.faces.dlib_pool`; their
CPU seconds come back with every answer); ``LIKENESS_DLIB_WORKERS=0`` runs dlib in-process.
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


def time_backend(
    backend: str, paths: list[Path], model_dir: Path, workers: int, repeats: int
) -> list[dict[str, float]]:
    """``repeats`` timed rounds of the three phases on one detector instance.

    The phase order rotates from round to round (decode-detect-pipeline, detect-pipeline-
    decode, pipeline-decode-detect) so that a change in the machine's load during a round does
    not always land on the same phase; each round gives its own paired overhead ratio.
    """
    from curation.analysis import analyze_dataset
    from curation.faces import create_detector

    if backend == "hog+dlib":  # dlib without the YuNet file: what a fresh install runs
        model_dir = Path(tempfile.mkdtemp(prefix="likeness-bench-models-"))
        backend = "dlib"
    det = create_detector(backend, model_dir=model_dir)
    det.detect(np.zeros((64, 64, 3), np.uint8))  # warm-up outside the timings
    embedder = getattr(det, "embedder", None)
    pool = embedder.pool() if embedder is not None else None  # dlib's descriptor processes

    def cpu_now() -> float:
        """This process's CPU seconds + the descriptor processes' (they do the dlib work)."""
        return time.process_time() + (pool.cpu_seconds() if pool else 0.0)

    arrays = [np.asarray(Image.open(p).convert("RGB")) for p in paths]  # for the detect phase

    def decode() -> None:
        nonlocal arrays
        arrays = [np.asarray(Image.open(p).convert("RGB")) for p in paths]

    def detect() -> None:
        for arr in arrays:
            det.detect(arr)

    def pipeline() -> None:
        result = analyze_dataset(paths, detector=det, root=paths[0].parent, workers=workers)
        assert len(result.images) == len(paths) and all(img.ok for img in result.images)

    phases = [("decode", decode), ("detect", detect), ("pipeline", pipeline)]
    runs = []
    for index in range(repeats):
        run: dict[str, float] = {}
        k = index % len(phases)
        for name, phase in phases[k:] + phases[:k]:
            c0, t0 = cpu_now(), time.perf_counter()
            phase()
            run[name], run[f"{name}_cpu"] = time.perf_counter() - t0, cpu_now() - c0
        run["overhead"] = run["pipeline"] / (run["decode"] + run["detect"])
        runs.append(run)
    runs[0]["name"] = det.name  # type: ignore[assignment]
    runs[0]["processes"] = pool.size if pool else 0
    return runs


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
            runs = time_backend(backend, paths, args.model_dir, args.workers, args.repeats)
            keys = ("decode", "detect", "pipeline", "decode_cpu", "detect_cpu", "pipeline_cpu",
                    "overhead")  # fmt: skip
            med = {k: statistics.median(r[k] for r in runs) for k in keys}
            n = len(paths)
            rows.append({
                "backend": runs[0]["name"],
                "descriptor_processes": runs[0]["processes"],
                "images": n,
                "decode_ms": round(1000 * med["decode"] / n, 2),
                "detect_ms": round(1000 * med["detect"] / n, 2),
                "pipeline_ms": round(1000 * med["pipeline"] / n, 2),
                "pipeline_images_per_s": round(n / med["pipeline"], 2),
                "bare_images_per_s": round(n / (med["decode"] + med["detect"]), 2),
                # median of the per-round paired ratios (robust to load drifting between rounds)
                "overhead": round(med["overhead"], 3),
                "overhead_of_medians": round(med["pipeline"] / (med["decode"] + med["detect"]), 3),
                "overhead_vs_detector": round(med["pipeline"] / med["detect"], 3),
                # CPU seconds do not grow when other processes share the cores: n / CPU time
                # is a lower bound of images/s on 2 idle cores (wall <= CPU time there).
                "pipeline_cpu_ms": round(1000 * med["pipeline_cpu"] / n, 2),
                "bare_cpu_ms": round(1000 * (med["decode_cpu"] + med["detect_cpu"]) / n, 2),
                "cpu_overhead": round(med["pipeline_cpu"] / (med["decode_cpu"] + med["detect_cpu"]), 3),
                "idle_images_per_s_lower_bound": round(n / med["pipeline_cpu"], 2),
                "runs": [{k: round(v, 4) for k, v in r.items() if k not in ("name", "processes")} for r in runs],
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
