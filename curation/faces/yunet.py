"""OpenCV YuNet face detector (MIT) with optional SFace embeddings (Apache-2.0).

YuNet gives a box, five landmarks and a score per face. When the SFace model file is in the
model folder too, each face also gets a 128-d L2-normalised embedding (``cv2.FaceRecognizerSF``
aligns the face from the landmarks). Detection runs on a copy of the image scaled down so its
long side is at most ``input_max`` pixels (YuNet is trained on 640 px inputs, larger inputs
only cost time; 512 px gives the same boxes within a pixel or two of jitter on the shared
photos at 0.64x the cost); coordinates are mapped back to the image that was passed in.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

from curation.faces.base import Face, FaceBackendError, normalise
from curation.faces.models import find_model, require_model

__all__ = ["YuNetDetector"]

log = logging.getLogger(__name__)


class YuNetDetector:
    """``cv2.FaceDetectorYN`` behind the `FaceDetector` protocol."""

    has_landmarks = True

    def __init__(
        self,
        model_dir: str | os.PathLike[str] | None = None,
        *,
        model_path: str | os.PathLike[str] | None = None,
        sface_path: str | os.PathLike[str] | None = None,
        use_sface: bool = True,
        score_threshold: float = 0.6,
        nms_threshold: float = 0.3,
        input_max: int = 512,
    ) -> None:
        self.model_path = Path(model_path) if model_path else require_model("yunet", model_dir)
        if sface_path is None and use_sface:
            found = find_model("sface", model_dir)
            sface_path = found if found is not None else None
        self.sface_path = Path(sface_path) if sface_path else None
        self.input_max = int(input_max)
        self.score_threshold = float(score_threshold)
        try:
            self._detector = cv2.FaceDetectorYN.create(
                str(self.model_path), "", (320, 320), score_threshold, nms_threshold, 5000
            )
        except cv2.error as exc:
            raise FaceBackendError(
                f"OpenCV could not load the YuNet model {self.model_path}: {exc}. "
                "Replace the file with the official one (sha256 is checked on download)."
            ) from exc
        self._recognizer = None
        if self.sface_path is not None:
            try:
                self._recognizer = cv2.FaceRecognizerSF.create(str(self.sface_path), "")
            except cv2.error as exc:
                raise FaceBackendError(
                    f"OpenCV could not load the SFace model {self.sface_path}: {exc}"
                ) from exc
        self._size: tuple[int, int] | None = None

    @property
    def has_embeddings(self) -> bool:
        return self._recognizer is not None

    @property
    def name(self) -> str:
        return "yunet+sface" if self._recognizer is not None else "yunet"

    def detect(self, image: np.ndarray) -> list[Face]:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("detect() needs an RGB image of shape (H, W, 3)")
        height, width = image.shape[:2]
        scale = 1.0
        small = image
        long_side = max(height, width)
        if long_side > self.input_max:  # shrink first, then swap channels on fewer pixels
            scale = self.input_max / long_side
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        bgr = cv2.cvtColor(small, cv2.COLOR_RGB2BGR)
        h, w = bgr.shape[:2]
        if self._size != (w, h):
            self._detector.setInputSize((w, h))
            self._size = (w, h)
        _, rows = self._detector.detect(bgr)
        if rows is None:
            return []
        faces = []
        inv = 1.0 / scale
        full_bgr = None
        for row in rows:
            if not np.all(np.isfinite(row[:15])):  # seen on tiny flat images: no face
                continue
            x, y, fw, fh = (float(v) for v in row[:4])
            marks = [(float(row[4 + 2 * i]), float(row[5 + 2 * i])) for i in range(5)]
            embedding = None
            if self._recognizer is not None:
                # Align on the full-size image: a small face in the detector's input would be
                # upscaled to SFace's 112 px and lose the detail identity depends on.
                if full_bgr is None:
                    full_bgr = bgr if scale == 1.0 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
                full_row = row.copy()
                full_row[:14] *= inv
                aligned = self._recognizer.alignCrop(full_bgr, full_row)
                embedding = normalise(self._recognizer.feature(aligned))
            face = Face(
                box=(x, y, fw, fh),
                score=float(row[14]),
                landmarks=marks,
                embedding=embedding,
                source=self.name,
            )
            faces.append(face.scaled(inv) if scale != 1.0 else face)
        return faces
