"""Measure one image: faces, face sharpness, perceptual hashes, person candidate.

The result is a plain JSON-serialisable dict (``raw`` measures, independent of any balance
profile) so it can be cached in the workspace state under the file's content hash, the
backend name and `ANALYSIS_VERSION`. Tiers, pose classes and flags are derived from it later
(`curation.analysis.classify`), so changing a profile never re-runs detection.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from curation.analysis.classify import MAX_USABLE_ASPECT
from curation.analysis.measures import dhash, face_sharpness, phash, pick_primary
from curation.analysis.person import find_person
from curation.faces.base import FaceDetector

__all__ = [
    "ANALYSIS_VERSION",
    "DETECT_DRAFT",
    "measure_image",
    "measure_array",
    "cache_key",
    "thumb_hashes",
    "person_box",
]

log = logging.getLogger(__name__)

# Bump when anything stored in the raw measures changes meaning.
ANALYSIS_VERSION = 4
# JPEGs are decoded at a reduced DCT scale when that keeps at least this size (detection runs
# at <= 640 px anyway). Sharpness is re-measured at full size when the face would be too small.
DETECT_DRAFT = (640, 640)
SHARPNESS_MIN_PX = 256


HASH_SIDE = 128


def _crop_sharpness(rgb: np.ndarray, box: tuple[float, ...]) -> float | None:
    """Sharpness of the face box, converting only the crop (plus a margin) to grey."""
    h, w = rgb.shape[:2]
    x, y, bw, bh = box
    x0, y0 = max(0, int(x) - 2), max(0, int(y) - 2)
    x1, y1 = min(w, int(x + bw) + 3), min(h, int(y + bh) + 3)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    gray = cv2.cvtColor(np.ascontiguousarray(rgb[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    return face_sharpness(gray, (x - x0, y - y0, bw, bh))


def thumb_hashes(rgb: np.ndarray) -> tuple[str, str]:
    """(dHash, pHash) as 16-digit hex of the decoded image; needs no detection, so the
    runner computes it in the decode thread."""
    # The hashes only need a thumbnail: one area resize, then grey on 128x128 pixels.
    thumb = cv2.cvtColor(
        cv2.resize(rgb, (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY
    )
    return f"{dhash(thumb):016x}", f"{phash(thumb):016x}"


def person_box(rgb: np.ndarray, scale: float) -> list[float] | None:
    """The back-view person candidate box in original pixels (``scale`` = original / ``rgb``
    width), or None. Only meaningful on images where no face was found."""
    found = find_person(rgb)
    return None if found is None else [round(v * scale, 1) for v in found]


def cache_key(content_hash: str, backend: str) -> str:
    return f"{content_hash}:{backend}:v{ANALYSIS_VERSION}"


def measure_array(
    rgb: np.ndarray,
    detector: FaceDetector,
    *,
    full_size: tuple[int, int] | None = None,
    full_loader: Any = None,
    hashes: tuple[str, str] | None = None,
    check_person: bool = True,
) -> dict[str, Any]:
    """Raw measures of a decoded RGB image.

    ``full_size`` is (width, height) of the original when ``rgb`` is a reduced decode; face
    boxes are stored in original pixels. ``full_loader(draft)`` decodes the image again, at
    least ``draft`` (w, h) in size, and is called only when the face is too small in ``rgb``
    for a faithful sharpness value. ``hashes``: `thumb_hashes` of ``rgb`` when the caller
    already has them. ``check_person=False`` leaves ``person_box`` None on a face-less image
    for the caller to fill in with `person_box` (the runner does it off the detector thread).
    """
    height, width = rgb.shape[:2]
    W, H = full_size or (width, height)  # noqa: N806
    if min(W, H) <= 0 or max(W, H) / min(W, H) > MAX_USABLE_ASPECT:  # a strip, not a photo
        dh, ph = hashes if hashes is not None else thumb_hashes(rgb)
        return {
            "version": ANALYSIS_VERSION,
            "backend": detector.name,
            "width": int(W),
            "height": int(H),
            "faces": [],
            "sharpness": None,
            "dhash": dh,
            "phash": ph,
            "person_box": None,
        }
    scale = W / width
    faces = [f.scaled(scale) if scale != 1.0 else f for f in detector.detect(rgb)]
    ordered, _ = pick_primary(faces, W, H, secondary_min_ratio=0.0)
    dh, ph = hashes if hashes is not None else thumb_hashes(rgb)
    sharp = None
    if ordered:
        primary = ordered[0]
        box_small = tuple(v / scale for v in primary.box)
        if scale > 1.0 and box_small[3] < SHARPNESS_MIN_PX and full_loader is not None:
            # Decode again at the smallest scale that keeps the face >= 256 px high.
            k = min(1.0, SHARPNESS_MIN_PX / max(primary.height, 1.0))
            again = full_loader((int(W * k) + 1, int(H * k) + 1))
            s2 = W / again.shape[1]
            sharp = _crop_sharpness(again, tuple(v / s2 for v in primary.box))
        else:
            sharp = _crop_sharpness(rgb, box_small)
    person = person_box(rgb, scale) if check_person and not ordered else None
    return {
        "version": ANALYSIS_VERSION,
        "backend": detector.name,
        "width": int(W),
        "height": int(H),
        "faces": [f.to_dict() for f in ordered],
        "sharpness": round(sharp, 2) if sharp is not None else None,
        "dhash": dh,
        "phash": ph,
        "person_box": person,
    }


def measure_image(path: str | os.PathLike[str], detector: FaceDetector) -> dict[str, Any]:
    """Decode (reduced where that changes nothing) and measure one image file.

    Raises `curation.errors.ImageLoadError` for an unreadable file; the caller turns it into
    a per-item error.
    """
    from curation.images import load_image

    loaded = load_image(Path(path), draft=DETECT_DRAFT)
    rgb = np.asarray(loaded.image)
    info = loaded.info

    def full(draft: tuple[int, int] | None = None) -> np.ndarray:
        return np.asarray(load_image(Path(path), draft=draft).image)

    raw = measure_array(rgb, detector, full_size=(info.width, info.height), full_loader=full)
    raw["content_hash"] = info.content_hash
    raw["format"] = info.format
    raw["notes"] = list(info.notes)
    return raw
