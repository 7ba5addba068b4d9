"""OpenCV Haar cascades (frontal + profile): always available, no landmarks, no embeddings.

The profile cascade only knows faces turned one way, so it also runs on the mirrored image.
A face found only by the profile cascade is reported with ``source="profile"`` and a nominal
yaw of +/-90 degrees, which the analysis reads as a profile view. Results that need landmarks
or embeddings (identity check, three-quarter pose) say so (``IDENTITY_NEEDS``).
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from curation.faces.base import Face, FaceBackendError

__all__ = ["HaarDetector"]

log = logging.getLogger(__name__)

# Haar boxes are ~0.89x the height of YuNet's on the shared photos (0.80-1.0); scale them up.
HEIGHT_CALIBRATION = 1.12


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    ix = max(0.0, min(ax + aw, bx + bw) - max(ax, bx))
    iy = max(0.0, min(ay + ah, by + bh) - max(ay, by))
    inter = ix * iy
    union = aw * ah + bw * bh - inter
    return inter / union if union > 0 else 0.0


class HaarDetector:
    """``cv2.CascadeClassifier`` with the frontal and profile cascades shipped with OpenCV."""

    name = "haar"
    has_landmarks = False
    has_embeddings = False

    def __init__(self, *, input_max: int = 384, min_neighbors: int = 6) -> None:
        base = Path(cv2.data.haarcascades)  # pyright: ignore[reportAttributeAccessIssue] (stubs)
        self._frontal = self._load(base / "haarcascade_frontalface_default.xml")
        self._profile = self._load(base / "haarcascade_profileface.xml")
        self.input_max = int(input_max)
        self.min_neighbors = int(min_neighbors)

    @staticmethod
    def _load(path: Path) -> cv2.CascadeClassifier:
        cascade = cv2.CascadeClassifier(str(path))
        if cascade.empty():
            raise FaceBackendError(f"OpenCV's Haar cascade {path} is missing or unreadable")
        return cascade

    def _run(self, cascade: cv2.CascadeClassifier, gray: np.ndarray) -> list[tuple]:
        min_side = max(24, min(gray.shape[:2]) // 12)
        found, neighbours = cascade.detectMultiScale2(
            gray,
            scaleFactor=1.1,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
        )
        out = []
        for (x, y, w, h), count in zip(found, np.ravel(neighbours), strict=False):
            # The cascade box is a square from the brows to the mouth; detectors with landmarks
            # box forehead to chin (about 12 % taller). Match them so tiers mean the same.
            tall = h * HEIGHT_CALIBRATION
            box = (float(x), float(y) - (tall - h) / 2.0, float(w), float(tall))
            out.append((box, float(count)))
        return out

    def detect(self, image: np.ndarray) -> list[Face]:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("detect() needs an RGB image of shape (H, W, 3)")
        height, width = image.shape[:2]
        gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
        scale = 1.0
        if max(height, width) > self.input_max:
            scale = self.input_max / max(height, width)
            gray = cv2.resize(
                gray,
                (max(1, round(width * scale)), max(1, round(height * scale))),
                interpolation=cv2.INTER_AREA,
            )
        gray = cv2.equalizeHist(gray)
        gw = gray.shape[1]
        candidates: list[tuple[tuple, float, str, float | None]] = []
        for box, weight in self._run(self._frontal, gray):
            candidates.append((box, weight, "frontal", None))
        for box, weight in self._run(self._profile, gray):
            candidates.append((box, weight, "profile", -90.0))
        for (x, y, w, h), weight in self._run(self._profile, np.ascontiguousarray(gray[:, ::-1])):
            candidates.append(((gw - x - w, y, w, h), weight, "profile", 90.0))
        # Frontal hits first: a face both cascades find is reported as frontal.
        candidates.sort(key=lambda c: (c[2] != "frontal", -c[1]))
        kept: list[tuple[tuple, float, str, float | None]] = []
        for cand in candidates:
            if all(_iou(cand[0], k[0]) < 0.3 for k in kept):
                kept.append(cand)
        inv = 1.0 / scale
        faces = []
        for box, weight, source, yaw in kept:
            score = float(weight / (weight + 4.0))  # neighbour count -> 0..1
            face = Face(
                box=box,
                score=score,
                pose=(yaw, 0.0, 0.0) if yaw is not None else None,
                source=source,
            )
            faces.append(face.scaled(inv) if scale != 1.0 else face)
        return faces
