# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""Export dialog checks: the summary of what goes out (verdict, lint errors, flagged images)
with the choice to leave flagged images out, the tier warning of a fixed face square, the
kohya layout and the zip."""

from __future__ import annotations

import json
import zipfile
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt
from test_gui_fixtures import dataset, open_and_wait, window

from desktop.panels.faces.export_dialog import ExportDialog

pytestmark = pytest.mark.gui
TH = (0.38, 0.18)


def _img(flags=(), size=(320, 240)):
    return SimpleNamespace(flags=list(flags), error=None, width=size[0], height=size[1])


def test_export_summary_leave_out_tiers_and_kohya_zip(qtbot, window, dataset, tmp_path,
                                                      screenshot_dir):  # fmt: skip
    open_and_wait(qtbot, window, dataset, thumbs=False)
    images = {f"img_{i:02d}.jpg": _img() for i in range(8)}
    images["img_03.jpg"] = _img(["identity-outlier"])  # the wrong person
    images["img_05.jpg"] = _img(["blurry", "small-face"])
    # faces: a full-body and a medium shot (a 0.6 square would make close-ups of both)
    faces = {rel: None for rel in images}
    faces["img_00.jpg"] = (150.0, 40.0, 16.0, 20.0)  # 20/240: full-body
    faces["img_01.jpg"] = (140.0, 60.0, 40.0, 50.0)  # 50/240: medium
    dlg = ExportDialog(
        window.session, faces, "img_00.jpg", {}, None, window, unreadable={"zz_broken.jpg"},
        images=images, verdict="not-ready", lint_counts=lambda: {"img_02.jpg": 2},
        thresholds=TH,
    )  # fmt: skip
    qtbot.addWidget(dlg)
    dlg.show()
    text = lambda: dlg.checks.summary_label.text()  # noqa: E731
    qtbot.waitUntil(lambda: "caption error" in text(), timeout=10_000)
    for part in (
        "Before you export",
        "NOT READY",
        "2 caption errors in 1 image",
        "2 flagged images",
        "probably another person",
        "blurry face",
    ):
        assert part in text(), (part, text())
    assert dlg.checks.leave_out.isVisible() and dlg.checks.leave_out.isChecked()
    assert dlg.checks.leave_out.text() == "Leave the 2 flagged images out"
    assert dlg.export_btn.text() == "Export anyway"  # not ready, caption errors
    assert dlg.summary.text().startswith("6 images") and "2 flagged left out" in dlg.summary.text()
    # a fixed-ratio square warns with the counts it would change; keep-tier does not
    dlg.face_check.setChecked(True)
    assert dlg.mode_combo.currentData() == "keep-tier" and dlg.tier_note.isHidden()
    dlg.mode_combo.setCurrentIndex(dlg.mode_combo.findData("square"))
    dlg.ratio_spin.setValue(0.6)
    assert dlg.tier_note.isVisible()
    assert "changes the shot tier of 2 images" in dlg.tier_note.text()
    assert "1 full-body → close-up" in dlg.tier_note.text()
    dlg.mode_combo.setCurrentIndex(dlg.mode_combo.findData("keep-tier"))
    assert dlg.tier_note.isHidden()
    dlg.size_spin.setValue(256)
    # kohya layout, zipped
    dlg.checks.trigger = "l3yla"
    dlg.checks.layout_combo.setCurrentIndex(dlg.checks.layout_combo.findData("kohya"))
    dlg.checks.repeats.setValue(8)
    assert "8_l3yla/" in dlg.checks.layout_note.text()
    dlg.checks.zip_check.setChecked(True)
    out = tmp_path / "kohya"
    dlg.out_edit.setText(str(out))
    dlg.grab().save(str(screenshot_dir / "export_checks.png"))
    with qtbot.waitSignal(dlg.finished_export, timeout=60_000):
        qtbot.mouseClick(dlg.export_btn, Qt.MouseButton.LeftButton)
    folder = out / "8_l3yla"
    names = sorted(p.name for p in folder.iterdir())
    assert "img_03.jpg" not in names and "img_05.jpg" not in names  # flagged: left out
    assert "img_00.jpg" in names and "img_00.txt" in names
    status = {f["source"]: f["status"] for f in
              json.loads((out / "manifest.json").read_text())["files"]}  # fmt: skip
    assert status["img_03.jpg"] == status["img_05.jpg"] == "left-out"
    assert "2 flagged left out" in dlg.summary.text() and "kohya.zip" in dlg.summary.text()
    with zipfile.ZipFile(tmp_path / "kohya.zip") as zf:
        assert "8_l3yla/img_00.jpg" in zf.namelist()
    dlg.close()


def test_a_clean_dataset_says_ready(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    images = {f"img_{i:02d}.jpg": _img() for i in range(8)}
    dlg = ExportDialog(window.session, {}, "", {}, None, window, unreadable={"zz_broken.jpg"},
                       images=images, verdict="ready", lint_counts=lambda: {},
                       thresholds=TH)  # fmt: skip
    qtbot.addWidget(dlg)
    qtbot.waitUntil(lambda: dlg.checks.lint_checked, timeout=5000)
    assert not dlg.checks.leave_out.isVisibleTo(dlg)
    assert "unreadable" in dlg.checks.summary_label.text()
    assert "Good to know" in dlg.checks.summary_label.text()
    assert dlg.export_btn.text() == "Export"
    dlg.close()
