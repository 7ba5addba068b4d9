"""dlib face identity: the ResNet face descriptor (128-D), aligned with the 5-point predictor.

Installed with the app (no download, no licence dialog): the ``dlib-bin`` wheel (the dlib
library, Boost Software License 1.0) and ``face-recognition-models`` (the model files, the
package is CC0 1.0). Per model file, from the model author's notes (github.com/davisking/dlib-models,
README: "anyone can do whatever they want with these model files as I've released them into
the public domain"):

* ``shape_predictor_5_face_landmarks.dat``: eye corners and nose bottom; trained on dlib's own
  5-point face landmark dataset (7,198 faces Davis King annotated). Public domain. Used.
* ``dlib_face_recognition_resnet_model_v1.dat``: a 29-layer ResNet trained from scratch on about
  3 million faces (FaceScrub, VGG-Face, images the author collected). Public domain as released
  by its author. Used.
* ``shape_predictor_68_face_landmarks.dat``: trained on iBUG 300-W, whose licence excludes
  commercial use. Never loaded.
* ``mmod_human_face_detector.dat``: not used (slow without a GPU).

Faces are found by YuNet when its model file is in the model folder (five landmarks, profiles
too), else by dlib's own HOG detector, which is part of the library (frontal and turned faces,
no file). Each face is aligned from the 5-point predictor and embedded by the ResNet; the
descriptor (Euclidean metric, same person < 0.6 apart) is stored L2-normalised like every other
backend's; `curation.faces.calibration` maps its cosines onto the profile's thresholds.

Model files are looked up first in the model folder under their official names (for an install
without the package), then in the ``face_recognition_models`` package. One embedder is loaded
per process (`get_embedder`). The descriptor network holds the GIL for ~77 CPU ms per face, so
it runs in a small persistent pool of child processes (`curation.faces.dlib_pool`, started on
the first face, reused for every later analysis): the caller aligns the face (~1 ms), cuts its
150x150 chip with ``dlib.get_face_chip`` (the chip ``compute_face_descriptor`` cuts itself:
the same vector) and waits with the GIL released, so two images' descriptors run on two
cores. ``LIKENESS_DLIB_WORKERS=0`` (or a pool that cannot start) keeps it in-process.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np

from curation.faces.base import Face, FaceBackendError, ModelMissingError, normalise

__all__ = [
    "DLIB_FILES",
    "DlibDetector",
    "DlibEmbedder",
    "dlib_available",
    "find_dlib_models",
    "get_embedder",
]

log = logging.getLogger(__name__)

PREDICTOR = "shape_predictor_5_face_landmarks.dat"
DESCRIPTOR = "dlib_face_recognition_resnet_model_v1.dat"
DLIB_FILES = (PREDICTOR, DESCRIPTOR)
INSTALL_HINT = "pip install dlib-bin face-recognition-models (scripts/setup.sh installs both)"

# HOG boxes run from the brows to above the chin; YuNet's (and insightface's) from the hairline
# to the chin. On the shared photos (7 faces, full size and half size) YuNet height / HOG height
# was 0.98-1.39, median 1.22, and YuNet's box reached ~3/4 of the difference higher and ~1/4
# lower: boxes stretched that way keep the shot tiers meaning the same with either detector.
HOG_HEIGHT_CALIBRATION = 1.22
HOG_GROW_UP = 0.75


def _package_models() -> Path | None:
    """The ``face_recognition_models/models`` folder, found without importing the package (its
    ``__init__`` imports ``pkg_resources``, which recent setuptools no longer ships)."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "models"
        if folder.is_dir():
            return folder
    return None


def find_dlib_models(model_dir: str | os.PathLike[str] | None = None) -> dict[str, Path] | None:
    """{file name: path} for the predictor and the descriptor, or None when one is missing.

    The model folder wins over the package, so a user can drop newer copies there."""
    from curation.faces.models import resolve_model_dir

    folders = []
    try:
        folders.append(resolve_model_dir(model_dir))
    except OSError:  # an unwritable default folder: the package copy still works
        pass
    package = _package_models()
    if package is not None:
        folders.append(package)
    out: dict[str, Path] = {}
    for name in DLIB_FILES:
        for folder in folders:
            path = folder / name
            if path.is_file():
                out[name] = path
                break
    return out if len(out) == len(DLIB_FILES) else None


def dlib_available(model_dir: str | os.PathLike[str] | None = None) -> str | None:
    """None when the dlib backend can run here, else the reason it cannot (with the fix)."""
    if importlib.util.find_spec("dlib") is None:
        return f"dlib is not installed: {INSTALL_HINT}"
    if find_dlib_models(model_dir) is None:
        return f"the dlib model files {', '.join(DLIB_FILES)} are missing: {INSTALL_HINT}"
    return None


class DlibEmbedder:
    """The 5-point predictor and the ResNet descriptor, loaded once (see `get_embedder`)."""

    def __init__(
        self, model_dir: str | os.PathLike[str] | None = None, *, workers: int | None = None
    ) -> None:
        try:
            import dlib as dlib_module
        except ImportError as exc:
            raise FaceBackendError(
                f"dlib is not installed or broken ({exc}): {INSTALL_HINT}"
            ) from exc
        dlib: Any = dlib_module  # dlib-bin ships no type information for its C++ classes
        files = find_dlib_models(model_dir)
        if files is None:
            raise ModelMissingError(
                f"the dlib model files {', '.join(DLIB_FILES)} are neither in the model folder "
                f"nor in the face_recognition_models package: {INSTALL_HINT}"
            )
        try:
            self._predictor = dlib.shape_predictor(str(files[PREDICTOR]))
            self._descriptor = dlib.face_recognition_model_v1(str(files[DESCRIPTOR]))
        except RuntimeError as exc:  # dlib raises RuntimeError for a damaged .dat file
            raise FaceBackendError(
                f"dlib could not load {files[PREDICTOR].parent}: {exc}; reinstall "
                "face-recognition-models"
            ) from exc
        self.dlib = dlib
        self.files = files
        self._lock = threading.Lock()  # dlib objects are not documented as thread-safe
        from curation.faces.dlib_pool import default_pool_size

        self.workers = default_pool_size() if workers is None else max(0, int(workers))
        self._pool: Any = None  # None: not started yet; False: in-process from now on
        self._pool_lock = threading.Lock()

    def shape(self, rgb: np.ndarray, box: tuple[float, float, float, float]):
        x, y, w, h = box
        rect = self.dlib.rectangle(
            int(round(x)), int(round(y)), int(round(x + w)), int(round(y + h))
        )
        with self._lock:
            return self._predictor(rgb, rect)

    def descriptor(self, rgb: np.ndarray, shape) -> np.ndarray:
        """The raw 128-D descriptor (Euclidean metric) of the face ``shape`` aligns."""
        with self._lock:
            return np.asarray(self._descriptor.compute_face_descriptor(rgb, shape, 0))

    @property
    def parallel(self) -> int:
        """How many descriptors can run at once (the pool's size; 1 in-process)."""
        return max(1, self.workers) if self._pool is not False else 1

    def pool(self):
        """The descriptor pool (started on the first call), or None: in-process."""
        if self._pool is None:
            with self._pool_lock:
                if self._pool is None and self.workers < 1:
                    self._pool = False
                elif self._pool is None:
                    from curation.faces.dlib_pool import DescriptorPool

                    try:
                        self._pool = DescriptorPool(self.files[DESCRIPTOR], self.workers)
                    except FaceBackendError as exc:
                        log.warning("%s; the face descriptor runs in this process", exc)
                        self._pool = False
        return self._pool or None

    def close(self) -> None:
        """End the descriptor pool (a later `embed` runs in-process)."""
        with self._pool_lock:
            pool, self._pool = self._pool, False
        if pool:
            pool.close()

    def embed(
        self, rgb: np.ndarray, boxes: list[tuple[float, float, float, float]]
    ) -> list[np.ndarray]:
        """One L2-normalised 128-D vector per box (x, y, w, h in ``rgb``'s pixels).

        Raises `FaceBackendError` when a pool worker fails this request (the next request
        starts it again)."""
        rgb = np.ascontiguousarray(rgb)
        shapes = [self.shape(rgb, box) for box in boxes]
        pool = self.pool() if shapes else None
        if pool is None:
            return [normalise(self.descriptor(rgb, sh)) for sh in shapes]
        chips = [self.dlib.get_face_chip(rgb, sh, size=150, padding=0.25) for sh in shapes]
        return [normalise(vec) for vec in pool.compute(chips)]

    @staticmethod
    def eye_nose(shape) -> list[tuple[float, float]]:
        """Eye centres (image left first) and the nose bottom from a 5-point shape."""
        pts = [(float(shape.part(i).x), float(shape.part(i).y)) for i in range(5)]
        eyes = sorted(
            [((pts[0][0] + pts[1][0]) / 2, (pts[0][1] + pts[1][1]) / 2),
             ((pts[2][0] + pts[3][0]) / 2, (pts[2][1] + pts[3][1]) / 2)]
        )  # fmt: skip
        return [eyes[0], eyes[1], pts[4]]


_CACHE: dict[tuple[str, ...], DlibEmbedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(model_dir: str | os.PathLike[str] | None = None) -> DlibEmbedder:
    """The process's `DlibEmbedder` for these model files (loaded on the first call)."""
    files = find_dlib_models(model_dir)
    key = tuple(str(p) for p in files.values()) if files else ("missing",)
    with _CACHE_LOCK:
        found = _CACHE.get(key)
        if found is None:
            found = _CACHE[key] = DlibEmbedder(model_dir)
        return found


class DlibDetector:
    """YuNet (or dlib's HOG detector) + the dlib descriptor behind the `FaceDetector` protocol."""

    has_landmarks = True
    has_embeddings = True

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        yunet_path: str | os.PathLike[str] | None = None,
        use_yunet: bool = True,
        hog_input_max: int = 640,
    ) -> None:
        from curation.faces.models import find_model

        self.embedder = get_embedder(model_dir)
        if yunet_path is None and use_yunet:
            yunet_path = find_model("yunet", model_dir)
        self._yunet = None
        if yunet_path is not None:
            from curation.faces.yunet import YuNetDetector

            try:
                self._yunet = YuNetDetector(model_path=yunet_path, use_sface=False)
            except FaceBackendError as exc:  # a damaged file must not cost the identity check
                log.warning("YuNet unusable (%s); dlib's own detector finds the faces", exc)
        self._hog = (
            None if self._yunet is not None else self.embedder.dlib.get_frontal_face_detector()
        )
        self._hog_lock = threading.Lock()
        self._yunet_lock = threading.Lock()  # one cv2 FaceDetectorYN: one call at a time
        self.hog_input_max = int(hog_input_max)

    @property
    def parallel(self) -> int:
        """How many images the analysis may detect at once: while one image waits for its
        descriptors (GIL released), another is found and aligned."""
        return self.embedder.parallel

    @property
    def name(self) -> str:
        return "yunet+dlib" if self._yunet is not None else "hog+dlib"

    def detect(self, image: np.ndarray) -> list[Face]:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("detect() needs an RGB image of shape (H, W, 3)")
        rgb = np.ascontiguousarray(image)
        if self._yunet is not None:
            with self._yunet_lock:
                found = [(face, face.box) for face in self._yunet.detect(rgb)]
        else:
            found = self._hog_faces(rgb)
        vectors = self.embedder.embed(rgb, [align for _, align in found])
        faces = []
        for (face, _), vec in zip(found, vectors, strict=True):
            face.embedding = vec
            face.source = self.name
            faces.append(face)
        return faces

    def _hog_faces(self, rgb: np.ndarray) -> list[tuple[Face, tuple[float, float, float, float]]]:
        """(face, the HOG box the predictor aligns from) per face found by dlib's detector."""
        import cv2

        height, width = rgb.shape[:2]
        scale = min(1.0, self.hog_input_max / max(height, width))
        small = rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        # Grey: the same boxes on the shared photos at ~3/4 of the CPU time of RGB.
        small = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        with self._hog_lock:
            assert self._hog is not None  # built whenever YuNet is not used
            rects, scores, _ = self._hog.run(small, 0, 0.0)
            if not rects:  # faces under ~80 px: look again at twice the size (face-less only)
                rects, scores, _ = self._hog.run(small, 1, 0.0)
        out = []
        inv = 1.0 / scale
        for rect, score in zip(rects, scores, strict=True):
            x, y = rect.left() * inv, rect.top() * inv
            w, h = rect.width() * inv, rect.height() * inv
            shape = self.embedder.shape(rgb, (x, y, w, h))
            tall = h * HOG_HEIGHT_CALIBRATION
            face = Face(
                box=(x, y - HOG_GROW_UP * (tall - h), w, tall),
                score=float(1.0 / (1.0 + np.exp(-2.0 * float(score)))),
                landmarks=self.embedder.eye_nose(shape),
            )
            out.append((face, (x, y, w, h)))
        return out
