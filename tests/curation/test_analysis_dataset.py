"""End-to-end analysis of a dataset built from the shared real photos (YuNet)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from curation.analysis import FLAGS, analyze_dataset
from curation.faces.yunet import YuNetDetector
from curation.jobs import CancelToken
from curation.workspace import Workspace
from tests.curation.face_dataset import make_dataset


class Counting:
    """Wraps a detector and counts calls (to prove the cache is used)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0
        self.name, self.has_landmarks = inner.name, inner.has_landmarks
        self.has_embeddings = inner.has_embeddings

    def detect(self, image):
        self.calls += 1
        return self.inner.detect(image)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, request):
    from tests.conftest import SHARED

    faces = SHARED / "data" / "faces"
    if not faces.is_dir():
        pytest.skip("shared photos missing")
    return make_dataset(faces, tmp_path_factory.mktemp("ds") / "set")


@pytest.fixture(scope="module")
def analysed(dataset):
    from tests.conftest import SHARED

    det = Counting(YuNetDetector(model_path=SHARED / "models/face_detection_yunet_2023mar.onnx"))
    ws = Workspace.open(dataset)
    progress = []
    result = analyze_dataset(ws, detector=det, on_progress=lambda d, t, m: progress.append((d, t)))
    yield ws, det, result, progress
    ws.close()


def test_tiers_counts_and_flags(analysed):
    _, det, result, progress = analysed
    img = result.by_rel()
    assert det.calls == 13  # 15 files, 2 unreadable
    assert progress[-1] == (15, 15)
    assert img["obama3.jpg"].tier == "full-body"
    assert img["obama.jpg"].tier == "medium"
    assert img["obama3_medium.jpg"].tier == "medium"
    assert img["obama3_closeup.jpg"].tier == "close-up"
    assert img["obama3_closeup.jpg"].face_height_ratio > 0.45
    assert "borderline-tier" in img["biden.jpg"].flags  # 0.175-0.18: tight full body
    assert "borderline-tier" in img["camera.png"].flags
    assert (
        img["two_people.jpg"].flags[0] == "multiple-faces" and len(img["two_people.jpg"].faces) == 2
    )
    assert img["chelsea.png"].flags == ["no-face", "low-resolution"]
    assert img["chelsea.png"].tier is None and not img["chelsea.png"].back_view_candidate
    assert img["camera.png"].pose == "profile"
    assert img["obama.jpg"].pose == "frontal" and img["obama2.jpg"].pose == "three-quarter"
    assert (
        "small-face" in img["camera.png"].flags and img["obama.jpg"].resolution_level == "warning"
    )
    for entry in result.to_cli_dict()["images"]:
        assert set(entry["flags"]) <= set(FLAGS)


def test_unreadable_files_are_entries_not_crashes(analysed):
    _, _, result, _ = analysed
    img = result.by_rel()
    for name in ("broken.jpg", "notes.png"):
        entry = img[name].to_cli_dict()
        assert entry["flags"] == ["unreadable"] and entry["error"] and entry["faces"] == 0


def test_exif_cmyk_and_16_bit_variants_match_the_originals(analysed):
    _, _, result, _ = analysed
    img = result.by_rel()
    rot, orig = img["obama_exif6.jpg"], img["obama.jpg"]
    assert (rot.width, rot.height) == (orig.width, orig.height) == (910, 1137)
    assert rot.face_height_ratio == pytest.approx(orig.face_height_ratio, abs=0.01)
    assert img["obama2_cmyk.jpg"].face_height_ratio == pytest.approx(
        img["obama2.jpg"].face_height_ratio, abs=0.01
    )
    assert img["astronaut_16bit.png"].tier == img["astronaut.png"].tier == "medium"
    # The variants are near-duplicates of their originals; the sharper one is kept.
    groups = {frozenset(g.paths): g.keep for g in result.duplicates}
    assert frozenset({"obama.jpg", "obama_exif6.jpg"}) in groups
    assert frozenset({"obama2.jpg", "obama2_cmyk.jpg"}) in groups
    assert frozenset({"astronaut.png", "astronaut_16bit.png"}) in groups
    assert all(len(g.paths) == 2 for g in result.duplicates)


def test_sharpness_of_a_drafted_jpeg_is_measured_at_full_size(analysed, dataset):
    from curation.analysis.measures import face_sharpness

    _, _, result, _ = analysed
    img = result.by_rel()["obama3.jpg"]  # decoded at 1/2 for detection, face 172 px there
    gray = np.asarray(Image.open(dataset / "obama3.jpg").convert("L"))
    assert img.sharpness == pytest.approx(face_sharpness(gray, img.primary.box), rel=0.05)


def test_cache_and_overrides(analysed):
    ws, det, first, _ = analysed
    calls = det.calls
    ws.set_override("biden.jpg", "tier", "full-body")
    ws.set_override("obama.jpg", "pose", "three-quarter")
    ws.set_override("chelsea.png", "back_view", True)
    ws.set_excluded("two_people.jpg", True)
    try:
        again = analyze_dataset(ws, detector=det)
    finally:
        ws.set_override("biden.jpg", "tier", None)
        ws.set_override("obama.jpg", "pose", None)
        ws.set_override("chelsea.png", "back_view", None)
        ws.set_excluded("two_people.jpg", False)
    assert det.calls == calls and again.cached == 13
    img = again.by_rel()
    assert img["biden.jpg"].tier == "full-body" and img["biden.jpg"].tier_source == "override"
    assert "borderline-tier" not in img["biden.jpg"].flags
    assert img["obama.jpg"].pose == "three-quarter" and img["obama.jpg"].pose_source == "override"
    assert img["chelsea.png"].pose == "back" and "no-face" not in img["chelsea.png"].flags
    assert img["two_people.jpg"].excluded
    assert "two_people.jpg" not in {i.rel for i in again.active}


def test_reclassify_after_an_override_reads_no_file(analysed, monkeypatch):
    import curation.images
    from curation.analysis.runner import reclassify

    ws, _, result, _ = analysed

    def no_io(*args, **kwargs):
        raise AssertionError("reclassify must not read images")

    monkeypatch.setattr(curation.images, "load_image", no_io)
    monkeypatch.setattr(curation.images, "file_hash", no_io)
    ws.set_override("obama3.jpg", "tier", "medium")
    try:
        reclassify(result, ws, profile="face")
    finally:
        ws.set_override("obama3.jpg", "tier", None)
    assert result.by_rel()["obama3.jpg"].tier == "medium"
    assert result.profile.name == "face"
    reclassify(result, ws, profile="character")
    assert result.by_rel()["obama3.jpg"].tier == "full-body"


def test_rerun_on_a_workspace_hashes_nothing(analysed, monkeypatch):
    import curation.images

    ws, det, _, _ = analysed

    def no_hash(*args, **kwargs):
        raise AssertionError("unchanged files must not be re-hashed")

    monkeypatch.setattr(curation.images, "file_hash", no_hash)
    again = analyze_dataset(ws, detector=det)
    assert again.cached == 13


def test_cancel_returns_partial_results(dataset, tmp_path):
    from tests.conftest import SHARED

    det = YuNetDetector(model_path=SHARED / "models/face_detection_yunet_2023mar.onnx")
    token = CancelToken()
    seen = []

    def progress(done, total, message):
        seen.append(done)
        if done >= 2:
            token.cancel()

    paths = sorted(p for p in dataset.iterdir() if p.suffix in (".jpg", ".png"))
    result = analyze_dataset(paths, detector=det, root=dataset, on_progress=progress, cancel=token)
    assert result.cancelled and 2 <= len(result.images) < len(paths)


def test_back_view_candidate_when_the_face_is_hidden(tmp_path, faces_dir, yunet_model):
    im = np.asarray(Image.open(faces_dir / "face_recognition/obama3.jpg").convert("RGB")).copy()
    im[230:650, 600:940] = (40, 30, 25)  # the head seen from behind: no face
    path = tmp_path / "back.jpg"
    Image.fromarray(im).save(path, quality=90)
    result = analyze_dataset([path], detector=YuNetDetector(model_path=yunet_model))
    img = result.images[0]
    assert "no-face" in img.flags and img.back_view_candidate and img.person_box


def test_embeddings_flow_through_cache_into_identity(tmp_path, faces_dir, yunet_model):
    """YuNet + an SFace-shaped tiny model: embeddings are cached as JSON, restored, scored."""
    from curation.faces.models import MODEL_FILES
    from tests.curation.tiny_insightface import build_arcface

    sface = build_arcface(tmp_path / MODEL_FILES["sface"].filename, dim=128)
    det = YuNetDetector(model_path=yunet_model, sface_path=sface)
    root = make_dataset(faces_dir, tmp_path / "set", variants=False)
    with Workspace.open(root) as ws:
        first = analyze_dataset(ws, detector=det)
        again = analyze_dataset(ws, detector=det)
    assert first.backend == "yunet+sface" and first.identity_note is None
    assert again.cached == 8
    scores = {i.rel: i.identity_score for i in first.images if i.faces}
    assert len(scores) == 7 and all(-1.0 <= s <= 1.0 for s in scores.values())
    assert {i.rel: i.identity_score for i in again.images if i.faces} == pytest.approx(
        scores, abs=1e-4
    )
    assert sum(len(c) for c in first.identity_clusters) == 7
