"""The face-detector protocol every backend implements, and the `Face` it returns.

Coordinates are pixels of the image handed to ``detect`` (an RGB ``uint8`` array of shape
``(H, W, 3)``). Landmarks are the usual five points in image order: eye on the image left, eye
on the image right, nose tip, mouth corner on the image left, mouth corner on the image right.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from curation.errors import LikenessError

__all__ = [
    "Face",
    "FaceDetector",
    "FaceBackendError",
    "ModelMissingError",
    "LicenseNotAcceptedError",
    "IDENTITY_NEEDS",
]

IDENTITY_NEEDS = "identity check needs a face embedder (dlib, SFace or insightface)"


class FaceBackendError(LikenessError):
    """A face backend cannot be used (missing package, broken model file, ...)."""


class ModelMissingError(FaceBackendError):
    """A model file the backend needs is not in the model folder."""


class LicenseNotAcceptedError(FaceBackendError):
    """The backend's models would be downloaded under a licence the user has not accepted."""


@dataclass
class Face:
    """One detected face."""

    box: tuple[float, float, float, float]  # x, y, width, height
    score: float
    landmarks: list[tuple[float, float]] | None = None  # five points, see module docstring
    embedding: np.ndarray | None = field(default=None, repr=False)  # L2-normalised
    pose: tuple[float, float, float] | None = None  # yaw, pitch, roll in degrees
    source: str = ""  # e.g. "frontal" / "profile" for Haar, the backend name otherwise

    @property
    def width(self) -> float:
        return self.box[2]

    @property
    def height(self) -> float:
        return self.box[3]

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2.0, y + h / 2.0

    def scaled(self, factor: float) -> Face:
        """The same face in an image scaled by ``factor`` (e.g. back to the original size)."""
        x, y, w, h = self.box
        marks = None
        if self.landmarks is not None:
            marks = [(px * factor, py * factor) for px, py in self.landmarks]
        return Face(
            box=(x * factor, y * factor, w * factor, h * factor),
            score=self.score,
            landmarks=marks,
            embedding=self.embedding,
            pose=self.pose,
            source=self.source,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the embedding as a list of floats rounded to 5 digits)."""
        return {
            "box": [round(float(v), 2) for v in self.box],
            "score": round(float(self.score), 4),
            "landmarks": (
                [[round(float(x), 2), round(float(y), 2)] for x, y in self.landmarks]
                if self.landmarks is not None
                else None
            ),
            "embedding": (
                [round(float(v), 5) for v in self.embedding] if self.embedding is not None else None
            ),
            "pose": [round(float(v), 2) for v in self.pose] if self.pose is not None else None,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Face:
        emb = data.get("embedding")
        marks = data.get("landmarks")
        pose = data.get("pose")
        return cls(
            box=tuple(float(v) for v in data["box"]),  # type: ignore[arg-type]
            score=float(data["score"]),
            landmarks=[(float(x), float(y)) for x, y in marks] if marks is not None else None,
            embedding=np.asarray(emb, dtype=np.float32) if emb is not None else None,
            pose=tuple(float(v) for v in pose) if pose is not None else None,  # type: ignore[arg-type]
            source=str(data.get("source", "")),
        )


def normalise(vector: np.ndarray) -> np.ndarray:
    """L2-normalise an embedding (a zero vector stays zero)."""
    vec = np.asarray(vector, dtype=np.float32).ravel()
    norm = float(np.linalg.norm(vec))
    return vec / norm if norm > 0 else vec


@runtime_checkable
class FaceDetector(Protocol):
    """What the analysis needs from a backend."""

    name: str  # "insightface", "yunet", "yunet+sface", "yunet+dlib", "hog+dlib" or "haar"
    has_landmarks: bool
    has_embeddings: bool

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image of shape (H, W, 3), best first is not required."""
        ...
