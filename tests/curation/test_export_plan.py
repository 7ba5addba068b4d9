"""The pre-export summary, the tier check of a face crop, trainer layouts and the zip.

Sizes are real: 1024x1536 and 832x1216 portraits, 1536x1024 landscapes, face boxes of the
heights a close-up, medium and full-body shot have there, the default profile's thresholds
(close-up from 0.38, medium from 0.18 of the image height).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from curation.balance.profiles import Thresholds
from curation.export import ExportError, ExportOptions, export_dataset
from curation.export_plan import (
    ExportPlanError,
    keep_tier_box,
    output_rel,
    summarize,
    tier_after_crop,
    tier_changes,
    zip_folder,
)

TH = (Thresholds().close_up_min, Thresholds().medium_min)
FULL_BODY = (462.0, 150.0, 100.0, 130.0)  # 130 px face in a 1536 px tall frame: 0.085
MEDIUM = (400.0, 300.0, 220.0, 330.0)  # 0.215
CLOSE_UP = (250.0, 400.0, 520.0, 700.0)  # 0.46


def test_summary_counts_what_goes_out():
    imgs = {
        "cat.jpg": SimpleNamespace(flags=["no-face"], error=None, back_view_candidate=False),
        "back.jpg": SimpleNamespace(flags=["no-face"], error=None, back_view_candidate=True),
        "other.jpg": SimpleNamespace(flags=["identity-outlier", "small-face"], error=None),
        "soft.jpg": SimpleNamespace(flags=["blurry"], error=None),
        "gone.jpg": SimpleNamespace(flags=["unreadable"], error="truncated"),
        "ok.jpg": SimpleNamespace(flags=["borderline-tier"], error=None),
        "skip.jpg": SimpleNamespace(flags=["blurry"], error=None),
    }
    s = summarize(
        list(imgs), ["skip.jpg"], imgs, "not-ready", {"ok.jpg": 2, "skip.jpg": 5, "cat.jpg": 1}
    )
    assert s.total == 7 and s.exported == 5
    assert s.excluded == ["skip.jpg"] and s.unreadable == ["gone.jpg"]
    assert s.flagged == {
        "cat.jpg": ["no-face"],  # no face and no person: not a training image
        "other.jpg": ["identity-outlier"],
        "soft.jpg": ["blurry"],
    }  # the back view (a person, no face) is not flagged
    assert (s.lint_errors, sorted(s.lint_error_images)) == (3, ["cat.jpg", "ok.jpg"])
    assert s.blocking
    text = " ".join(s.lines())
    for part in (
        "NOT READY",
        "3 caption errors in 2 images",
        "3 flagged images",
        "1 no face",
        "probably another person",
        "1 excluded image left out",
        "1 unreadable",
    ):
        assert part in text, part
    clean = summarize(["a.jpg"], [], {"a.jpg": SimpleNamespace(flags=[], error=None)}, "ready")
    assert not clean.blocking and clean.lines() == []
    assert "not analysed" in summarize(["a.jpg"], [], {}, None).lines()[0]


def test_a_fixed_ratio_square_changes_tiers_and_keep_tier_does_not():
    # a 0.6 face square makes a close-up of everything
    assert tier_after_crop(1024, 1536, FULL_BODY, 0.6, TH) == ("full-body", "close-up")
    assert tier_after_crop(1024, 1536, CLOSE_UP, 0.6, TH) == ("close-up", "close-up")
    assert tier_after_crop(1024, 1536, None, 0.6, TH) == (None, None)
    sizes = {"full.jpg": (1024, 1536), "med.jpg": (1024, 1536), "close.jpg": (1024, 1536),
             "noface.jpg": (1536, 1024)}  # fmt: skip
    faces = {"full.jpg": FULL_BODY, "med.jpg": MEDIUM, "close.jpg": CLOSE_UP, "noface.jpg": None}
    moved = tier_changes(sizes, faces, 0.6, TH)
    assert moved == {("full-body", "close-up"): 1, ("medium", "close-up"): 1}
    # keep-tier: the largest square when the tier holds, else the whole frame
    box, notes = keep_tier_box(1024, 1536, CLOSE_UP, TH)
    assert box[2] - box[0] == box[3] - box[1] == 1024 and not notes
    assert box[1] <= CLOSE_UP[1] and box[3] >= CLOSE_UP[1] + CLOSE_UP[3]  # face inside
    box, notes = keep_tier_box(1024, 1536, MEDIUM, TH)  # 330/1024 = 0.32: still medium
    assert box[2] - box[0] == 1024 and not notes
    box, notes = keep_tier_box(832, 1216, (300.0, 100.0, 160.0, 200.0), TH)  # 0.164 -> 0.24
    assert box == (0, 0, 832, 1216) and "full-body shot a medium" in notes[0]
    assert keep_tier_box(1536, 1024, None, TH)[0] == (0, 0, 1536, 1024)


def _portrait(path: Path, size=(1024, 1536)) -> None:
    Image.new("RGB", size, (120, 90, 60)).save(path, "JPEG", quality=90)


def test_keep_tier_export_keeps_the_full_body_frame(tmp_path):
    root = tmp_path / "set"
    root.mkdir()
    _portrait(root / "full.jpg", (832, 1216))
    _portrait(root / "close.jpg")
    faces = {"full.jpg": (300.0, 100.0, 160.0, 200.0), "close.jpg": CLOSE_UP}
    opts = ExportOptions(face_crop=1024, face_mode="keep-tier", tier_thresholds=TH)
    export_dataset([root / "full.jpg", root / "close.jpg"], tmp_path / "out", opts,
                   faces=faces, root=root)  # fmt: skip
    with Image.open(tmp_path / "out/close.jpg") as im:
        assert im.size == (1024, 1024)
    with Image.open(tmp_path / "out/full.jpg") as im:  # whole frame, same aspect, ~1 MP
        w, h = im.size
        assert abs(w / h - 832 / 1216) < 0.01 and abs(w * h - 1024 * 1024) < 1024 * 8
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    notes = {f["source"]: f["notes"] for f in manifest["files"]}
    assert "kept whole" in notes["full.jpg"][0]
    with pytest.raises(ExportError, match="tier thresholds"):
        ExportOptions(face_crop=1024, face_mode="keep-tier").validate()


def test_trainer_layouts_leave_out_and_zip(tmp_path):
    root = tmp_path / "set"
    (root / "sub").mkdir(parents=True)
    for rel in ("a.jpg", "sub/b.jpg", "flagged.jpg", "sub__b.jpg"):
        _portrait(root / rel, (512, 768))
        (root / rel).with_suffix(".txt").write_text(f"photo of l3yla, {rel}", "utf-8")
    paths = [root / r for r in ("a.jpg", "sub/b.jpg", "flagged.jpg", "sub__b.jpg")]
    opts = ExportOptions(layout="kohya", trigger="l3yla", repeats=12, leave_out=["flagged.jpg"],
                         zip=True)  # fmt: skip
    result = export_dataset(paths, tmp_path / "out", opts, root=root)
    out = tmp_path / "out"
    assert sorted(p.name for p in (out / "12_l3yla").iterdir()) == [
        "a.jpg", "a.txt", "sub__b.jpg", "sub__b.txt"]  # fmt: skip
    status = {it.path: (it.value or {}).get("status") for it in result.items}
    assert status["flagged.jpg"] == "left-out"
    assert status["sub__b.jpg"] == "error"  # its flat name is taken: told, not overwritten
    assert "would overwrite" in next(it.error for it in result.items if it.path == "sub__b.jpg")
    assert result.zip_path == tmp_path / "out.zip"
    with zipfile.ZipFile(result.zip_path) as zf:
        assert set(zf.namelist()) == {"12_l3yla/a.jpg", "12_l3yla/a.txt", "12_l3yla/sub__b.jpg",
                                      "12_l3yla/sub__b.txt", "manifest.json"}  # fmt: skip
    # ai-toolkit: one flat folder of images and captions
    export_dataset(paths[:2], tmp_path / "flat", ExportOptions(layout="flat"), root=root)
    assert sorted(p.name for p in (tmp_path / "flat").iterdir()) == [
        "a.jpg", "a.txt", "manifest.json", "sub__b.jpg", "sub__b.txt"]  # fmt: skip
    assert output_rel("x/y.png", "mirror") == "x/y.png"
    with pytest.raises(ExportError, match="trigger word"):
        ExportOptions(layout="kohya", trigger="").validate()
    with pytest.raises(ExportPlanError, match="already exists"):
        zip_folder(out)
