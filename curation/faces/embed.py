"""The face embedder as a small core API: the faces of an image -> identity vectors.

For whatever needs "is this the same person?" outside the dataset analysis, e.g. ranking a
training run's checkpoints by how much their samples look like the dataset::

    from curation.faces.embed import embed_faces, similarity

    vectors = embed_faces(sample_rgb)              # largest face first, L2-normalised
    score = similarity(vectors[0], dataset_centroid, embedder_name())

One embedder per process and per (backend, model folder), loaded on first use and shared by
every caller and thread (calls are serialised: detectors are not thread-safe). ``auto`` never
downloads anything: insightface only when its models are already in its cache, then YuNet +
SFace when both files are in the model folder, then dlib (installed with the app). Scores from
`similarity` are on the profile's identity scale whatever the embedder (see
`curation.faces.calibration`), so thresholds such as "outlier below 0.30" mean the same.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path

import numpy as np

from curation.faces.base import Face, FaceBackendError, FaceDetector, normalise
from curation.faces.calibration import calibration_for

__all__ = [
    "EMBEDDERS",
    "detect_faces",
    "embed_faces",
    "embedder_name",
    "get_face_embedder",
    "similarity",
]

EMBEDDERS = ("auto", "insightface", "sface", "dlib")

_CACHE: dict[tuple[str, str], FaceDetector] = {}
_LOCKS: dict[int, threading.Lock] = {}
_CACHE_LOCK = threading.Lock()


def _create(backend: str, model_dir: str | os.PathLike[str] | None) -> FaceDetector:
    from curation.faces.models import find_model
    from curation.faces.registry import create_detector

    if backend == "auto":
        from curation.faces.insightface_backend import models_present

        if importlib.util.find_spec("insightface") is not None and models_present():
            try:
                return create_detector("insightface")
            except FaceBackendError:
                pass
        if find_model("yunet", model_dir) and find_model("sface", model_dir):
            try:
                return create_detector("yunet", model_dir=model_dir)
            except FaceBackendError:
                pass
        return create_detector("dlib", model_dir=model_dir)
    if backend == "sface":
        from curation.faces.models import require_model

        require_model("sface", model_dir)
        return create_detector("yunet", model_dir=model_dir)
    if backend in ("insightface", "dlib"):
        return create_detector(backend, model_dir=model_dir)
    raise FaceBackendError(f"unknown face embedder {backend!r}; use one of {EMBEDDERS}")


def get_face_embedder(
    backend: str = "auto", model_dir: str | os.PathLike[str] | None = None
) -> FaceDetector:
    """The process's detector-with-embeddings for ``backend`` (one of `EMBEDDERS`).

    Raises `FaceBackendError` (with what to do) when it cannot run here."""
    from curation.faces.models import resolve_model_dir

    key = (backend, str(resolve_model_dir(model_dir)))
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is None:
            found = _create(backend, model_dir)
            if not found.has_embeddings:
                raise FaceBackendError(
                    f"the {found.name} backend computes no face embeddings: install dlib-bin "
                    "and face-recognition-models (scripts/setup.sh does)"
                )
            _CACHE[key] = found
            _LOCKS[id(found)] = threading.Lock()
        return found


def embedder_name(backend: str = "auto", model_dir: str | os.PathLike[str] | None = None) -> str:
    """The name of the detector `embed_faces` uses ("yunet+dlib", "insightface", ...): store it
    with saved vectors; vectors of different embedders cannot be compared."""
    return get_face_embedder(backend, model_dir).name


def detect_faces(
    image: np.ndarray | str | os.PathLike[str],
    *,
    backend: str = "auto",
    model_dir: str | os.PathLike[str] | None = None,
) -> list[Face]:
    """Faces with embeddings, largest first. ``image``: an RGB uint8 array (H, W, 3) or a path
    (decoded with EXIF orientation; an unreadable file raises `curation.errors.ImageLoadError`)."""
    if not isinstance(image, np.ndarray):
        from curation.images import load_image

        image = np.asarray(load_image(Path(image)).image)
    detector = get_face_embedder(backend, model_dir)
    with _LOCKS[id(detector)]:
        faces = detector.detect(image)
    faces = [f for f in faces if f.embedding is not None]
    return sorted(faces, key=lambda f: f.height, reverse=True)


def embed_faces(
    image: np.ndarray | str | os.PathLike[str],
    *,
    backend: str = "auto",
    model_dir: str | os.PathLike[str] | None = None,
) -> list[np.ndarray]:
    """One L2-normalised identity vector per face of ``image``, largest face first ([] when no
    face is found)."""
    return [f.embedding for f in detect_faces(image, backend=backend, model_dir=model_dir)]  # type: ignore[misc]


def similarity(a: np.ndarray, b: np.ndarray, embedder: str) -> float:
    """Identity score of two vectors (or a vector and a mean of vectors) of ``embedder``, on the
    profile's scale: below ~0.30 probably another person, 0.30-0.45 worth a look."""
    raw = float(np.dot(normalise(a), normalise(b)))
    return calibration_for(embedder).to_score(raw)
