"""Identity thresholds per embedder: each embedder's cosines mapped onto one score scale.

The profile's identity thresholds (outlier < 0.30, review < 0.45, near-duplicate >= 0.92) are
ArcFace cosines (insightface); SFace's cosines sit on about the same scale (OpenCV's own
same-person threshold is 0.363). dlib's ResNet descriptor is trained for Euclidean distance
(same person < 0.6 on raw vectors of norm ~1.4), so its cosines are compressed near 1. Measured
on the shared photos with ``.venv/bin/python bench/face_identity.py`` (the set of
tests/curation/test_faces_dlib.py; YuNet boxes, HOG boxes within 0.01): an image's cosine to the
mean of the same person's other images was 0.970-0.991 (crops, mirrored copies, a three-quarter
view and a full-body shot included), and 0.808-0.863 for images of four other people (the
highest: a profile view). Pairwise: same person 0.946-0.9998, different people 0.790-0.876,
a mirrored copy 0.987-0.995, the same photo re-cropped 0.996-0.9999.

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
# Anchors (raw cosine -> score): 0.90 -> 0.30 (outlier below: other people measured <= 0.863 to
# the mean), 0.93 -> 0.45 (review below: the same person measured >= 0.970), 0.995 -> 0.92
# (near-duplicate: the same photo re-cropped measured >= 0.996, a mirrored copy <= 0.995),
# 0.70 -> 0.0.
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
