# ruff: noqa: F401, F811  (pytest fixtures imported from helper modules)
"""Face panel life cycle: the licence accepted and remembered, a backend failure shown to the
user (never a crash), closing the window in the middle of an analysis, a saved report."""

from __future__ import annotations

import json

import pytest
import yaml
from faces_gui_helpers import (
    EmbeddingDetector,
    _no_insightface_models,
    make_identity_set,
    open_and_analyse,
)
from PySide6.QtCore import Qt
from test_gui_fixtures import window

pytestmark = pytest.mark.gui


def test_licence_accepted_is_remembered(qtbot, window, tmp_path, monkeypatch):
    """Accepting starts the download in a dialog (off the GUI thread); the backend switches
    when it is done. The analysis itself never downloads."""
    import curation.faces.insightface_backend as ifb
    import desktop.panels.faces.license_dialog as lic
    from desktop.panels.faces.prefs import faces_prefs_path, load_faces_prefs

    folder = make_identity_set(tmp_path / "set", n_a=3)
    panel = window.faces
    panel.controller.detector_factory = EmbeddingDetector  # nothing is downloaded here
    open_and_analyse(qtbot, window, folder)
    present = {"models": False}
    monkeypatch.setattr(lic, "needs_licence", lambda root=None: not present["models"])

    def fake_download(root=None, pack="buffalo_l", *, on_progress=None, cancel=None, **_kw):
        on_progress(50, 100, "buffalo_l.zip")
        present["models"] = True
        return tmp_path / "buffalo_l"

    monkeypatch.setattr(ifb, "download_insightface_models", fake_download)
    panel.set_backend("insightface")
    dlg = panel.dialogs["licence"]
    qtbot.waitUntil(dlg.isVisible, timeout=5_000)
    with qtbot.waitSignal(panel.controller.finished, timeout=30_000):
        qtbot.mouseClick(dlg.accept_btn, Qt.MouseButton.LeftButton)
    assert panel.models.dialog.outcome == "done"
    assert panel.controller.backend == "insightface"
    assert not panel.controller.accept_licence  # downloads come only from the dialog
    saved = yaml.safe_load(faces_prefs_path().read_text())
    assert saved["insightface_licence"] == "accepted" and saved["backend"] == "insightface"
    assert load_faces_prefs().insightface_licence == "accepted"
    # asked once: choosing it again does not show the dialog
    panel.dialogs.pop("licence")
    with qtbot.waitSignal(panel.controller.finished, timeout=30_000):
        panel.set_backend("insightface")
    assert "licence" not in panel.dialogs


def test_backend_failure_is_shown_not_a_crash(qtbot, window, tmp_path):
    from curation.faces.base import FaceBackendError

    folder = make_identity_set(tmp_path / "set", n_a=2)

    def broken():
        raise FaceBackendError("face_detection_yunet_2023mar.onnx is damaged: download it again")

    panel = window.faces
    panel.controller.detector_factory = broken
    with qtbot.waitSignal(panel.controller.failed, timeout=30_000) as blocker:
        with qtbot.waitSignal(window.session.opened, timeout=15_000):
            window.open_folder(str(folder))
    assert "damaged" in blocker.args[0]
    assert "damaged" in panel.dashboard.backend_info.text()
    qtbot.waitUntil(lambda: "damaged" in window.banner.text.text(), timeout=5_000)
    assert not panel.controller.running
    assert not panel.status_widget.isVisible()


def test_close_window_during_analysis(qtbot, window, tmp_path):
    folder = make_identity_set(tmp_path / "set", n_a=8)
    ctrl = window.faces.controller
    ctrl.detector_factory = lambda: EmbeddingDetector(delay=0.3)
    seen = []
    ctrl.progress.connect(lambda d, t, m: seen.append(d))
    with qtbot.waitSignal(window.session.opened, timeout=15_000):
        window.open_folder(str(folder))
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=10_000)
    assert ctrl.running
    window.close()
    assert ctrl._thread.isFinished()  # stopped and joined, no dangling thread


def test_save_report_html_and_json(qtbot, window, tmp_path):
    folder = make_identity_set(tmp_path / "set", n_a=4)
    window.faces.controller.detector_factory = EmbeddingDetector
    _, report = open_and_analyse(qtbot, window, folder)
    out = window.faces.save_report(str(tmp_path / "report.json"))
    data = json.loads(out.read_text())
    assert data["verdict"] == report["verdict"] and data["schema_version"] == 1
    html = window.faces.save_report(str(tmp_path / "report.html"))
    text = html.read_text()
    assert text.lstrip().lower().startswith("<!doctype html") and "p_b.jpg" in text
    assert "saved" in window.banner.text.text()


def test_no_analysis_on_open_when_turned_off(qtbot, window, tmp_path, screenshot_dir):
    from PySide6.QtWidgets import QMenu

    folder = make_identity_set(tmp_path / "set", n_a=3)
    panel = window.faces
    panel.controller.detector_factory = EmbeddingDetector
    panel.act_auto.setChecked(False)
    with qtbot.waitSignal(window.session.opened, timeout=15_000):
        window.open_folder(str(folder))
    qtbot.wait(300)
    assert not panel.controller.running and panel.controller.report is None
    with qtbot.waitSignal(panel.controller.finished, timeout=30_000):
        panel.act_analyse.trigger()
    assert panel.controller.report["dataset"]["images"] == 4
    # the grid's right-click menu carries the override entries (and other panels' entries)
    menu = QMenu()
    menu.addActions(window.browser.grid.actions())
    menu.adjustSize()
    texts = [a.text() for a in menu.actions()]
    assert {"Shot tier", "Head pose", "Back view", "Same person (identity checked)"} <= set(texts)
    menu.grab().save(str(screenshot_dir / "faces_context_menu.png"))
    tier = panel.overrides.menus["tier"]
    tier.adjustSize()
    tier.grab().save(str(screenshot_dir / "faces_context_menu_tier.png"))
