# ruff: noqa: F401, F811  (pytest fixtures imported from helper modules)
"""Face panel end to end: background analysis, badges, dashboard, advice filter, overrides,
exclusions, cache, cancel, face boxes, backend choice and the insightface licence."""

from __future__ import annotations

import time

import pytest
import yaml
from faces_gui_helpers import (
    EmbeddingDetector,
    _no_insightface_models,
    badge_texts,
    faces_set,
    open_and_analyse,
    settle,
    wait_reanalysed,
)
from PySide6.QtCore import Qt
from test_gui_fixtures import window

from desktop.models.thumbnail_model import RelRole

pytestmark = pytest.mark.gui


def _shown_rels(window) -> set[str]:
    proxy = window.browser.proxy
    return {proxy.index(r, 0).data(RelRole) for r in range(proxy.rowCount())}


def test_analysis_badges_and_dashboard(qtbot, window, faces_set, screenshot_dir):
    progress = []
    window.faces.controller.progress.connect(lambda d, t, m: progress.append((d, t)))
    per_image = []
    window.faces.controller.image_analysed.connect(lambda rel, img: per_image.append(rel))
    analysis, report = open_and_analyse(qtbot, window, faces_set)
    assert analysis.backend == "yunet+dlib"  # identity out of the box (dlib is installed)
    assert progress[-1] == (15, 15)
    assert len(per_image) == 15  # badges could be drawn before the dataset pass
    assert "full body" in badge_texts(window, "obama3.jpg")
    assert "close-up" in badge_texts(window, "obama3_closeup.jpg")
    assert "medium" in badge_texts(window, "obama3_medium.jpg")
    assert "profile" in badge_texts(window, "camera.png")
    assert "2 faces" in badge_texts(window, "two_people.jpg")
    assert "no face" in badge_texts(window, "chelsea.png")
    assert badge_texts(window, "broken.jpg") == ["unreadable"]
    assert any(t.startswith("dup") for t in badge_texts(window, "obama_exif6.jpg"))
    dash = window.faces.dashboard
    assert window.faces.dock.isVisible()
    assert dash.verdict.text() == "NOT READY"
    assert "Ran yunet+dlib (landmarks, identity check)" in dash.backend_info.text()
    assert dash.dup_btn.isEnabled() and "(3)" in dash.dup_btn.text()
    # The other people (Biden, the astronaut twice, the camera man) are flagged, Obama is not.
    flagged = set(report["identity"]["outliers"]) | set(report["identity"]["review"])
    assert {"biden.jpg", "astronaut.png", "camera.png"} <= flagged
    assert not any(rel.startswith("obama") for rel in flagged)
    assert dash.id_btn.isEnabled()
    assert dash.advice.count() == len(report["advice"])
    assert not window.faces.status_widget.isVisible()  # progress gone at the end
    settle(qtbot)
    window.grab().save(str(screenshot_dir / "faces_window.png"))
    window.browser.grid.grab().save(str(screenshot_dir / "faces_grid_badges.png"))
    window.faces.dock.grab().save(str(screenshot_dir / "faces_dashboard.png"))
    dash.advice.grab().save(str(screenshot_dir / "faces_advice_list.png"))
    dash.resize(380, 1500)
    settle(qtbot, 100)
    dash.grab().save(str(screenshot_dir / "faces_dashboard_full.png"))


def test_advice_click_filters_grid(qtbot, window, faces_set, screenshot_dir):
    _, report = open_and_analyse(qtbot, window, faces_set)
    dash = window.faces.dashboard
    rows = dash.advice_rows()
    i = next(i for i, text in enumerate(rows) if "near-duplicate" in text)
    item = dash.advice.item(i)
    settle(qtbot, 50)
    rect = dash.advice.visualItemRect(item)
    assert dash.advice.viewport().rect().contains(rect.center())  # every line is shown
    qtbot.mouseClick(dash.advice.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wanted = next(a["paths"] for a in report["advice"] if a["id"] == "duplicates")
    assert _shown_rels(window) == set(wanted) and len(wanted) == 6
    chip = window.faces.chip
    assert chip.isVisible() and "near-duplicate" in chip.label.text() and "(6)" in chip.label.text()
    assert window.browser.grid.current_rel() in wanted
    window.browser.grid.grab().save(str(screenshot_dir / "faces_grid_advice_filter.png"))
    qtbot.mouseClick(chip.clear_btn, Qt.MouseButton.LeftButton)
    assert window.browser.proxy.rowCount() == 15
    assert not chip.isVisible()
    # the face filter in the filter bar
    window.faces.face_filter.set_key("tier:full-body")
    assert _shown_rels(window) == set(report["tiers"]["full-body"]["paths"])
    window.faces.face_filter.set_key("flag:unreadable")
    assert _shown_rels(window) == {"broken.jpg", "notes.png"}
    window.faces.face_filter.set_key(None)
    assert window.browser.proxy.rowCount() == 15


def test_override_from_context_menu_wins_in_report(qtbot, window, faces_set):
    from curation.analysis import analyze_dataset
    from curation.balance.report import build_report
    from curation.workspace import Workspace

    _, report = open_and_analyse(qtbot, window, faces_set)
    assert "obama3_medium.jpg" in report["tiers"]["medium"]["paths"]
    assert window.browser.grid.select_rel("obama3_medium.jpg")
    menu = window.faces.overrides.menus["tier"]
    assert menu.menuAction() in window.browser.grid.actions()
    menu.aboutToShow.emit()
    full = next(a for a in menu.actions() if a.text() == "Full body")
    _, report = wait_reanalysed(qtbot, window, full.trigger)
    assert "obama3_medium.jpg" in report["tiers"]["full-body"]["paths"]
    entry = next(e for e in report["images"] if e["path"] == "obama3_medium.jpg")
    assert entry["tier"] == "full-body" and entry["tier_source"] == "override"
    assert "full body*" in badge_texts(window, "obama3_medium.jpg")
    menu.aboutToShow.emit()
    assert full.isChecked()
    # back view on the cat: a person-less image the user calls a back view
    assert window.browser.grid.select_rel("chelsea.png")
    back = next(a for a in window.faces.overrides.menus["back_view"].actions() if a.data() is True)
    _, report = wait_reanalysed(qtbot, window, back.trigger)
    cat = next(e for e in report["images"] if e["path"] == "chelsea.png")
    assert cat["pose"] == "back" and "no-face" not in cat["flags"]
    # the override is stored in the workspace: a fresh core analysis (the CLI path) agrees
    ws = Workspace.open(faces_set)
    try:
        again = build_report(analyze_dataset(ws, backend="yunet"))
    finally:
        ws.close()
    assert "obama3_medium.jpg" in again["tiers"]["full-body"]["paths"]
    assert next(e for e in again["images"] if e["path"] == "chelsea.png")["pose"] == "back"


def test_exclusion_and_profile_change_reclassify(qtbot, window, faces_set):
    analysis, report = open_and_analyse(qtbot, window, faces_set)
    assert report["dataset"]["excluded"] == 0
    assert window.browser.grid.select_rel("chelsea.png")
    _, report = wait_reanalysed(qtbot, window, window.toggle_excluded)
    assert report["dataset"]["excluded"] == 1
    assert "chelsea.png" not in report["quality"]["no-face"]
    # another profile re-judges the same measures without decoding anything
    calls = []
    window.faces.controller.progress.connect(lambda *a: calls.append(a))
    dash = window.faces.dashboard
    _, report = wait_reanalysed(
        qtbot,
        window,
        lambda: dash.profile_combo.setCurrentIndex(dash.profile_combo.findData("face")),
    )
    assert report["profile"]["name"] == "face" and calls == []
    prefs = yaml.safe_load(_prefs_file().read_text())
    assert prefs["profile"] == "face"


def _prefs_file():
    from desktop.panels.faces.prefs import faces_prefs_path

    return faces_prefs_path()


def test_second_open_uses_the_cache(qtbot, window, faces_set):
    open_and_analyse(qtbot, window, faces_set)
    window.faces.show_advice(["obama.jpg"], "one image")
    assert window.browser.proxy.rowCount() == 1
    window.close_folder()
    assert window.faces.dashboard.verdict.text() == "No analysis yet"
    t0 = time.perf_counter()
    analysis, _ = open_and_analyse(qtbot, window, faces_set)
    elapsed = time.perf_counter() - t0
    assert analysis.cached == 13  # every readable image came from the cache
    assert elapsed < 10
    assert "13 of 15 from the cache" in window.faces.dashboard.backend_info.text()
    assert window.browser.proxy.rowCount() == 15  # the old advice filter is gone


def test_cancel_keeps_partial_results(qtbot, window, tmp_path):
    from faces_gui_helpers import make_identity_set

    folder = make_identity_set(tmp_path / "slow", n_a=8)
    ctrl = window.faces.controller
    detector = EmbeddingDetector(delay=0.4)
    ctrl.detector_factory = lambda: detector
    seen = []
    ctrl.progress.connect(lambda d, t, m: seen.append(d))
    with qtbot.waitSignal(ctrl.finished, timeout=30_000):
        with qtbot.waitSignal(window.session.opened, timeout=15_000):
            window.open_folder(str(folder))
        qtbot.waitUntil(lambda: window.faces.status_widget.isVisible(), timeout=5_000)
        qtbot.waitUntil(lambda: len(seen) >= 2, timeout=10_000)
        # badges appear on tiles while the analysis is still running
        qtbot.waitUntil(lambda: "close-up" in badge_texts(window, "p_a00.jpg"), timeout=5_000)
        assert ctrl.running
        qtbot.mouseClick(window.faces.status_cancel, Qt.MouseButton.LeftButton)
    analysis = ctrl.analysis
    assert analysis.cancelled and 0 < len(analysis.images) < 9
    assert "cancelled" in window.faces.dashboard.summary.text()
    assert "partial" in window.faces.dashboard.run_state.text()
    # the detector never ran on the GUI thread
    import threading

    assert detector.threads and threading.main_thread().name not in detector.threads


def test_face_box_in_detail_view(qtbot, window, faces_set, screenshot_dir):
    analysis, _ = open_and_analyse(qtbot, window, faces_set)
    viewer = window.browser.detail.viewer
    assert window.browser.grid.select_rel("obama3_closeup.jpg")
    qtbot.waitUntil(viewer.has_full_image, timeout=10_000)
    overlay = window.faces.overlay
    assert overlay.rel == "obama3_closeup.jpg" and overlay.items
    from PySide6.QtWidgets import QGraphicsRectItem

    box = next(i for i in overlay.items if type(i) is QGraphicsRectItem)
    ratio = box.rect().height() / viewer.sceneRect().height()
    img = analysis.by_rel()["obama3_closeup.jpg"]
    assert ratio == pytest.approx(img.face_height_ratio, rel=0.02)
    settle(qtbot)
    window.browser.detail.grab().save(str(screenshot_dir / "faces_detail_overlay.png"))
    window.faces.act_boxes.setChecked(False)
    assert overlay.items == []
    window.faces.act_boxes.setChecked(True)
    assert overlay.items


def test_backend_choice_and_insightface_licence(qtbot, window, faces_dir, tmp_path, monkeypatch):
    import shutil

    import desktop.panels.faces.license_dialog as lic

    small = tmp_path / "small"  # Haar is slow: three images are enough here
    small.mkdir()
    shutil.copy(faces_dir / "face_recognition" / "obama2.jpg", small)
    shutil.copy(faces_dir / "scikit-image" / "astronaut.png", small)
    open_and_analyse(qtbot, window, small)
    monkeypatch.setattr(lic, "needs_licence", lambda root=None: True)
    panel = window.faces
    panel.set_backend("insightface")
    dlg = panel.dialogs["licence"]
    qtbot.waitUntil(dlg.isVisible, timeout=5_000)
    from PySide6.QtWidgets import QLabel

    assert any("non-commercial" in label.text() for label in dlg.findChildren(QLabel))
    with qtbot.waitSignal(panel.controller.finished, timeout=60_000):
        qtbot.mouseClick(dlg.decline_btn, Qt.MouseButton.LeftButton)
    assert panel.prefs.insightface_licence == "declined"
    assert panel.controller.backend == "auto"
    saved = yaml.safe_load(_prefs_file().read_text())
    assert saved["insightface_licence"] == "declined" and saved["backend"] == "auto"
    assert not panel.dashboard.insightface_btn.isVisible()  # declined: not offered again
    # Haar: no landmarks, no identity; the dashboard says so
    _, report = wait_reanalysed(qtbot, window, lambda: panel.set_backend("haar"), 60_000)
    assert report["backend"]["name"] == "haar"
    info = panel.dashboard.backend_info.text()
    assert "Ran haar" in info and "no landmarks" in info
    assert "identity not checked: the haar backend computes no face embeddings" in info
    assert any(
        a["id"] == "identity-unavailable" and a["severity"] == "warning" for a in report["advice"]
    )


def test_proxy_hooks_filter_rows(qtbot, window, faces_set):
    """The generic proxy hooks the panels rely on (a regression test: a proxy rewrite once
    dropped them and advice clicks stopped filtering)."""
    open_and_analyse(qtbot, window, faces_set)
    proxy = window.browser.proxy
    changes = []
    proxy.extra_filters_changed.connect(lambda: changes.append(1))
    proxy.set_rel_filter(["obama.jpg", "biden.jpg"], "two of them")
    assert _shown_rels(window) == {"obama.jpg", "biden.jpg"}
    assert proxy.rel_filter_label == "two of them"
    proxy.set_extra_predicate("test", lambda rel: rel.startswith("b"))
    assert _shown_rels(window) == {"biden.jpg"}
    proxy.set_rel_filter(None)
    assert _shown_rels(window) == {"biden.jpg", "broken.jpg"}
    proxy.set_extra_predicate("test", None)
    assert proxy.rowCount() == 15 and proxy.rel_filter_label == "" and len(changes) == 4
