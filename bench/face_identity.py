"""Identity numbers of the dlib embedder on the shared photos (the calibration's evidence).

Builds the test set of `tests/curation/test_faces_dlib.py` (8 images of one person: portraits,
crops, mirrored copies, a full-body shot, his half of two_people; 5 of four other people),
embeds every primary face with the dlib backend (YuNet boxes, and dlib's HOG boxes), and prints:

* each image's raw cosine to the mean of the same person's other images, and the calibrated
  identity score the analysis shows;
* pairwise Euclidean distances of the raw (unnormalised) dlib descriptors;
* ms per face for the descriptor (alignment + ResNet), median over the set;
* CPU ms of each step on a 640-px decode (``--costs``): the descriptor from the image or from a
  pre-cut 150x150 chip, the 5-point alignment, dlib's HOG detector on RGB and on grey, and how
  much a pure-Python thread slows down while the descriptor runs (does dlib hold the GIL?).

    .venv/bin/python bench/face_identity.py [--costs]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("LIKENESS_SHARED", REPO.parent / "shared"))


def costs() -> None:
    import threading

    import cv2

    from curation.faces.dlib_backend import get_embedder

    e = get_embedder()
    dlib = e.dlib
    print(f"dlib {dlib.__version__}, BLAS {dlib.DLIB_USE_BLAS}, load {os.getloadavg()[0]:.1f}")

    def cpu_ms(fn, n: int = 6) -> float:
        fn()
        t0 = time.process_time()
        for _ in range(n):
            fn()
        return 1000 * (time.process_time() - t0) / n

    hog = dlib.get_frontal_face_detector()

    def one(name: str):
        im = Image.open(SHARED / "data/faces/face_recognition" / name).convert("RGB")
        k = 640 / max(im.size)
        rgb = np.asarray(im.resize((round(im.width * k), round(im.height * k))))
        grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        rect = hog(grey, 0)[0]
        box = (rect.left(), rect.top(), rect.width(), rect.height())
        shape = e.shape(rgb, box)
        chip = dlib.get_face_chip(rgb, shape, size=150, padding=0.25)
        print(f"{name}: descriptor {cpu_ms(lambda: e.descriptor(rgb, shape)):.1f}, from the chip "
              f"{cpu_ms(lambda: e._descriptor.compute_face_descriptor(chip)):.1f}, alignment "
              f"{cpu_ms(lambda: e.shape(rgb, box)):.2f}, HOG rgb {cpu_ms(lambda: hog(rgb, 0)):.1f}"
              f" / grey {cpu_ms(lambda: hog(grey, 0)):.1f} CPU ms")  # fmt: skip
        return rgb, shape

    for name in ("obama.jpg", "obama3.jpg", "biden.jpg"):
        rgb, shape = one(name)

    def spin(seconds: float) -> int:
        t0, n = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            n += 1
        return n

    alone = spin(0.5)
    worker = threading.Thread(target=lambda: [e.descriptor(rgb, shape) for _ in range(12)])
    worker.start()
    shared = spin(0.5)
    worker.join()
    print(f"a Python thread ran at {100 * shared / alone:.0f} % of its speed meanwhile")


def main() -> int:
    if "--costs" in sys.argv:
        costs()
        return 0
    from curation.faces.calibration import DLIB
    from curation.faces.dlib_backend import DlibDetector
    from tests.curation.test_faces_dlib import SAME, build_set

    yunet = SHARED / "models" / "face_detection_yunet_2023mar.onnx"
    with tempfile.TemporaryDirectory() as tmp:
        folder = build_set(SHARED / "data" / "faces", Path(tmp) / "set")
        for det in (DlibDetector(yunet_path=yunet), DlibDetector(use_yunet=False)):
            emb, raw, per_face = {}, {}, []
            for path in sorted(folder.iterdir()):
                rgb = np.asarray(Image.open(path).convert("RGB"))
                faces = det.detect(rgb)
                if not faces:
                    print(f"{det.name}: {path.name}: no face")
                    continue
                face = max(faces, key=lambda f: f.height)
                emb[path.name] = face.embedding
                t0 = time.perf_counter()
                (vec,) = [
                    np.asarray(det.embedder.descriptor(rgb, det.embedder.shape(rgb, face.box)))
                ]
                per_face.append(time.perf_counter() - t0)
                raw[path.name] = vec
            same = [k for k in SAME if k in emb]
            total = np.sum([emb[k] for k in same], axis=0)
            print(f"\n{det.name}: cosine to the mean of the same person's other images")
            for name in emb:
                others = total - emb[name] if name in same else total
                cos = float(emb[name] @ (others / np.linalg.norm(others)))
                print(f"  {name:20s} raw {cos:.3f}  score {DLIB.to_score(cos):+.2f}")
            names = list(raw)
            print("  pairwise Euclidean distance of the raw descriptors:")
            print("  " + " " * 20 + " ".join(n[:7].rjust(7) for n in names))
            for a in names:
                row = " ".join(f"{np.linalg.norm(raw[a] - raw[b]):7.3f}" for b in names)
                print(f"  {a:20s}{row}")
            pairs = {
                "same person": [(a, b) for a in same for b in same if a < b],
                "one vs another person": [(a, b) for a in same for b in emb if b not in same],
                "mirrored copy": [("o1.jpg", "o1_mirror.jpg"), ("o2.jpg", "o2_mirror.jpg")],
                "same photo re-cropped": [("o3.jpg", "o3_crop.jpg"), ("o1.jpg", "o1_crop.jpg")],
            }
            print("  pairwise cosine of the normalised vectors (min-max):")
            for label, items in pairs.items():
                cos = [float(emb[a] @ emb[b]) for a, b in items if a in emb and b in emb]
                print(f"    {label:24s} {min(cos):.4f}-{max(cos):.4f} ({len(cos)} pairs)")
            print(f"  descriptor ms/face (median): {1000 * statistics.median(per_face):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
