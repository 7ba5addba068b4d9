"""Ranking on real photos arranged as fake grids (``../shared/data/faces``).

The dataset is Obama (three photos) plus one photo of another person (an outlier the identity
centroid must leave out). Three checkpoints: one whose samples are another person (Biden), one
whose samples are the same person in new photos, one whose samples are re-encoded copies of the
training images. The second must win, the third must be flagged overfit although its identity
is the highest. Real embedder (dlib, installed with the app), real images at their real sizes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

PROMPTS = [
    "a close-up photo of t0ken smiling in a garden",
    "a full body photo of t0ken standing in a blue room",
]


def _face_crop(im: Image.Image) -> Image.Image:
    """A head-and-shoulders crop around the largest face of ``im`` (a close-up sample)."""
    from curation.faces.embed import detect_faces

    face = detect_faces(np.asarray(im))[0]
    x, y, w, h = face.box
    side = h * 2.0
    cx, cy = x + w / 2, y + h / 2
    box = (max(0, cx - side / 2), max(0, cy - side / 2), cx + side / 2, cy + side / 2)
    return im.crop(tuple(int(v) for v in box))


def _save(img: Image.Image, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.convert("RGB").save(path)


def _copy(src: Path, dst: Path, scale: float) -> None:
    """A training image as a sample that reproduces it: resized and re-encoded."""
    with Image.open(src) as im:
        im = im.convert("RGB")
        _save(im.resize((int(im.width * scale), int(im.height * scale))), dst)


@pytest.fixture
def fake_grid(faces_dir, tmp_path):
    fr, sk = faces_dir / "face_recognition", faces_dir / "scikit-image"
    data = tmp_path / "dataset"
    data.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "obama-240p.jpg"):
        (data / name).write_bytes((fr / name).read_bytes())
        (data / name).with_suffix(".txt").write_text("a photo of t0ken", "utf-8")
    (data / "astronaut.png").write_bytes((sk / "astronaut.png").read_bytes())

    grid = tmp_path / "grid"
    grid.mkdir()
    (grid / "prompts.txt").write_text("\n".join(PROMPTS) + "\n", "utf-8")
    other, same, copies = "run_000000500", "run_000001000", "run_000001500"
    biden = Image.open(fr / "biden.jpg").convert("RGB")
    obama3 = Image.open(fr / "obama3.jpg").convert("RGB")
    # seed 1 and seed 2 per prompt; prompt 0 asks for a close-up, prompt 1 for a full body
    _save(_face_crop(biden), grid / other / "0_1_s1.png")
    _save(biden, grid / other / "1_1_s1.png")
    _save(ImageOps.mirror(_face_crop(biden)), grid / other / "0_2_s1.png")
    _save(ImageOps.mirror(biden), grid / other / "1_2_s1.png")
    _save(_face_crop(obama3), grid / same / "0_1_s1.png")
    _save(obama3, grid / same / "1_1_s1.png")
    _save(ImageOps.mirror(_face_crop(obama3)), grid / same / "0_2_s1.png")
    _save(ImageOps.mirror(obama3), grid / same / "1_2_s1.png")
    _copy(fr / "obama.jpg", grid / copies / "0_1_s1.png", 0.9)
    _copy(fr / "obama2.jpg", grid / copies / "1_1_s1.png", 0.8)
    _copy(fr / "obama.jpg", grid / copies / "0_2_s1.png", 0.7)
    _copy(fr / "obama2.jpg", grid / copies / "1_2_s1.png", 1.0)
    return grid, data


def test_new_photos_of_the_person_win_and_copies_are_flagged_overfit(fake_grid):
    from training.grid.rank import rank_grid

    grid, data = fake_grid
    result = rank_grid(grid, data)
    by = {c["name"]: c for c in result["checkpoints"]}
    assert result["best"] == "run_000001000", json.dumps(result["checkpoints"], indent=1)
    assert by["run_000001000"]["rank"] == 1 and by["run_000001000"]["flags"] == []
    copies = by["run_000001500"]
    assert "overfit" in copies["flags"] and copies["copy"] == 1.0
    assert copies["identity"] > by["run_000001000"]["identity"]  # the trap the rank avoids
    assert any("4 of 4 samples copy training images: overfit" in r for r in copies["reasons"])
    other = by["run_000000500"]
    assert "wrong_identity" in other["flags"] and other["identity"] < 0.30
    assert by["run_000001000"]["identity"] > 0.45
    assert by["run_000001000"]["copy"] == 0.0
    assert by["run_000001000"]["tier_match"] == 1.0  # close-ups and full bodies as asked
    assert result["dataset"]["outliers"] == ["astronaut.png"]
    assert result["unavailable"]["prompt_obedience"].startswith("no image-text model")
    assert all(c["prompt_obedience"] is None for c in result["checkpoints"])
    assert "best identity (" in by["run_000001000"]["reasons"][0]
    assert len(result["cells"]) == 12 and all("identity" in c for c in result["cells"])


def test_a_bad_sample_is_reported_and_the_rest_is_ranked(fake_grid):
    from training.grid.rank import rank_grid

    grid, data = fake_grid
    (grid / "run_000001000" / "1_2_s1.png").write_bytes(b"not a png")
    (data / "broken.jpg").write_bytes(b"\xff\xd8 truncated")
    result = rank_grid(grid, data)
    assert result["best"] == "run_000001000"
    assert any("run_000001000/1_2_s1.png" in e for e in result["errors"])
    assert any("broken.jpg" in e for e in result["errors"])
    by = {c["name"]: c for c in result["checkpoints"]}
    assert by["run_000001000"]["samples"] == 3


def test_never_recommend_an_overfit_checkpoint_when_another_is_not():
    from training.grid.verdict import summarise

    rows = [{"name": n, "kind": "checkpoint", "step": s} for n, s in (("a", 1), ("b", 2))]

    class F:
        error = None
        clip = None
        layout = np.eye(4, dtype=np.float32)[0]

    cells, feats = [], []
    for name, ident, copy in (("a", 0.2, False), ("b", 0.95, True)):
        for p in range(2):
            f = F()
            f.layout = np.eye(4, dtype=np.float32)[p]
            cells.append(
                {
                    "row": name,
                    "prompt": p,
                    "seed": 1,
                    "strength": 1.0,
                    "identity": ident,
                    "faces": 1,
                    "copy": copy,
                    "tier_match": None,
                }
            )
            feats.append(f)
    out = summarise(rows, [], cells, feats, {})
    assert out["best"] == "a"  # low identity, but b copies its training images
    assert "overfit" in out["checkpoints"][1]["flags"]


def test_no_face_embedder_gives_null_identity_with_the_reason(fake_grid, monkeypatch):
    from curation.faces import embed
    from curation.faces.base import FaceBackendError
    from training.grid.rank import rank_grid

    def broken(*a, **k):
        raise FaceBackendError("dlib is not installed")

    monkeypatch.setattr(embed, "get_face_embedder", broken)
    grid, data = fake_grid
    result = rank_grid(grid, data)
    assert "dlib is not installed" in result["unavailable"]["identity"]
    assert all(c["identity"] is None for c in result["checkpoints"])
    # the copies are still caught without faces, and never recommended
    by = {c["name"]: c for c in result["checkpoints"]}
    assert "overfit" in by["run_000001500"]["flags"]
    assert result["best"] != "run_000001500"


def test_the_clip_path_on_a_tiny_random_clip(fake_grid, tmp_path, monkeypatch):
    """Obedience scores through a real CLIPModel / CLIPProcessor saved and loaded offline; the
    text the model sees has no trigger. Random weights: only the path and ranges are checked."""
    from tests.training.tiny_clip import build_tiny_clip
    from training.grid import clip_score
    from training.grid.rank import rank_grid

    seen: list[str] = []
    real_texts = clip_score.ClipScorer.texts

    def spy(self, texts):
        seen.extend(texts)
        return real_texts(self, texts)

    monkeypatch.setattr(clip_score.ClipScorer, "texts", spy)
    (fake_grid[0] / "manifest.json").write_text(
        json.dumps({"version": 1, "trigger": "t0ken", "cells": {}}), "utf-8"
    )
    model = build_tiny_clip(tmp_path / "tiny-clip")
    result = rank_grid(*fake_grid, clip_model=str(model))
    assert result["clip_model"] == str(model) and "prompt_obedience" not in result["unavailable"]
    assert seen == [p.replace("t0ken ", "") for p in PROMPTS]
    for c in result["checkpoints"]:
        assert -1.0 <= c["prompt_obedience"] <= 1.0
        assert c["collapse"] is not None and c["collapse"] <= 1.0
    assert all(isinstance(c["nearest_clip"], float) for c in result["cells"])
    assert result["best"] == "run_000001000"  # copies are still caught (phash and CLIP)

    missing = rank_grid(*fake_grid, clip_model=str(tmp_path / "no-such-model"))
    assert "cannot be loaded" in missing["unavailable"]["prompt_obedience"]
    assert missing["best"] == "run_000001000"


def test_live_likeness_curve_rises_then_the_copy_score_climbs(fake_grid, tmp_path):
    """The Train tab's curve core on a fake run: step 100 samples another person, 200 the same
    person in new photos, 300 copies of the training images."""
    import shutil

    from training.grid.live import LikenessTracker, score_run_samples

    grid, data = fake_grid
    run = tmp_path / "run"
    for step, row in ((100, "run_000000500"), (200, "run_000001000"), (300, "run_000001500")):
        (run / "samples" / str(step)).mkdir(parents=True)
        for i, name in enumerate(("0_1_s1.png", "1_1_s1.png")):
            shutil.copy(grid / row / name, run / "samples" / str(step) / f"{i}_4{i}.png")
    (run / "samples" / "300" / "9_9.png").write_bytes(b"broken")
    tracker = score_run_samples(run, data)
    curve = tracker.curve()
    assert [c["step"] for c in curve] == [100, 200, 300]
    assert curve[0]["identity"] < 0.30 < 0.45 < curve[1]["identity"]
    assert [c["copy"] for c in curve] == [0.0, 0.0, 1.0]
    assert all(c["samples"] == 2 for c in curve)
    assert any(s["error"] for s in tracker.scores)  # the broken sample is reported, not fatal
    one = LikenessTracker(data).score(grid / "run_000001000" / "0_1_s1.png", step=7)
    assert one["identity"] > 0.45 and one["copy"] is False
