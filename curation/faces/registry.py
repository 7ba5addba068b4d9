"""Choosing a face backend by name, and ``auto``: the best one that can run here.

Order for ``auto``: insightface (when its models are already in insightface's cache, or the
user accepted their licence), then YuNet (+ SFace when its file is present), then Haar, which
always works. ``create_detector`` returns the detector and ``describe`` says which ran and why.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from dataclasses import dataclass, field

from curation.faces.base import FaceBackendError, FaceDetector
from curation.faces.models import find_model

__all__ = ["BACKENDS", "BackendInfo", "available_backends", "create_detector"]

log = logging.getLogger(__name__)

BACKENDS = ("auto", "insightface", "yunet", "haar")


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
    from curation.faces.insightface_backend import models_present

    has_if = importlib.util.find_spec("insightface") is not None
    if_models = has_if and models_present(insightface_root)
    yunet = find_model("yunet", model_dir) is not None
    sface = find_model("sface", model_dir) is not None
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
        BackendInfo("haar", True, False, False, "no landmarks or embeddings"),
    ]


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
            log.warning("auto: insightface unavailable (%s); trying YuNet", exc)
    if find_model("yunet", model_dir) is not None:
        try:
            return create_detector("yunet", model_dir=model_dir)
        except FaceBackendError as exc:
            log.warning("auto: YuNet unavailable (%s); using Haar cascades", exc)
    return create_detector("haar")
