"""Identity numbers of the dlib embedder on the shared photos (the calibration's evidence).

Builds the test set of `tests/curation/test_faces_dlib.py` (8 images of one person: portraits,
crops, mirrored copies, a full-body shot, his half of two_people; 5 of four other people),
embeds every primary face with the dlib backend (YuNet boxes, and dlib's HOG boxes), and prints:

* each image's raw cosine to the mean of the same person's other images, and the calibrated
  identity score the analysis shows;
* pairwise Euclidean distances of the raw (unnormalised) dlib descriptors;
* ms per face for the descriptor (alignment + ResNet), median over the set.

    .venv/bin/python bench/face_identity.py
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


def main() -> int:
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
