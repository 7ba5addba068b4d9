"""Choosing a face backend by name, and ``auto``: the best one that can run here.

Order for ``auto``: insightface (only when its models are already in insightface's cache, or
the user accepted their licence), then YuNet + SFace (when both files are in the model folder),
then dlib (installed with the app: YuNet or dlib's HOG detector, the dlib ResNet descriptor),
then detection only (YuNet without embeddings, else Haar, which always works).
``create_detector`` returns the detector; `identity_unchecked_note` says why a backend gave
no identity check and what fixes it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, field

from curation.faces.base import FaceBackendError, FaceDetector
from curation.faces.models import find_model

__all__ = [
    "BACKENDS",
    "BackendInfo",
    "available_backends",
    "create_detector",
    "identity_unchecked_note",
]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "insightface", "yunet", "dlib", "haar")


@dataclass
class BackendInfo:
    name: str
    available: bool
    landmarks: bool
    embeddings: bool
    note: str = ""
    tried: list[str] = field(default_factory=list)


def available_backends(
    model_dir: str | os.PathLike[str] | None = None,
    insightface_root: str | os.PathLike[str] | None = None,
) -> list[BackendInfo]:
    """What each backend can do on this machine, without loading any model."""
    from curation.faces.dlib_backend import dlib_available
    from curation.faces.insightface_backend import models_present

    has_if = importlib.util.find_spec("insightface") is not None
    if_models = has_if and models_present(insightface_root)
    yunet = find_model("yunet", model_dir) is not None
    sface = find_model("sface", model_dir) is not None
    dlib_missing = dlib_available(model_dir)
    return [
        BackendInfo(
            "insightface",
            has_if,
            True,
            True,
            "" if if_models else "models download on first use (non-commercial licence)",
        ),
        BackendInfo(
            "yunet",
            yunet,
            True,
            yunet and sface,
            ("with SFace embeddings" if sface else "no SFace file: no identity check")
            if yunet
            else "face_detection_yunet_2023mar.onnx is not in the model folder",
        ),
        BackendInfo(
            "dlib",
            dlib_missing is None,
            True,
            dlib_missing is None,
            dlib_missing
            or ("YuNet + dlib face descriptor" if yunet else "dlib HOG + dlib face descriptor"),
        ),
        BackendInfo("haar", True, False, False, "no landmarks or embeddings"),
    ]


def identity_unchecked_note(backend: str, model_dir: str | os.PathLike[str] | None = None) -> str:
    """'identity not checked: <reason>. Fix: <what to do>' for a backend without embeddings."""
    from curation.faces.dlib_backend import dlib_available

    missing = dlib_available(model_dir)
    if missing is None:
        return (
            f"identity not checked: the {backend} backend computes no face embeddings. "
            "Fix: analyse again with the auto or dlib backend"
        )
    return (
        f"identity not checked: the {backend} backend computes no face embeddings and the "
        f"built-in embedder cannot run ({missing}). Fix: install it, or copy "
        f"{_sface_name()} into the model folder"
    )


def _sface_name() -> str:
    from curation.faces.models import MODEL_FILES

    return MODEL_FILES["sface"].filename


def create_detector(
    backend: str = "auto",
    *,
    model_dir: str | os.PathLike[str] | None = None,
    accept_license: bool = False,
    insightface_root: str | os.PathLike[str] | None = None,
    det_size: int = 640,
) -> FaceDetector:
    """A ready detector. ``backend`` is one of `BACKENDS`; errors name what to do."""
    if backend not in BACKENDS:
        raise FaceBackendError(f"unknown face backend {backend!r}; use one of {BACKENDS}")
    if backend == "insightface":
        from curation.faces.insightface_backend import InsightFaceDetector

        return InsightFaceDetector(
            root=insightface_root, accept_license=accept_license, det_size=det_size
        )
    if backend == "yunet":
        from curation.faces.yunet import YuNetDetector

        return YuNetDetector(model_dir)
    if backend == "dlib":
        from curation.faces.dlib_backend import DlibDetector

        return DlibDetector(model_dir)
    if backend == "haar":
        from curation.faces.haar import HaarDetector

        return HaarDetector()
    return _auto(model_dir, accept_license, insightface_root, det_size)


def _auto(model_dir, accept_license, insightface_root, det_size) -> FaceDetector:
    from curation.faces.insightface_backend import models_present

    if importlib.util.find_spec("insightface") is not None and (
        accept_license or models_present(insightface_root)
    ):
        try:
            return create_detector(
                "insightface",
                accept_license=accept_license,
                insightface_root=insightface_root,
                det_size=det_size,
            )
        except FaceBackendError as exc:
            log.warning("auto: insightface unavailable (%s); trying YuNet + SFace", exc)
    has_yunet = find_model("yunet", model_dir) is not None
    if has_yunet and find_model("sface", model_dir) is not None:
        try:
            return create_detector("yunet", model_dir=model_dir)
        except FaceBackendError as exc:
            log.warning("auto: YuNet + SFace unavailable (%s); trying dlib", exc)
    try:
        return create_detector("dlib", model_dir=model_dir)
    except FaceBackendError as exc:
        log.warning("auto: dlib unavailable (%s); detection only, no identity check", exc)
    if has_yunet:
        try:
            return create_detector("yunet", model_dir=model_dir)
        except FaceBackendError as exc:
            log.warning("auto: YuNet unavailable (%s); using Haar cascades", exc)
    return create_detector("haar")
