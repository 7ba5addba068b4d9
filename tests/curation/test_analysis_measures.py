"""Pure per-image and dataset-level measures."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from curation.analysis.groups import duplicate_groups, identity_clusters, identity_scores
from curation.analysis.measures import (
    aspect_bucket,
    classify_pose,
    classify_tier,
    dhash,
    face_sharpness,
    hamming,
    phash,
    pick_primary,
)
from curation.faces.base import Face


@pytest.mark.parametrize(
    ("ratio", "tier", "near"),
    [(0.55, "close-up", False), (0.39, "close-up", True), (0.30, "medium", False),
     (0.19, "medium", True), (0.17, "full-body", True), (0.10, "full-body", False)],
)  # fmt: skip
def test_tiers(ratio, tier, near):
    assert classify_tier(ratio, 0.38, 0.18, [(0.15, 0.20), (0.35, 0.41)]) == (tier, near)


def face_with(nose_dx: float, iod: float = 40.0, width: float = 100.0) -> Face:
    eyes = [(50 - iod / 2, 50), (50 + iod / 2, 50)]
    marks = eyes + [(50 + nose_dx * iod, 70), (40, 85), (60, 85)]
    return Face(box=(0, 0, width, 120), score=0.9, landmarks=marks)


def test_pose_from_landmarks_and_angles():
    assert classify_pose(face_with(0.04))[0] == "frontal"
    assert classify_pose(face_with(-0.26))[0] == "three-quarter"
    assert classify_pose(face_with(0.73))[0] == "profile"
    assert classify_pose(face_with(0.1, iod=20))[0] == "profile"  # eyes close together
    assert classify_pose(Face((0, 0, 9, 9), 1, pose=(-35.0, 0, 0)))[0] == "three-quarter"
    assert classify_pose(Face((0, 0, 9, 9), 1, pose=(75.0, 0, 0)))[0] == "profile"
    assert classify_pose(Face((0, 0, 9, 9), 1, source="frontal"))[0] == "frontal"
    assert classify_pose(Face((0, 0, 9, 9), 1)) == (None, None)


def test_sharpness_separates_sharp_and_blurred(faces_dir):
    gray = np.asarray(Image.open(faces_dir / "face_recognition/obama.jpg").convert("L"))
    box = (371, 91, 241, 329)
    sharp = face_sharpness(gray, box)
    soft = face_sharpness(cv2.GaussianBlur(gray, (0, 0), 2.5), box)
    blurred = face_sharpness(cv2.GaussianBlur(gray, (0, 0), 5), box)
    assert sharp > 180 and soft < 30 and blurred < 15
    assert face_sharpness(gray, (5000, 5000, 10, 10)) is None


@pytest.mark.parametrize("res", [512, 768, 1024])
@pytest.mark.parametrize(("w", "h"), [(1024, 1024), (910, 1137), (2048, 1152), (626, 1200)])
def test_buckets(res, w, h):
    bw, bh = aspect_bucket(w, h, res)
    assert bw % 16 == 0 and bh % 16 == 0
    assert bw * bh <= res * res and bw * bh > 0.85 * res * res
    assert bw / bh == pytest.approx(w / h, rel=0.06)


def test_perceptual_hashes(faces_dir):
    gray = np.asarray(Image.open(faces_dir / "face_recognition/obama.jpg").convert("L"))
    smaller = cv2.resize(gray, (455, 568), interpolation=cv2.INTER_AREA)
    other = np.asarray(Image.open(faces_dir / "face_recognition/obama2.jpg").convert("L"))
    for fn in (dhash, phash):
        assert hamming(fn(gray), fn(smaller)) <= 4
        assert hamming(fn(gray), fn(other)) > 15


def test_primary_is_largest_most_central_and_tiny_faces_are_ignored():
    big = Face((400, 100, 200, 260), 0.9)
    edge = Face((0, 0, 200, 250), 0.9)  # as big but in the corner
    tiny = Face((900, 900, 40, 50), 0.7)
    kept, ignored = pick_primary([tiny, edge, big], 1000, 1000)
    assert kept[0] is big and kept[1] is edge and ignored == 1


def unit(v):
    return v / np.linalg.norm(v)


def synthetic_people(seed=0, n_a=10, n_b=0, noise=0.9, dim=512):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(dim), rng.standard_normal(dim)
    out = {f"a{i:02d}.png": unit(a + noise * rng.standard_normal(dim)) for i in range(n_a)}
    out.update({f"b{i:02d}.png": unit(b + noise * rng.standard_normal(dim)) for i in range(n_b)})
    return out


def test_identity_scores_find_the_intruder():
    emb = synthetic_people(n_a=12, n_b=1)
    scores = identity_scores(emb)
    assert scores["b00.png"] < 0.2
    assert min(v for k, v in scores.items() if k.startswith("a")) > 0.45


def test_identity_clusters_and_reference():
    emb = synthetic_people(n_a=9, n_b=4)
    clusters = identity_clusters(emb, threshold=0.4)
    assert [len(c) for c in clusters] == [9, 4]
    # Against the main cluster, the second person scores low even though they are 4.
    scores = identity_scores(emb, clusters[0])
    assert max(scores[k] for k in clusters[1]) < 0.2
    assert identity_scores({"x": unit(np.ones(4))}) == {}


def test_duplicate_groups_by_hash_and_embedding():
    keys = ["a", "b", "c", "d"]
    d = [0, 0b111, 1 << 63 | 0xFFFF, 0xFFFF_FFFF]
    p = [0, 0b11, 1 << 62 | 0xFFFF, 0xFFFF_FFFF]
    assert duplicate_groups(keys, d, p, hash_max=6) == [["a", "b"]]
    v = unit(np.ones(8))
    emb = {"c": v, "d": v}
    groups = duplicate_groups(keys, d, p, emb, hash_max=6, embedding_min=0.9, embedding_hash_max=30)
    assert groups == [["a", "b"], ["c", "d"]]


def test_duplicates_need_the_face_in_the_same_place():
    keys, d, p = ["a", "b", "c", "d"], [0, 1, 3, 0], [0, 1, 3, 0]
    boxes = [(0.4, 0.1, 0.2, 0.3), (0.41, 0.11, 0.2, 0.3), (0.1, 0.5, 0.1, 0.15), None]
    # Same hashes everywhere; only a and b have their face in the same place.
    assert duplicate_groups(keys, d, p, face_boxes=boxes) == [["a", "b"]]
    assert duplicate_groups(keys, d, p, face_boxes=[None] * 4) == [["a", "b", "c", "d"]]
