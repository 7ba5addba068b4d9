"""``likeness analyze / report / export`` end to end on a small real-photo dataset."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from desktop.cli import main

ALLOWED_FLAGS = {"no-face", "multiple-faces", "small-face", "blurry", "low-resolution",
                 "borderline-tier", "duplicate", "identity-outlier", "identity-review",
                 "unreadable"}  # fmt: skip


@pytest.fixture
def dataset(tmp_path, faces_dir):
    root = tmp_path / "set"
    (root / "more").mkdir(parents=True)
    shutil.copy(faces_dir / "face_recognition/obama.jpg", root / "obama.jpg")
    shutil.copy(faces_dir / "face_recognition/obama3.jpg", root / "more/obama3.jpg")
    shutil.copy(faces_dir / "face_recognition/two_people.jpg", root / "two.jpg")
    shutil.copy(faces_dir / "scikit-image/chelsea.png", root / "cat.png")
    (root / "obama.txt").write_text("a photo of ohwx", encoding="utf-8")
    (root / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 nope")
    return root


def run_json(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    assert captured.out.strip(), f"exit {code}, stderr: {captured.err}"
    return code, json.loads(captured.out)


def test_analyze_json(dataset, capsys, yunet_model):
    code, data = run_json(capsys, "analyze", str(dataset), "--backend", "yunet",
                          "--model-dir", str(yunet_model.parent), "--json")  # fmt: skip
    assert code == 0 and data["backend"] == "yunet"
    entries = {e["path"]: e for e in data["images"]}
    assert set(entries) == {"obama.jpg", "more/obama3.jpg", "two.jpg", "cat.png", "bad.jpg"}
    for entry in entries.values():
        assert {"path", "faces", "tier", "pose", "face_height_ratio", "flags"} <= set(entry)
        assert set(entry["flags"]) <= ALLOWED_FLAGS
    assert entries["more/obama3.jpg"]["tier"] == "full-body"
    assert entries["obama.jpg"] == {
        **entries["obama.jpg"],
        "faces": 1,
        "tier": "medium",
        "pose": "frontal",
    }
    assert entries["two.jpg"]["faces"] == 2 and "multiple-faces" in entries["two.jpg"]["flags"]
    assert entries["cat.png"]["faces"] == 0 and entries["cat.png"]["tier"] is None
    assert "no-face" in entries["cat.png"]["flags"]
    assert entries["bad.jpg"]["flags"] == ["unreadable"] and entries["bad.jpg"]["error"]


def test_analyze_haar_and_missing_model(dataset, capsys, tmp_path):
    code = main(["analyze", str(dataset), "--backend", "yunet", "--model-dir", str(tmp_path)])
    assert code == 2 and "face_detection_yunet_2023mar.onnx" in capsys.readouterr().err
    code = main(["analyze", str(dataset), "--backend", "insightface"])
    assert code == 2 and "--accept-model-license" in capsys.readouterr().err
    assert main(["analyze", str(tmp_path / "missing"), "--json"]) == 2


def test_report_json_and_html(dataset, capsys, tmp_path, yunet_model):
    out = tmp_path / "report.html"
    code, report = run_json(capsys, "report", str(dataset), "--backend", "yunet", "--model-dir",
                            str(yunet_model.parent), "--profile", "face", "--html", str(out), "--json")  # fmt: skip
    assert code == 0 and report["schema_version"] == 1
    assert report["profile"]["name"] == "face"
    assert report["verdict"]["status"] == "not-ready"
    assert report["advice"] and all(isinstance(a["paths"], list) for a in report["advice"])
    html = out.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "NOT READY" in html
    # Every readable image once, plus the cat again under "To check: no face found".
    assert html.count("data:image/jpeg;base64,") == 5 and "To check: no face found" in html
    assert "Training buckets at 1024" in html and report["buckets"]["1024"]
    assert "<rect" in html and "http://" not in html and 'src="/' not in html
    code = main(
        ["report", str(dataset), "--backend", "yunet", "--profile", str(tmp_path / "x.yaml")]
    )
    assert code == 2 and "no balance profile" in capsys.readouterr().err


def test_export_face_crop(dataset, capsys, tmp_path, yunet_model):
    out = tmp_path / "clean"
    code, summary = run_json(capsys, "export", str(dataset), str(out), "--backend", "yunet",
                             "--model-dir", str(yunet_model.parent), "--crop-edges", "20,20",
                             "--face-crop", "256", "--face-ratio", "0.5", "--json")  # fmt: skip
    assert code == 0 and summary["exported"] == 4 and list(summary["errors"]) == ["bad.jpg"]
    assert Image.open(out / "more/obama3.jpg").size == (256, 256)
    assert (out / "obama.txt").read_text(encoding="utf-8") == "a photo of ohwx"
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["options"]["face_crop"] == 256
    # Exporting again into the same (now non-empty) folder is refused.
    assert main(["export", str(dataset), str(out)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert main(["export", str(dataset), str(tmp_path / "x"), "--crop-edges", "1,2,3"]) == 2


def test_insightface_download_after_licence_acceptance(dataset, capsys, tmp_path, monkeypatch):
    """--accept-model-license lets insightface fetch buffalo_l (here: a zip of tiny models
    served by a patched download) into its own cache; stdout stays one JSON object."""
    import os
    import zipfile

    import insightface.utils.storage as storage

    from tests.curation.tiny_insightface import build_buffalo

    models = build_buffalo(tmp_path / "src")
    home = tmp_path / "if-home"
    monkeypatch.setenv("INSIGHTFACE_HOME", str(home))
    fetched = []

    def fake_download(url, path=None, overwrite=False, sha1_hash=None):
        fetched.append(url)
        os.makedirs(os.path.dirname(path), exist_ok=True)  # as the real download_file does
        with zipfile.ZipFile(path, "w") as zf:
            for f in models.iterdir():
                zf.write(f, f.name)
        return path

    monkeypatch.setattr(storage, "download_file", fake_download)
    assert main(["analyze", str(dataset), "--backend", "insightface"]) == 2
    assert "--accept-model-license" in capsys.readouterr().err and not fetched
    code, data = run_json(capsys, "analyze", str(dataset), "--backend", "insightface",
                          "--accept-model-license", "--json")  # fmt: skip
    assert code == 0 and data["backend"] == "insightface"
    assert fetched == [
        "https://github.com/deepinsight/insightface/releases/download/model-zoo/buffalo_l.zip"
    ]
    assert (home / "models/buffalo_l/det_10g.onnx").is_file()
    assert len(data["images"]) == 5


def test_face_models_lists_and_downloads(capsys, tmp_path, yunet_model, monkeypatch):
    from curation.faces import models

    code, data = run_json(capsys, "face-models", "--model-dir", str(tmp_path), "--json")
    by_name = {b["name"]: b for b in data["backends"]}
    assert code == 0 and not by_name["yunet"]["available"] and by_name["haar"]["available"]
    # The official URL is fetched (here from the shared copy); the sha256 is checked.
    monkeypatch.setattr(models, "_urllib_fetch", lambda url: iter([yunet_model.read_bytes()]))
    code, data = run_json(capsys, "face-models", "--model-dir", str(tmp_path), "--download",
                          "yunet", "--json")  # fmt: skip
    assert code == 0 and data["downloaded"] == [str(tmp_path / yunet_model.name)]
    assert {b["name"]: b for b in data["backends"]}["yunet"]["available"]
    monkeypatch.setattr(models, "_urllib_fetch", lambda url: iter([b"html error page"]))
    assert main(["face-models", "--model-dir", str(tmp_path), "--download", "sface"]) == 2
    assert "sha256" in capsys.readouterr().err


def test_cli_says_identity_not_checked_and_checks_it_out_of_the_box(
    dataset, capsys, tmp_path, faces_dir
):
    """Detection only: a warning with the reason and the fix; auto on a fresh install (empty
    model folder): dlib checks identity and flags the other person."""
    code = main(["analyze", str(dataset), "--backend", "yunet", "--model-dir",
                 str(faces_dir.parents[1] / "models")])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert "warning: identity not checked: the yunet backend computes no face embeddings" in out
    assert "Fix: analyse again with the auto or dlib backend" in out
    shutil.copy(faces_dir / "face_recognition/obama2.jpg", dataset / "obama2.jpg")
    shutil.copy(faces_dir / "face_recognition/biden.jpg", dataset / "biden.jpg")
    empty = tmp_path / "fresh-models"
    empty.mkdir()
    code, report = run_json(capsys, "report", str(dataset), "--model-dir", str(empty), "--json")
    assert code == 0 and report["backend"]["name"] == "hog+dlib"
    outliers = report["identity"]["outliers"]
    assert report["identity"]["available"] and "biden.jpg" in outliers
    assert not any(rel.startswith(("obama", "more/")) for rel in outliers)
    code = main(["report", str(dataset), "--backend", "haar"])
    out = capsys.readouterr().out
    assert "Verdict: NOT READY" in out
    assert "[warning] Identity not checked: the haar backend" in out
