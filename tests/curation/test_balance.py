"""Balance profiles, the report, its advice and the readiness verdict (synthetic analyses)."""

from __future__ import annotations

import numpy as np
import pytest

from curation.analysis.classify import ImageAnalysis
from curation.analysis.runner import DatasetAnalysis, finalize
from curation.balance.profiles import ProfileError, load_profile
from curation.balance.report import REPORT_SCHEMA_VERSION, build_report
from curation.faces.base import Face


def unit(v):
    return v / np.linalg.norm(v)


def make(
    tiers: dict[str, list[str]], *, embeddings=True, seed=0, profile="character", intruder=None
):
    """A DatasetAnalysis with images per tier; poses cycle through the given list."""
    rng = np.random.default_rng(seed)
    person, other = rng.standard_normal(512), rng.standard_normal(512)
    images = []
    for tier, poses in tiers.items():
        for i, pose in enumerate(poses):
            rel = f"{tier}_{i:02d}.png"
            base = other if rel == intruder else person
            face = Face((100, 100, 200, 260), 0.9,
                        embedding=unit(base + 0.8 * rng.standard_normal(512)) if embeddings else None)  # fmt: skip
            img = ImageAnalysis(rel=rel, width=1024, height=1536, faces=[face] if pose != "back" else [],
                                tier=tier, pose=pose, sharpness=150.0,
                                dhash=int(rng.integers(0, 2**62)), phash=int(rng.integers(0, 2**62)))  # fmt: skip
            images.append(img)
    result = DatasetAnalysis(root="/d", backend="test", has_landmarks=True,
                             has_embeddings=embeddings, profile=load_profile(profile), images=images)  # fmt: skip
    finalize(result)
    return result


BLOCK = ["frontal"] * 4 + ["three-quarter"] * 3 + ["profile"] * 2 + ["back"]


def test_balanced_dataset_is_ready():
    report = build_report(
        make({"close-up": BLOCK, "medium": BLOCK[:-1] + ["frontal"], "full-body": BLOCK})
    )
    assert report["schema_version"] == REPORT_SCHEMA_VERSION
    assert report["verdict"]["status"] == "ready", report["advice"]
    assert report["tiers"]["close-up"] == {
        **report["tiers"]["close-up"],
        "count": 10,
        "target": 10,
        "status": "ok",
    }
    assert report["tiers"]["full-body"]["poses"]["back"] == 1
    assert report["identity"]["available"] and not report["identity"]["outliers"]


def test_missing_full_body_and_back_view_in_plain_words():
    report = build_report(
        make({"close-up": BLOCK * 2, "medium": BLOCK, "full-body": ["frontal"] * 4})
    )
    advice = {a["id"]: a for a in report["advice"]}
    low = advice["tier-low:full-body"]
    assert low["message"] == "Add 7 full-body shots, two in profile and one from behind"
    assert low["severity"] == "error" and len(low["paths"]) == 4  # 34 images: about 11 each
    assert advice["tier-high:close-up"]["message"].startswith(
        "20 close-ups where the profile asks for about 11: drop or replace 9"
    )
    assert report["verdict"]["status"] == "not-ready"  # 4 of ~11 full-body shots


def test_identity_outlier_names_the_file_and_blocks_training():
    result = make(
        {"close-up": BLOCK, "medium": BLOCK, "full-body": BLOCK}, intruder="medium_03.png"
    )
    report = build_report(result)
    assert report["identity"]["outliers"] == ["medium_03.png"]
    first = report["advice"][0]
    assert first["severity"] == "error" and first["paths"] == ["medium_03.png"]
    assert first["message"].startswith("medium_03.png is probably a different person (")
    assert first["message"].endswith("): replace it")
    assert report["verdict"]["status"] == "not-ready"
    assert report["verdict"]["reasons"][0] == first["message"]


def test_no_embeddings_says_what_is_needed():
    report = build_report(
        make({"close-up": BLOCK, "medium": BLOCK, "full-body": BLOCK}, embeddings=False)
    )
    assert report["identity"]["available"] is False
    note = report["identity"]["note"]
    assert note.startswith("identity not checked: the test backend computes no face embeddings")
    assert "Fix: " in note
    warning = next(a for a in report["advice"] if a["id"] == "identity-unavailable")
    assert warning["severity"] == "warning"  # a verdict without identity is not plain "ready"
    assert report["verdict"]["status"] != "ready"
    assert warning["message"] in report["verdict"]["reasons"]
    from curation.report_html import render_html

    html = render_html(report, thumbnails=False)
    assert "warning</span> identity not checked: the test backend" in html


def test_no_embedder_installed_says_why_and_how_to_fix(monkeypatch):
    import curation.faces.dlib_backend as dlib_backend

    monkeypatch.setattr(dlib_backend, "find_dlib_models", lambda model_dir=None: None)
    report = build_report(
        make({"close-up": BLOCK, "medium": BLOCK, "full-body": BLOCK}, embeddings=False)
    )
    note = report["identity"]["note"]
    assert "the built-in embedder cannot run" in note
    assert "pip install dlib-bin face-recognition-models" in note
    assert "face_recognition_sface_2021dec.onnx" in note


def test_duplicates_advice():
    result = make({"close-up": BLOCK, "medium": BLOCK, "full-body": BLOCK})
    imgs = result.images
    for a, b in ((imgs[0], imgs[1]), (imgs[12], imgs[13])):
        b.dhash, b.phash = a.dhash, a.phash
    b_sharper = imgs[13]
    b_sharper.sharpness = 300.0
    finalize(result)
    report = build_report(result)
    dup = next(a for a in report["advice"] if a["id"] == "duplicates")
    assert dup["message"] == "2 near-duplicate pairs: keep one of each (the sharpest is suggested)"
    assert len(dup["paths"]) == 4
    assert {g["keep"] for g in report["duplicates"]} >= {b_sharper.rel}


def test_face_profile_and_small_dataset():
    result = make(
        {"close-up": BLOCK[:7], "medium": ["frontal"] * 2, "full-body": ["frontal"] * 3},
        profile="face",
    )
    report = build_report(result)
    ids = [a["id"] for a in report["advice"]]
    assert "size-small" in ids  # 12 < 15
    assert report["tiers"]["close-up"]["min"] == 15 and report["tiers"]["full-body"]["max"] == 1
    assert report["verdict"]["status"] == "not-ready"  # 7 close-ups of 20 wanted
    assert "tier-high:full-body" in ids
    high = next(a for a in report["advice"] if a["id"] == "tier-high:full-body")
    assert high["message"].startswith(
        "3 full-body shots where the profile asks for at most 1: drop or replace 3"
    )


def test_user_profile_file_and_errors(tmp_path):
    good = tmp_path / "mine.yaml"
    good.write_text("name: mine\ntiers:\n  close-up: {target: 5}\n  medium: {target: 5}\n"
                    "thresholds: {close_up_min: 0.4, medium_min: 0.2}\n")  # fmt: skip
    profile = load_profile(good)
    assert profile.name == "mine" and profile.thresholds.close_up_min == 0.4
    assert profile.tier_range("full-body", 20) == (0, 0, 0)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntiers: {close-up: {target: 5}}\nthresholds: {blur_belw: 3}\n")
    with pytest.raises(ProfileError, match="blur_belw"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="character"):
        load_profile("nonexistent")


def test_user_profiles_in_the_config_folder_are_offered_by_name():
    from curation.balance.profiles import available_profiles, user_profile_dir

    folder = user_profile_dir()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mascot.yaml").write_text("name: mascot\ntiers: {close-up: {target: 4}}\n")
    assert {"character", "face", "mascot"} <= set(available_profiles())
    assert load_profile("mascot").tiers["close-up"].target == 4
