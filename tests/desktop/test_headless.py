"""``likeness --headless DIR`` runs scan, analysis, report and lint without Qt."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from desktop.cli import main


@pytest.fixture
def small_dataset(tmp_path, faces_dir):
    root = tmp_path / "ds"
    root.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg"):
        shutil.copy(faces_dir / "face_recognition" / name, root / name)
        (root / name).with_suffix(".txt").write_text("a photo of ohwx, brown eyes", "utf-8")
    return root


def test_headless_runs_the_pipeline_and_writes_reports(small_dataset, capsys):
    from curation.workspace import Workspace

    with Workspace.open(small_dataset) as ws:
        ws.cache_put("dataset", "settings", {"trigger": "ohwx"})
    before = {p.name: p.read_bytes() for p in small_dataset.iterdir() if p.is_file()}

    assert main(["--headless", str(small_dataset)]) == 0

    out = capsys.readouterr().out
    assert "3 images, 3 captioned" in out
    assert "face backend: yunet" in out  # the shared model dir is on LIKENESS_MODEL_DIR
    assert "verdict: NOT READY" in out  # 3 images are far too few
    assert "captions (trigger ohwx)" in out
    report = json.loads((small_dataset / ".likeness" / "report.json").read_text("utf-8"))
    assert report["dataset"]["active"] == 3
    assert (small_dataset / ".likeness" / "report.html").stat().st_size > 1000
    after = {p.name: p.read_bytes() for p in small_dataset.iterdir() if p.is_file()}
    assert after == before  # images and captions untouched


def test_headless_without_trigger_says_how_to_lint(small_dataset, capsys):
    assert main(["--headless", str(small_dataset)]) == 0
    assert "no trigger set" in capsys.readouterr().out


def test_headless_unusable_folder_exits_2(tmp_path, capsys):
    assert main(["--headless", str(tmp_path / "missing")]) == 2
    assert "likeness:" in capsys.readouterr().err


def test_help_does_not_import_torch():
    code = (
        "import sys\nfrom desktop.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_headless_replaces_links_planted_at_its_report_names(small_dataset, tmp_path, capsys):
    """Links at ``.likeness/report.json`` / ``report.html`` (and at a temp name) are replaced
    by the reports; the files they point to are never written."""
    victims = {name: tmp_path / f"victim-{name}" for name in ("report.json", "report.html")}
    state = small_dataset / ".likeness"
    state.mkdir()
    for name, victim in victims.items():
        victim.write_text("keep me")
        (state / name).symlink_to(victim)
    assert main(["--headless", str(small_dataset)]) == 0
    capsys.readouterr()
    for name, victim in victims.items():
        assert victim.read_text() == "keep me"
        assert not (state / name).is_symlink() and (state / name).stat().st_size > 100
