# ruff: noqa: F401, F811  (pytest fixtures imported from helper modules)
"""The caption lint uses the last cached face analysis as soon as a folder opens, before (or
without) the faces panel's own run; the panel's fresh analysis replaces it."""

from __future__ import annotations

import shutil

import pytest
import yaml
from faces_gui_helpers import _no_insightface_models
from test_gui_fixtures import window

from curation import paths
from curation.analysis import analyze_dataset
from curation.workspace import Workspace
from desktop.panels.faces.prefs import FACES_PREFS_FILE

pytestmark = pytest.mark.gui

EYES = "a photo of l3yla, brown eyes, holding a camera, outdoors"


@pytest.fixture
def analysed(tmp_path, faces_dir, yunet_model):
    """camera.png (a profile view) with an eye-colour caption, analysed once (the cache)."""
    root = tmp_path / "10_l3yla"
    root.mkdir()
    shutil.copy(faces_dir / "scikit-image" / "camera.png", root / "camera.png")
    (root / "camera.txt").write_text(EYES, encoding="utf-8")
    with Workspace.open(root) as ws:
        ran = analyze_dataset(ws, backend="yunet", workers=1)
        assert ran.by_rel()["camera.png"].pose == "profile"
    return root


@pytest.fixture
def no_auto_analysis():
    path = paths.config_dir() / FACES_PREFS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"analyze_on_open": False}), encoding="utf-8")
    return path


def _invisible(report) -> list[str]:
    return [m.rel for m in report.all_issues() if m.rule == "invisible-feature"]


@pytest.fixture
def gui(qtbot, no_auto_analysis):
    from desktop.app import create_app
    from desktop.main_window import MainWindow

    create_app()
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def test_cached_face_facts_lint_at_once_without_the_faces_panel(qtbot, gui, analysed):
    assert gui.faces.prefs.analyze_on_open is False
    ctrl = gui.captions.controller
    with qtbot.waitSignal(ctrl.report_changed, timeout=30_000):
        gui.open_folder(str(analysed))
    qtbot.waitUntil(lambda: "camera.png" in ctrl.report.by_rel, timeout=30_000)
    assert not gui.faces.controller.running and gui.faces.controller.analysis is None
    assert _invisible(ctrl.report) == ["camera.png"]
    assert ctrl.report.facts["camera.png"].pose == "profile"
    assert ctrl.memo.cached_reads == 1
    ctrl.relint_now(wait=True)  # a later lint of the same open: no second read
    assert ctrl.memo.cached_reads == 1 and _invisible(ctrl.report) == ["camera.png"]


def test_fresh_analysis_replaces_the_cached_facts(qtbot, gui, analysed):
    ctrl, faces = gui.captions.controller, gui.faces.controller
    with qtbot.waitSignal(ctrl.report_changed, timeout=30_000):
        gui.open_folder(str(analysed))
    qtbot.waitUntil(lambda: _invisible(ctrl.report) == ["camera.png"], timeout=30_000)
    gui.session.workspace.set_override("camera.png", "pose", "frontal")
    with qtbot.waitSignal(faces.finished, timeout=60_000):
        gui.faces.start()
    assert faces.images["camera.png"].pose == "frontal"
    ctrl.relint_now(wait=True)
    assert ctrl.report.facts["camera.png"].pose == "frontal"
    assert _invisible(ctrl.report) == []
