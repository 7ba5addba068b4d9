"""insightface plumbing on tiny ONNX models with buffalo_l's signatures (no real weights here).

insightface's own FaceAnalysis loads them from ``<root>/models/buffalo_l``, routes them by
their outputs (SCRFD detector, ArcFace recogniser), runs them and decodes boxes, landmarks
and embeddings; our backend turns that into `Face` objects.
"""

from __future__ import annotations

import numpy as np
import pytest

from curation.faces import LicenseNotAcceptedError, create_detector
from curation.faces.insightface_backend import InsightFaceDetector, models_present
from tests.curation.tiny_insightface import build_buffalo

pytest.importorskip("insightface")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    base = tmp_path_factory.mktemp("insightface")
    build_buffalo(base)
    return base


def white_cell(size: int, col: int, row: int, scale: int) -> np.ndarray:
    """An image whose 640-px detector input has one white 32x32 cell at (col, row)."""
    image = np.zeros((size, size, 3), np.uint8)
    c = 32 * scale
    image[row * c : (row + 1) * c, col * c : (col + 1) * c] = 255
    return image


def test_loads_detects_and_embeds(root):
    det = InsightFaceDetector(root=root)
    assert det.name == "insightface" and det.has_landmarks and det.has_embeddings
    assert det.providers[-1] == "CPUExecutionProvider"
    faces = det.detect(white_cell(1280, col=10, row=8, scale=2))
    assert len(faces) == 1
    face = faces[0]
    # 128x128 box centred on (320, 256) of the 640 input, i.e. doubled in the 1280 image.
    assert face.box == pytest.approx((512, 384, 256, 256), abs=1)
    assert face.score > 0.9
    left_eye, right_eye, nose = face.landmarks[:3]
    assert left_eye == pytest.approx((640 - 0.6 * 64, 512 - 0.4 * 64), abs=1)
    assert right_eye[0] > nose[0] > left_eye[0]
    assert face.embedding.shape == (512,)
    assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-5)
    assert face.pose is None  # no landmark_3d_68 model in this pack


def test_two_faces_and_none(root):
    det = InsightFaceDetector(root=root)
    image = white_cell(640, col=5, row=5, scale=1)
    image[15 * 32 : 16 * 32, 14 * 32 : 15 * 32] = 255
    faces = det.detect(image)
    assert sorted(round(f.center[0]) for f in faces) == [160, 448]
    assert det.detect(np.zeros((480, 640, 3), np.uint8)) == []


def test_embedding_follows_the_face_content(root):
    det = InsightFaceDetector(root=root)
    a = white_cell(640, col=10, row=10, scale=1)
    b = a.copy()
    b[300:340, 300:340] = 128  # changes the aligned crop, so the embedding
    ea, eb = det.detect(a)[0].embedding, det.detect(b)[0].embedding
    assert float(ea @ ea) == pytest.approx(1.0, abs=1e-5)
    assert float(ea @ eb) < 0.999


def test_licence_gate_and_auto(root, tmp_path, shared_dir):
    assert models_present(root) and not models_present(tmp_path)
    with pytest.raises(LicenseNotAcceptedError):
        InsightFaceDetector(root=tmp_path)
    # Present models need no acceptance, and auto prefers them over YuNet.
    det = create_detector("auto", model_dir=shared_dir / "models", insightface_root=root)
    assert det.name == "insightface"


def test_cuda_provider_is_used_when_onnxruntime_has_it(monkeypatch):
    import onnxruntime

    from curation.faces import insightface_backend

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])  # fmt: skip
    assert insightface_backend._providers() == (
        ["CUDAExecutionProvider", "CPUExecutionProvider"],
        0,
    )
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert insightface_backend._providers() == (["CPUExecutionProvider"], -1)
