"""Per-image measures: shot tier, head pose, sharpness, buckets, perceptual hashes.

Everything here is a pure function of numbers or pixels, so it is cheap to test and the
profile's thresholds can change without re-running face detection.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from curation.faces.base import Face

__all__ = [
    "TIERS",
    "POSES",
    "classify_tier",
    "yaw_ratio",
    "classify_pose",
    "face_sharpness",
    "aspect_bucket",
    "dhash",
    "phash",
    "hamming",
    "pick_primary",
]

TIERS = ("close-up", "medium", "full-body")
POSES = ("frontal", "three-quarter", "profile", "back")


def classify_tier(
    ratio: float,
    close_up_min: float,
    medium_min: float,
    borderline: Sequence[Sequence[float]] = (),
) -> tuple[str, bool]:
    """The tier for a face-height ratio and whether it lies in a borderline band."""
    if ratio >= close_up_min:
        tier = "close-up"
    elif ratio >= medium_min:
        tier = "medium"
    else:
        tier = "full-body"
    near = any(lo <= ratio < hi for lo, hi in borderline)
    return tier, near


def yaw_ratio(face: Face) -> tuple[float, float] | None:
    """(r, iod/face-width) from five landmarks; r = (nose_x - eye_mid_x) / inter-eye distance."""
    if face.landmarks is None or len(face.landmarks) < 3:
        return None
    (ex1, ey1), (ex2, ey2), (nx, _ny) = face.landmarks[:3]
    iod = math.hypot(ex2 - ex1, ey2 - ey1)
    if iod <= 1e-6:
        return float("inf"), 0.0
    r = (nx - (ex1 + ex2) / 2.0) / iod
    return r, iod / max(face.width, 1e-6)


def classify_pose(
    face: Face,
    *,
    frontal_max_r: float = 0.15,
    profile_min_r: float = 0.55,
    profile_max_iod_ratio: float = 0.30,
    yaw_frontal: float = 20.0,
    yaw_profile: float = 60.0,
) -> tuple[str | None, float | None]:
    """(pose class, measured r or yaw) from the face's pose angles or its landmarks.

    Angles win when a backend gives them (insightface, or Haar's profile cascade); otherwise
    the landmark ratio decides. Returns (None, None) when neither is available.
    """
    if face.pose is not None and face.pose[0] is not None:
        yaw = abs(float(face.pose[0]))
        if yaw < yaw_frontal:
            return "frontal", float(face.pose[0])
        if yaw <= yaw_profile:
            return "three-quarter", float(face.pose[0])
        return "profile", float(face.pose[0])
    measured = yaw_ratio(face)
    if measured is None:
        if face.source == "frontal":  # Haar's frontal cascade only fires on near-frontal faces
            return "frontal", None
        return None, None
    r, iod_ratio = measured
    if abs(r) >= profile_min_r or iod_ratio < profile_max_iod_ratio:
        return "profile", r
    if abs(r) < frontal_max_r:
        return "frontal", r
    return "three-quarter", r


def _crop(gray: np.ndarray, box: Sequence[float]) -> np.ndarray:
    h, w = gray.shape[:2]
    x, y, bw, bh = box
    x0, y0 = max(0, int(math.floor(x))), max(0, int(math.floor(y)))
    x1, y1 = min(w, int(math.ceil(x + bw))), min(h, int(math.ceil(y + bh)))
    return gray[y0:y1, x0:x1]


def face_sharpness(gray: np.ndarray, box: Sequence[float], size: int = 256) -> float | None:
    """Variance of the Laplacian of the face crop resized to ``size`` x ``size``.

    ``gray`` is an 8-bit single-channel image and ``box`` the face box in its pixels. Sharp
    photos measure 180-420, soft video frames 22-28, blurred faces < 15 (domain notes).
    """
    crop = _crop(gray, box)
    if crop.shape[0] < 4 or crop.shape[1] < 4:
        return None
    interp = cv2.INTER_AREA if crop.shape[0] > size else cv2.INTER_CUBIC
    crop = cv2.resize(crop, (size, size), interpolation=interp)
    return float(cv2.Laplacian(crop, cv2.CV_64F).var())


def aspect_bucket(width: int, height: int, resolution: int, step: int = 16) -> tuple[int, int]:
    """The training bucket an image lands in: about ``resolution``^2 pixels, same aspect ratio,
    both sides multiples of ``step`` (never larger than the area budget)."""
    if width <= 0 or height <= 0:
        raise ValueError("image size must be positive")
    scale = math.sqrt(resolution * resolution / (width * height))
    bw = max(step, int(width * scale) // step * step)
    bh = max(step, int(height * scale) // step * step)
    return bw, bh


def dhash(gray: np.ndarray, size: int = 8) -> int:
    """Difference hash (64 bits for size 8): robust to scaling and recompression."""
    small = cv2.resize(gray, (size + 1, size), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int("".join("1" if b else "0" for b in bits), 2)


def phash(gray: np.ndarray, size: int = 8) -> int:
    """DCT perceptual hash (64 bits for size 8)."""
    small = cv2.resize(gray, (size * 4, size * 4), interpolation=cv2.INTER_AREA)
    dct = cv2.dct(small.astype(np.float32))[:size, :size]
    low = dct.ravel()[1:]
    bits = (dct.ravel() > np.median(low)).tolist()
    return int("".join("1" if b else "0" for b in bits), 2)


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def pick_primary(
    faces: Sequence[Face], width: int, height: int, secondary_min_ratio: float = 0.35
) -> tuple[list[Face], int]:
    """Order faces primary first (largest, then most central) and drop tiny spurious ones.

    A face smaller than ``secondary_min_ratio`` x the primary face's height is ignored (a
    pattern in the background, a face on a poster far away). Returns (kept, ignored count).
    """
    if not faces:
        return [], 0
    cx, cy = width / 2.0, height / 2.0
    diag = math.hypot(width, height) or 1.0

    def weight(face: Face) -> float:
        fx, fy = face.center
        off = math.hypot(fx - cx, fy - cy) / diag  # 0 centre .. ~0.5 corner
        return face.height * (1.0 - 0.6 * off)

    ordered = sorted(faces, key=weight, reverse=True)
    primary_h = ordered[0].height
    kept = [f for f in ordered if f.height >= secondary_min_ratio * primary_h]
    return kept, len(ordered) - len(kept)
