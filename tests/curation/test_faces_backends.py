"""Face backends on the shared real photos, the model-file plumbing and backend choice."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from curation.faces import (
    FaceBackendError,
    LicenseNotAcceptedError,
    ModelMissingError,
    available_backends,
    create_detector,
)
from curation.faces.base import Face, FaceDetector
from curation.faces.models import MODEL_FILES, ModelDownloadError, download_model, find_model
from tests.curation.tiny_insightface import build_arcface


def rgb(path: Path, max_side: int | None = None) -> np.ndarray:
    im = Image.open(path).convert("RGB")
    if max_side and max(im.size) > max_side:
        im.thumbnail((max_side, max_side))
    return np.asarray(im)


@pytest.fixture(scope="module")
def yunet():
    from curation.faces.yunet import YuNetDetector
    from tests.conftest import SHARED

    path = SHARED / "models/face_detection_yunet_2023mar.onnx"
    if not path.is_file():
        pytest.skip("YuNet model not in shared/models")
    return YuNetDetector(model_path=path)


# file, faces, face-height / image-height (README, measured with YuNet), yaw ratio sign class
REAL = [
    ("face_recognition/obama.jpg", 1, 0.283),
    ("face_recognition/obama2.jpg", 1, 0.325),
    ("face_recognition/obama3.jpg", 1, 0.150),
    ("face_recognition/biden.jpg", 1, 0.175),
    ("face_recognition/two_people.jpg", 2, 0.31),
    ("scikit-image/astronaut.png", 1, 0.221),
    ("scikit-image/camera.png", 1, 0.158),
    ("scikit-image/chelsea.png", 0, None),
]


@pytest.mark.parametrize(("name", "count", "ratio"), REAL)
def test_yunet_real_photos(yunet, faces_dir, name, count, ratio):
    image = rgb(faces_dir / name)
    faces = yunet.detect(image)
    assert len(faces) == count
    assert isinstance(yunet, FaceDetector)
    for face in faces:
        assert len(face.landmarks) == 5
        assert face.embedding is None and 0.6 <= face.score <= 1.0
        x, y, w, h = face.box
        assert 0 <= x < image.shape[1] and 0 <= y < image.shape[0]
    if ratio is not None:
        tallest = max(f.height for f in faces) / image.shape[0]
        assert tallest == pytest.approx(ratio, abs=0.015)  # box jitter across input sizes


def test_yunet_maps_boxes_back_from_its_input_size(yunet, faces_dir):
    image = rgb(faces_dir / "face_recognition/obama3.jpg")  # 1434x2333, detected at 640
    big = yunet.detect(image)[0]
    small = yunet.detect(np.ascontiguousarray(image[::2, ::2]))[0]
    assert big.box[3] == pytest.approx(small.box[3] * 2, rel=0.05)
    assert big.center[0] == pytest.approx(small.center[0] * 2, rel=0.03)


def test_yunet_with_sface_gives_normalised_embeddings(faces_dir, tmp_path, yunet):
    from curation.faces.yunet import YuNetDetector

    sface = build_arcface(tmp_path / MODEL_FILES["sface"].filename, dim=128)
    det = YuNetDetector(model_path=yunet.model_path, sface_path=sface)
    assert det.name == "yunet+sface" and det.has_embeddings
    faces = det.detect(rgb(faces_dir / "face_recognition/two_people.jpg"))
    assert len(faces) == 2
    for face in faces:
        assert face.embedding.shape == (128,)
        assert np.linalg.norm(face.embedding) == pytest.approx(1.0, abs=1e-4)


def test_haar_finds_frontal_faces_profile_and_no_cat(faces_dir):
    from curation.faces.haar import HaarDetector

    det = HaarDetector()
    assert not det.has_landmarks and not det.has_embeddings
    pair = det.detect(rgb(faces_dir / "face_recognition/two_people.jpg", 512))
    assert len(pair) == 2 and {f.source for f in pair} == {"frontal"}
    profile = det.detect(rgb(faces_dir / "scikit-image/camera.png"))
    assert len(profile) == 1 and profile[0].source == "profile" and abs(profile[0].pose[0]) == 90
    assert det.detect(rgb(faces_dir / "scikit-image/chelsea.png")) == []


def test_face_roundtrip_and_scaling():
    face = Face(box=(10, 20, 30, 40), score=0.9, landmarks=[(1, 2)] * 5,
                embedding=np.ones(4, np.float32) / 2, pose=(10.0, 1.0, 2.0), source="x")  # fmt: skip
    back = Face.from_dict(face.to_dict())
    assert back.box == face.box and back.landmarks == face.landmarks and back.pose == face.pose
    assert np.allclose(back.embedding, face.embedding)
    assert face.scaled(2).box == (20, 40, 60, 80) and face.scaled(2).landmarks[0] == (2, 4)


def test_model_download_verifies_sha256(tmp_path, monkeypatch, shared_dir):
    source = shared_dir / "models" / MODEL_FILES["yunet"].filename
    dest = tmp_path / "models"
    path = download_model("yunet", dest, url=source.as_uri())
    assert path == dest / MODEL_FILES["yunet"].filename
    assert hashlib.sha256(path.read_bytes()).hexdigest() == MODEL_FILES["yunet"].sha256
    assert find_model("yunet", dest) == path

    def bad_fetch(url):
        yield b"not the model"

    with pytest.raises(ModelDownloadError, match="sha256"):
        download_model("sface", dest, fetch=bad_fetch)
    assert find_model("sface", dest) is None
    assert list(dest.iterdir()) == [path]  # no temp file left behind
    with pytest.raises(ModelDownloadError, match="could not download"):
        download_model("sface", dest, url=(tmp_path / "missing.onnx").as_uri())
    with pytest.raises(ModelDownloadError, match="refusing"):
        download_model("sface", dest, url="http://example.com/x.onnx")


def test_auto_picks_best_available(tmp_path, shared_dir, monkeypatch):
    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path / "if"))
    det = create_detector("auto", model_dir=shared_dir / "models")
    assert det.name == "yunet+dlib"  # no SFace file: the installed dlib embedder is next
    empty = tmp_path / "empty"
    empty.mkdir()
    assert create_detector("auto", model_dir=empty).name == "hog+dlib"  # a fresh install
    import curation.faces.dlib_backend as dlib_backend

    monkeypatch.setattr(dlib_backend, "find_dlib_models", lambda model_dir=None: None)
    assert create_detector("auto", model_dir=shared_dir / "models").name == "yunet"
    assert create_detector("auto", model_dir=empty).name == "haar"
    monkeypatch.undo()
    monkeypatch.setenv("INSIGHTFACE_HOME", str(tmp_path / "if"))
    with pytest.raises(ModelMissingError, match="--model-dir"):
        create_detector("yunet", model_dir=empty)
    with pytest.raises(FaceBackendError, match="unknown face backend"):
        create_detector("arcface")
    with pytest.raises(LicenseNotAcceptedError, match="--accept-model-license"):
        create_detector("insightface", insightface_root=tmp_path / "if")
    names = {b.name: b for b in available_backends(empty, tmp_path / "if")}
    assert names["haar"].available and not names["yunet"].available
    assert names["dlib"].available and names["dlib"].embeddings
    assert "licence" in names["insightface"].note


def test_auto_falls_back_when_insightface_download_fails(tmp_path, shared_dir, monkeypatch):
    import insightface.utils.storage as storage

    import curation.faces.models as models

    def offline(*args, **kwargs):
        raise OSError(101, "Network is unreachable")

    monkeypatch.setattr(storage, "download_file", offline)  # never reached: ours runs first
    monkeypatch.setattr(models, "_urllib_fetch", offline)
    det = create_detector(
        "auto", model_dir=shared_dir / "models", accept_license=True, insightface_root=tmp_path
    )
    assert det.name == "yunet+dlib"
