"""Exports: new folder only, captions along, excluded left out, edge and face crops, preview."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from curation.export import (
    ExportError,
    ExportOptions,
    export_dataset,
    face_crop_box,
    parse_edges,
    preview,
)
from curation.faces.yunet import YuNetDetector
from curation.workspace import Workspace


@pytest.fixture
def dataset(tmp_path, faces_dir):
    root = tmp_path / "set"
    (root / "sub").mkdir(parents=True)
    shutil.copy(faces_dir / "face_recognition/obama.jpg", root / "a.jpg")
    shutil.copy(faces_dir / "face_recognition/obama3.jpg", root / "sub/b.jpg")
    shutil.copy(faces_dir / "scikit-image/chelsea.png", root / "cat.png")
    (root / "a.txt").write_text("a photo of ohwx, smiling", encoding="utf-8")
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    return root


def test_parse_edges():
    assert parse_edges("150,120") == {"right": 150, "bottom": 120}
    assert parse_edges("left=10, top=0") == {"left": 10, "top": 0}
    for bad in ("1,2,3", "middle=3", "right=x", "right=-1"):
        with pytest.raises(ExportError):
            parse_edges(bad)


def test_face_crop_box_geometry():
    # Face 200 px high, ratio 0.5: a 400 px square centred on the face.
    box, ratio, notes = face_crop_box(1000, 1500, (400, 500, 150, 200), 0.5)
    assert box == (275, 400, 675, 800) and ratio == 0.5 and notes == []
    # Near the top edge: the square slides down, the face is off-centre.
    box, ratio, notes = face_crop_box(1000, 1500, (400, 10, 150, 200), 0.5)
    assert box[1] == 0 and box[3] - box[1] == 400 and "moved" in notes[0]
    # Too large for the image: shrinks to the short side, the face comes out bigger.
    box, ratio, notes = face_crop_box(300, 600, (100, 100, 100, 240), 0.6)
    assert box[2] - box[0] == 300 and ratio == pytest.approx(0.8) and "shrunk" in notes[0]
    box, ratio, _ = face_crop_box(300, 600, None, 0.6)
    assert box == (0, 150, 300, 450) and ratio is None


def test_refuses_existing_or_inside_folders(dataset, tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    (full / "x").write_text("x")
    opts = ExportOptions()
    for target in (dataset, dataset / "out", full):
        with pytest.raises(ExportError):
            export_dataset(sorted(dataset.glob("*.jpg")), target, opts, root=dataset)


def test_copy_export_with_workspace(dataset, tmp_path):
    before = {p: p.read_bytes() for p in dataset.rglob("*") if p.is_file()}
    with Workspace.open(dataset) as ws:
        ws.set_excluded("cat.png", True)
        result = export_dataset(ws, tmp_path / "out", ExportOptions())
    out = tmp_path / "out"
    assert (out / "a.jpg").read_bytes() == (dataset / "a.jpg").read_bytes()
    assert (out / "a.txt").read_text(encoding="utf-8") == "a photo of ohwx, smiling"
    assert (out / "sub/b.jpg").is_file() and not (out / "cat.png").exists()
    assert not (out / "broken.jpg").exists()
    manifest = json.loads((out / "manifest.json").read_text())
    status = {f["source"]: f["status"] for f in manifest["files"]}
    assert status == {"a.jpg": "exported", "sub/b.jpg": "exported", "cat.png": "excluded",
                      "broken.jpg": "error"}  # fmt: skip
    assert result.exported == 2
    assert all(p.read_bytes() == data for p, data in before.items())  # originals untouched


def test_edge_and_face_crop(dataset, tmp_path, yunet_model):
    det = YuNetDetector(model_path=yunet_model)
    opts = ExportOptions(crop_edges={"right": 50, "bottom": 40}, face_crop=512, face_ratio=0.6)
    paths = [dataset / "a.jpg", dataset / "sub/b.jpg", dataset / "cat.png"]
    result = export_dataset(paths, tmp_path / "out", opts, detector=det, root=dataset)
    out = tmp_path / "out"
    manifest = json.loads((out / "manifest.json").read_text())
    files = {f["source"]: f for f in manifest["files"]}
    a = files["a.jpg"]
    assert [op["op"] for op in a["operations"]] == ["crop-edges", "face-crop", "resize"]
    assert a["operations"][0]["size"] == [860, 1097]
    assert Image.open(out / "a.jpg").size == (512, 512) and a["caption"] == "a.txt"
    # The face really fills ~60 % of the output height.
    face = det.detect(np.asarray(Image.open(out / "sub/b.jpg").convert("RGB")))[0]
    assert face.height / 512 == pytest.approx(0.6, abs=0.06)
    assert "no face found: centred square" in files["cat.png"]["notes"]
    assert result.exported == 3


def test_preview(dataset):
    opts = ExportOptions(crop_edges={"right": 100, "bottom": 100})
    result = preview(dataset / "a.jpg", opts, max_side=455)
    assert result.before.size == (364, 455)
    assert result.crop_box == (0, 0, 324, 415)
    assert result.after.size[1] <= 455 and result.operations[0]["op"] == "crop-edges"
    with pytest.raises(ExportError):
        preview(dataset / "a.jpg", ExportOptions(crop_edges={"right": 5000}))


def test_paths_export_decodes_utf16_and_bom_captions(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for name, data in (
        ("u16", "a photo of ohwx, café".encode("utf-16")),
        ("bom", b"\xef\xbb\xbfa photo of ohwx, smiling"),
    ):
        Image.new("RGB", (64, 64), "white").save(src / f"{name}.png")
        (src / f"{name}.txt").write_bytes(data)
    export_dataset([src / "u16.png", src / "bom.png"], tmp_path / "out", ExportOptions())
    out = tmp_path / "out"
    assert (out / "u16.txt").read_text(encoding="utf-8") == "a photo of ohwx, café"
    assert (out / "bom.txt").read_bytes() == b"a photo of ohwx, smiling"
