"""'No face, but probably a person': back-view candidates the user confirms.

Runs only on images where no face was found. OpenCV's HOG people detector finds standing
people (full body and most medium shots); the upper-body Haar cascade covers head-and-
shoulders from behind. Either hit makes the image a candidate; the app asks, it never
decides that an image is a back view.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import cv2
import numpy as np

__all__ = ["find_person"]

log = logging.getLogger(__name__)


# One detector of each kind PER THREAD: the analysis runs images on two threads, and a
# CascadeClassifier / HOGDescriptor shared between threads crashed the process (seen as a
# segfault in detectMultiScale with two analysis threads).
_local = threading.local()


def _hog() -> cv2.HOGDescriptor:
    hog = getattr(_local, "hog", None)
    if hog is None:
        hog = cv2.HOGDescriptor()
        # opencv's stubs lack these two (present at run time in every supported opencv)
        hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())  # pyright: ignore[reportAttributeAccessIssue]
        _local.hog = hog
    return hog


def _upper_body() -> cv2.CascadeClassifier | None:
    if not hasattr(_local, "upper_body"):
        folder = Path(cv2.data.haarcascades)  # pyright: ignore[reportAttributeAccessIssue]
        cascade = cv2.CascadeClassifier(str(folder / "haarcascade_upperbody.xml"))
        _local.upper_body = None if cascade.empty() else cascade
    return _local.upper_body


def find_person(rgb: np.ndarray, max_side: int = 256) -> tuple[float, float, float, float] | None:
    """The box (x, y, w, h, in the given image's pixels) of a likely person, or None."""
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    if scale < 1.0:
        gray = cv2.resize(
            gray,
            (max(1, round(width * scale)), max(1, round(height * scale))),
            interpolation=cv2.INTER_AREA,
        )
    best: tuple[float, tuple[float, float, float, float]] | None = None
    if min(gray.shape[:2]) >= 128:
        boxes, weights = _hog().detectMultiScale(
            gray, winStride=(8, 8), padding=(16, 16), scale=1.05
        )
        for box, weight in zip(boxes, np.ravel(weights), strict=False):
            if float(weight) > 0.3 and (best is None or float(weight) > best[0]):
                best = (float(weight), tuple(float(v) for v in box))  # type: ignore[assignment]
    cascade = _upper_body()
    if best is None and cascade is not None:
        min_side = max(32, min(gray.shape[:2]) // 4)
        boxes, counts = cascade.detectMultiScale2(gray, 1.1, 4, minSize=(min_side, min_side))
        for box, count in zip(boxes, np.ravel(counts), strict=False):
            if best is None or float(count) > best[0]:
                best = (float(count), tuple(float(v) for v in box))  # type: ignore[assignment]
    if best is None:
        return None
    x, y, w, h = best[1]
    inv = 1.0 / scale
    return x * inv, y * inv, w * inv, h * inv
