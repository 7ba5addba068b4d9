"""Face detection backends behind one protocol (see `curation.faces.base`)."""

from curation.faces.base import (
    IDENTITY_NEEDS,
    Face,
    FaceBackendError,
    FaceDetector,
    LicenseNotAcceptedError,
    ModelMissingError,
)
from curation.faces.registry import BACKENDS, available_backends, create_detector

__all__ = [
    "BACKENDS",
    "IDENTITY_NEEDS",
    "Face",
    "FaceBackendError",
    "FaceDetector",
    "LicenseNotAcceptedError",
    "ModelMissingError",
    "available_backends",
    "create_detector",
]
