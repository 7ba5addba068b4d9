"""What the ranking measures on one image (a grid cell or a dataset image), no Qt, no torch
unless a CLIP model is used.

* the main face (largest): its identity vector (``curation.faces.embed``) and its height over
  the image height (the shot tier measure of the curation side);
* a perceptual hash (``curation.analysis.measures.phash``) for copies of training images;
* a small layout descriptor (a 16 x 16 grey thumbnail, zero mean, unit length) for collapse
  when no CLIP model is there.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

# Faces are looked for in a copy no larger than this (the tier ratio does not change with scale).
DETECT_MAX_SIDE = 1024


@dataclass
class ImageFeatures:
    path: Path
    error: str | None = None
    face: np.ndarray | None = None  # identity vector of the main face
    face_ratio: float | None = None  # face height / image height
    faces: int = 0
    phash: int | None = None
    layout: np.ndarray | None = None
    clip: np.ndarray | None = None
    pil: Any = field(default=None, repr=False)  # kept only until CLIP has seen it


class FaceSource:
    """The face embedder, or the reason it cannot run (then every face is None)."""

    def __init__(self, backend: str = "auto", model_dir: str | os.PathLike[str] | None = None):
        from curation.faces.base import FaceBackendError
        from curation.faces.embed import embedder_name

        self.backend, self.model_dir = backend, model_dir
        try:
            self.name: str | None = embedder_name(backend, model_dir)
            self.reason: str | None = None
        except FaceBackendError as exc:
            self.name, self.reason = None, f"no face embedder: {exc}"

    def faces(self, rgb: np.ndarray) -> list[Any]:
        from curation.faces.embed import detect_faces

        if self.name is None:
            return []
        return detect_faces(rgb, backend=self.backend, model_dir=self.model_dir)


def measure(path: Path, faces: FaceSource, keep_pil: bool = False) -> ImageFeatures:
    """Features of one image; an unreadable image is an entry with ``error`` set."""
    import cv2

    from curation.analysis.measures import phash
    from curation.errors import LikenessError
    from curation.images import load_image

    out = ImageFeatures(Path(path))
    try:
        im = load_image(path).image
    except (LikenessError, OSError) as exc:
        out.error = str(exc)
        return out
    rgb = np.asarray(im.convert("RGB"))
    scale = min(1.0, DETECT_MAX_SIDE / max(rgb.shape[:2]))
    small = (
        cv2.resize(
            rgb,
            (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)),
            interpolation=cv2.INTER_AREA,
        )
        if scale < 1.0
        else rgb
    )
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
    out.phash = phash(gray)
    thumb = cv2.resize(gray, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
    thumb -= thumb.mean()
    n = float(np.linalg.norm(thumb))
    out.layout = thumb / n if n > 0 else thumb
    try:
        found = faces.faces(np.ascontiguousarray(small))
    except Exception as exc:  # noqa: BLE001 - a detector failing on one image ends nothing
        log.warning("face detection failed on %s: %s", path, exc)
        found = []
    out.faces = len(found)
    if found:
        main = found[0]
        out.face = main.embedding
        out.face_ratio = float(main.height) / small.shape[0]
    if keep_pil:
        out.pil = im.convert("RGB")
    return out


def tier_of_ratio(ratio: float | None) -> str | None:
    """close-up / medium / full-body from the face-height ratio (the default profile's
    thresholds: close-up >= 0.38, medium >= 0.18)."""
    from curation.analysis.measures import classify_tier

    if ratio is None:
        return None
    return classify_tier(ratio, 0.38, 0.18)[0]


def collapse_of(samples: list[tuple[dict, ImageFeatures]]) -> tuple[float | None, str]:
    """Mean similarity of samples of different prompts at the same seed and strength."""
    groups: dict[tuple, list[tuple[int, ImageFeatures]]] = {}
    for cell, f in samples:
        if f.error is None:
            groups.setdefault((cell["seed"], cell["strength"]), []).append((cell["prompt"], f))
    kind = "clip" if all(f.clip is not None for _, f in samples if f.error is None) else "layout"
    sims = []
    for members in groups.values():
        for (pa, a), (pb, b) in combinations(members, 2):
            if pa != pb:
                va, vb = (a.clip, b.clip) if kind == "clip" else (a.layout, b.layout)
                if va is not None and vb is not None:
                    sims.append(float(np.dot(va, vb)))
    return (float(np.mean(sims)) if sims else None), kind
