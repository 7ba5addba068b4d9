"""``likeness scan / replace / undo / redo`` as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from curation import workspace
from curation.errors import CaptionWriteError
from curation.workspace import Workspace
from desktop.cli import main
from tests.corpus import make_bad_corpus, make_dataset

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    folder = tmp_path / "10_l3yla"
    make_dataset(folder, 4, caption="photo of l3yla, Red scarf")
    (folder / "img00003.txt").unlink()
    (folder / "broken.jpg").write_bytes(b"")
    (folder / "sub").mkdir()
    make_dataset(folder / "sub", 1, caption="in a subfolder")
    return folder


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_scan_text(ds: Path, capsys) -> None:
    code, out, err = run(capsys, "scan", str(ds))
    assert code == 0
    assert "6 images, 4 captioned, 2 uncaptioned, 0 excluded" in out
    assert "errors (1):" in out and "broken.jpg: empty file (0 bytes)" in out
    assert "  .: 5 images x 10 repeats" in out and "  sub: 1 images x 10 repeats" in out
    assert not (ds / ".likeness").exists()  # scanning writes nothing into the dataset


def test_scan_json(ds: Path, capsys) -> None:
    with Workspace.open(ds) as ws:
        ws.set_excluded("img00000.png")
    code, out, _ = run(capsys, "scan", str(ds), "--json")
    data = json.loads(out)
    assert code == 0
    assert {k: data[k] for k in ("images", "captioned", "uncaptioned", "excluded")} == {
        "images": 6,
        "captioned": 4,
        "uncaptioned": 2,
        "excluded": 1,
    }
    assert data["errors"] == [{"path": "broken.jpg", "error": "empty file (0 bytes)"}]
    assert data["folders"] == [
        {"path": ".", "images": 5, "repeats": 10},
        {"path": "sub", "images": 1, "repeats": 10},
    ]
    code, out, _ = run(capsys, "scan", str(ds), "--json", "--no-recursive")
    assert json.loads(out)["images"] == 5


def test_scan_bad_corpus_lists_every_bad_file(tmp_path: Path, capsys) -> None:
    make_bad_corpus(tmp_path / "c")
    code, out, _ = run(capsys, "scan", str(tmp_path / "c"), "--json")
    errors = {e["path"]: e["error"] for e in json.loads(out)["errors"]}
    assert code == 0 and set(errors) == {
        "truncated.jpg",
        "empty.png",
        "text.png",
        "page.jpg",
        "bomb.png",
    }
    assert errors["text.png"] == "not an image: the file is text named .png"
    code, out, _ = run(capsys, "scan", str(tmp_path / "c"), "--json", "--max-megapixels", "500")
    assert "bomb.png" not in {e["path"] for e in json.loads(out)["errors"]}


@pytest.mark.parametrize("target", ["missing", "file.txt"])
def test_scan_unusable_dir_exits_2(tmp_path: Path, capsys, target: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    code, out, err = run(capsys, "scan", str(tmp_path / target))
    assert code == 2 and out == ""
    assert err.startswith("likeness: ") and ("does not exist" in err or "not a folder" in err)


def test_replace_dry_run_changes_nothing(ds: Path, capsys) -> None:
    before = {p.name: p.read_text() for p in ds.glob("*.txt")}
    code, out, err = run(capsys, "replace", str(ds), "Red scarf", "blue hat", "--dry-run")
    assert code == 0
    assert "img00000.png: photo of l3yla, [-Red-]{+blue+} [-scarf-]{+hat+} 0" in out
    assert "would change 3 captions" in err
    assert {p.name: p.read_text() for p in ds.glob("*.txt")} == before
    assert not (ds / ".likeness").exists()
    code, out, _ = run(capsys, "replace", str(ds), "l3yla", "ohwx", "--dry-run", "--json")
    data = json.loads(out)
    assert data["dry_run"] and data["count"] == 3 and data["written"] == 0
    assert data["changes"][0] == {
        "path": "img00000.png",
        "old": "photo of l3yla, Red scarf 0",
        "new": "photo of ohwx, Red scarf 0",
    }


def test_replace_undo_redo(ds: Path, capsys) -> None:
    code, out, _ = run(
        capsys, "replace", str(ds), "red", "blue", "--ignore-case", "--whole-word", "--json"
    )
    assert code == 0 and json.loads(out)["written"] == 3
    assert (ds / "img00001.txt").read_text() == "photo of l3yla, blue scarf 1"
    code, out, _ = run(capsys, "replace", str(ds), r"(\w+) scarf", r"\1 shawl", "--regex")
    assert code == 0 and (ds / "img00001.txt").read_text() == "photo of l3yla, blue shawl 1"
    code, out, _ = run(capsys, "undo", str(ds))
    assert code == 0 and "undo:" in out and "(3 captions)" in out
    assert (ds / "img00001.txt").read_text() == "photo of l3yla, blue scarf 1"
    run(capsys, "undo", str(ds))
    assert (ds / "img00001.txt").read_text() == "photo of l3yla, Red scarf 1"
    code, _, err = run(capsys, "undo", str(ds))
    assert code == 1 and "nothing to undo" in err
    code, out, _ = run(capsys, "redo", str(ds), "--json")
    assert code == 0 and json.loads(out)["written"] == 3
    assert (ds / "img00001.txt").read_text() == "photo of l3yla, blue scarf 1"


def test_replace_invalid_regex(ds: Path, capsys) -> None:
    code, out, err = run(capsys, "replace", str(ds), "scarf(", "x", "--regex")
    assert code == 2 and "invalid regular expression 'scarf(': missing )" in err


def test_replace_read_only_caption_is_reported(ds: Path, capsys, monkeypatch) -> None:
    real = workspace.write_caption_atomic

    def write(path, text, root=None):
        if Path(path).name == "img00000.txt":
            raise CaptionWriteError("cannot write caption img00000.txt: read-only")
        real(path, text, root=root)

    monkeypatch.setattr(workspace, "write_caption_atomic", write)
    code, _, err = run(capsys, "replace", str(ds), "l3yla", "ohwx")
    assert code == 1 and "img00000.png: cannot write caption img00000.txt: read-only" in err
    monkeypatch.undo()
    code, out, _ = run(capsys, "scan", str(ds), "--json")
    assert json.loads(out)["pending"][0]["path"] == "img00000.png"


def test_progress_bar_when_enabled(capsys) -> None:
    from desktop.cli.common import Progress as _Progress

    bar = _Progress("checking", enabled=True)
    bar(5, 10)
    bar.close()
    assert "checking" in capsys.readouterr().err
    quiet = _Progress("x", enabled=False)
    quiet(1, 2)
    quiet.close()
    assert capsys.readouterr().err == ""


def test_cli_scan_in_a_fresh_process_does_not_import_torch(ds: Path) -> None:
    code = (
        "import sys; from desktop.cli import main; rc = main(['scan', sys.argv[1], '--json']);"
        "assert 'torch' not in sys.modules and 'PySide6' not in sys.modules; sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(ds)],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["images"] == 6
    bad = subprocess.run(
        [sys.executable, "-m", "desktop", "scan", str(ds / "nope")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert bad.returncode == 2 and "does not exist" in bad.stderr


def test_ctrl_c_is_a_message_not_a_traceback(ds: Path, capsys, monkeypatch) -> None:
    def interrupt(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(workspace.Workspace, "apply_changes", interrupt)
    code, _, err = run(capsys, "replace", str(ds), "l3yla", "ohwx")
    assert code == 130 and "interrupted" in err and "Traceback" not in err


def test_bulk_operations(ds: Path, capsys) -> None:
    code, out, err = run(capsys, "bulk", "rename-trigger", str(ds), "l3yla", "ohwx", "--dry-run")
    assert code == 0 and "[-l3yla-]{+ohwx+}" in out and "would change 3 captions" in err
    assert (ds / "img00000.txt").read_text() == "photo of l3yla, Red scarf 0"
    assert run(capsys, "bulk", "rename-trigger", str(ds), "l3yla", "ohwx")[0] == 0
    assert (ds / "img00000.txt").read_text() == "photo of ohwx, Red scarf 0"
    code, out, _ = run(capsys, "bulk", "prepend", str(ds), "ohwx", "--json")
    data = json.loads(out)  # captioned images only: no caption file is created
    assert code == 0 and [c["path"] for c in data["changes"]] == [
        "img00000.png",
        "img00001.png",
        "img00002.png",
        "sub/img00000.png",
    ]
    assert not (ds / "img00003.txt").exists()
    run(capsys, "bulk", "prepend", str(ds), "ohwx", "--include-uncaptioned")
    assert (ds / "img00003.txt").read_text() == "ohwx"
    assert (ds / "broken.txt").read_text() == "ohwx"  # every image, even a broken one
    run(capsys, "bulk", "append", str(ds), "red scarf")
    assert (ds / "img00000.txt").read_text() == "ohwx, photo of ohwx, Red scarf 0, red scarf"
    run(capsys, "bulk", "append", str(ds), "OHWX")
    assert (ds / "img00003.txt").read_text() == "ohwx, red scarf, OHWX"
    code, out, _ = run(capsys, "bulk", "dedupe", str(ds), "--json")
    data = json.loads(out)
    assert code == 0 and data["count"] == 6
    assert (ds / "img00000.txt").read_text() == "ohwx, photo of ohwx, Red scarf 0, red scarf"
    run(capsys, "undo", str(ds))
    assert (ds / "img00003.txt").read_text() == "ohwx, red scarf, OHWX"
    run(capsys, "undo", str(ds))
    assert (ds / "img00000.txt").read_text() == "ohwx, photo of ohwx, Red scarf 0, red scarf"
    code, _, err = run(capsys, "bulk", "prepend", str(ds), "  ")
    assert code == 2 and "empty" in err


def test_undo_of_an_exclusion_from_the_cli(tmp_path, capsys) -> None:
    from curation.workspace import Workspace
    from tests.corpus import make_dataset

    make_dataset(tmp_path / "d", 2)
    with Workspace.open(tmp_path / "d") as ws:
        ws.set_excluded_many(["img00000.png", "img00001.png"])
    code, out, _err = run(capsys, "undo", str(tmp_path / "d"))
    assert code == 0 and "undo: exclude 2 images (2 images)" in out
    with Workspace.open(tmp_path / "d") as ws:
        assert ws.excluded() == set()
