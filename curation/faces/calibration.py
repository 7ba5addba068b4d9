"""Identity thresholds per embedder: each embedder's cosines mapped onto one score scale.

The profile's identity thresholds (outlier < 0.30, review < 0.45, near-duplicate >= 0.92) are
ArcFace cosines (insightface); SFace's cosines sit on about the same scale (OpenCV's own
same-person threshold is 0.363). dlib's ResNet descriptor is trained for Euclidean distance
(same person < 0.6 on raw vectors of norm ~1.4), so its cosines are compressed near 1: on the
shared photos (tests/curation/test_faces_dlib.py), an image's cosine to the mean of the other
images of the same person was 0.966-0.991 (crops, mirrored copies, a three-quarter view and a
full-body shot included), and 0.817-0.888 for images of four other people (a profile view
included). Pairwise: mirrored copy or re-encode 0.994-0.9996.

`Calibration.to_score` maps an embedder's raw cosine onto the ArcFace-like score the profile
and the UI use (piecewise linear through measured anchors, monotonic); `to_raw` is its
inverse, to turn a profile threshold into the embedder's own cosine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Calibration", "IDENTITY", "DLIB", "calibration_for"]


@dataclass(frozen=True)
class Calibration:
    name: str
    raw: tuple[float, ...]  # the embedder's cosines, increasing, from -1 to 1
    score: tuple[float, ...]  # the scores they map to, increasing

    def to_score(self, value: float) -> float:
        return float(np.interp(value, self.raw, self.score))

    def to_raw(self, score: float) -> float:
        return float(np.interp(score, self.score, self.raw))


IDENTITY = Calibration("cosine", (-1.0, 1.0), (-1.0, 1.0))
# Anchors (raw cosine -> score): 0.90 -> 0.30 (outlier below: the others measured <= 0.888),
# 0.93 -> 0.45 (review below: the same person measured >= 0.966), 0.995 -> 0.92 (near-duplicate:
# mirrored copies and re-encodes measured 0.994-0.9996), 0.70 -> 0.0.
DLIB = Calibration(
    "dlib-resnet",
    (-1.0, 0.70, 0.90, 0.93, 0.995, 1.0),
    (-1.0, 0.0, 0.30, 0.45, 0.92, 1.0),
)


def calibration_for(backend: str) -> Calibration:
    """The calibration of the embedder a backend name ("yunet+dlib", "insightface") uses."""
    if backend.endswith("+dlib") or backend == "dlib":
        return DLIB
    return IDENTITY
