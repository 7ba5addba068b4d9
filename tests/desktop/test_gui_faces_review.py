# ruff: noqa: F401, F811  (pytest fixtures imported from helper modules)
"""Review screens: near-duplicate groups (keep / exclude, suggested keeper) and identity
outliers (face crop beside reference faces, score, keep / exclude)."""

from __future__ import annotations

import pytest
from faces_gui_helpers import (
    EmbeddingDetector,
    _no_insightface_models,
    badge_texts,
    faces_set,
    make_identity_set,
    open_and_analyse,
    settle,
    wait_reanalysed,
)
from PySide6.QtCore import Qt
from test_gui_fixtures import window

pytestmark = pytest.mark.gui


def test_duplicate_review_keeps_the_suggested_one(qtbot, window, faces_set, screenshot_dir):
    analysis, report = open_and_analyse(qtbot, window, faces_set)
    assert len(report["duplicates"]) == 3
    window.faces.dashboard.dup_btn.click()
    dlg = window.faces.dialogs["duplicates"]
    qtbot.waitUntil(dlg.isVisible, timeout=5_000)
    group = dlg.group
    assert "group 1 of 3" in dlg.title.text()
    assert len(dlg.cards) == len(group.paths) == 2
    keeper = next(c for c in dlg.cards if c.rel == group.keep)
    other = next(c for c in dlg.cards if c.rel != group.keep)
    assert "Suggested keeper" in keeper.mark.text() and other.mark.text() == ""
    assert keeper.property("keeper") == "true"
    qtbot.waitUntil(lambda: all(c.tile.loaded for c in dlg.cards), timeout=10_000)
    settle(qtbot)
    dlg.grab().save(str(screenshot_dir / "faces_duplicate_review.png"))
    ws = window.session.workspace
    _, report = wait_reanalysed(
        qtbot, window, lambda: qtbot.mouseClick(dlg.keep_suggested_btn, Qt.MouseButton.LeftButton)
    )
    assert ws.is_excluded(other.rel) and not ws.is_excluded(group.keep)
    assert "group 2 of 3" in dlg.title.text()  # moved on to the next group
    assert report["dataset"]["excluded"] == 1
    assert len(report["duplicates"]) == 2  # the group is resolved
    assert window.browser.model.row_data(other.rel).excluded
    # one card's own Keep button undoes it
    dlg.show_group(0)
    card = next(c for c in dlg.cards if c.rel == other.rel)
    assert card.keep_btn.isEnabled() and not card.exclude_btn.isEnabled()
    wait_reanalysed(
        qtbot, window, lambda: qtbot.mouseClick(card.keep_btn, Qt.MouseButton.LeftButton)
    )
    assert not ws.is_excluded(other.rel)
    assert card.state.text() == "Kept in the dataset"


def test_identity_review_shows_outlier_beside_references(qtbot, window, tmp_path, screenshot_dir):
    folder = make_identity_set(tmp_path / "ident")
    window.faces.controller.detector_factory = EmbeddingDetector
    analysis, report = open_and_analyse(qtbot, window, folder)
    assert report["identity"]["available"]
    assert report["identity"]["outliers"] == ["p_b.jpg"]
    assert "other person?" in badge_texts(window, "p_b.jpg")
    advice = next(a for a in report["advice"] if a["id"] == "identity-outlier:p_b.jpg")
    assert "p_b.jpg is probably a different person" in advice["message"]
    dash = window.faces.dashboard
    assert dash.verdict.text() == "NOT READY"
    assert dash.id_btn.isEnabled() and "(1)" in dash.id_btn.text()
    dash.id_btn.click()
    dlg = window.faces.dialogs["identity"]
    qtbot.waitUntil(dlg.isVisible, timeout=5_000)
    assert dlg.current.rel == "p_b.jpg"
    assert len(dlg.ref_tiles) == 4
    assert "similarity" in dlg.score.text()
    qtbot.waitUntil(
        lambda: dlg.face.loaded and all(t.loaded for t in dlg.ref_tiles), timeout=10_000
    )
    # the crop is the face (square-ish around the box), not the whole image
    pix = dlg.face.pixmap()
    assert abs(pix.width() - pix.height()) < pix.width() * 0.35
    settle(qtbot)
    dlg.grab().save(str(screenshot_dir / "faces_identity_review.png"))
    _, report = wait_reanalysed(
        qtbot, window, lambda: qtbot.mouseClick(dlg.exclude_btn, Qt.MouseButton.LeftButton)
    )
    assert window.session.workspace.is_excluded("p_b.jpg")
    assert report["identity"]["outliers"] == []
    assert all("different person" not in r for r in report["verdict"]["reasons"])


def test_identity_keep_marks_checked(qtbot, window, tmp_path):
    folder = make_identity_set(tmp_path / "ident2", n_a=5)
    window.faces.controller.detector_factory = EmbeddingDetector
    open_and_analyse(qtbot, window, folder)
    dlg = window.faces.open_identity()
    assert [i.rel for i in dlg.items] == ["p_b.jpg"]
    _, report = wait_reanalysed(
        qtbot, window, lambda: qtbot.mouseClick(dlg.keep_btn, Qt.MouseButton.LeftButton)
    )
    assert window.session.workspace.overrides("p_b.jpg") == {"identity": "ok"}
    assert report["identity"]["outliers"] == []  # the override wins in the report too
    assert not any(a["id"].startswith("identity-outlier") for a in report["advice"])
    assert "other person?" not in badge_texts(window, "p_b.jpg")
    assert window.faces.open_identity().items == []  # nothing left to review
