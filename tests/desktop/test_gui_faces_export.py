# ruff: noqa: F401, F811  (pytest fixtures imported from helper modules)
"""Export dialog: edge crop + face-centred crop with a before/after preview, progress, the
manifest summary; errors (a non-empty target) shown in the dialog, never a crash."""

from __future__ import annotations

import json

import pytest
import yaml
from faces_gui_helpers import _no_insightface_models, faces_set, open_and_analyse, settle
from PIL import Image
from PySide6.QtCore import Qt
from test_gui_fixtures import window

pytestmark = pytest.mark.gui


def test_export_dialog_writes_a_cleaned_copy(qtbot, window, faces_set, tmp_path, screenshot_dir):
    (faces_set / "obama3_closeup.txt").write_text("a close-up photo of 0bama, grey suit", "utf-8")
    open_and_analyse(qtbot, window, faces_set)
    assert window.browser.grid.select_rel("chelsea.png")
    window.toggle_excluded()
    assert window.browser.grid.select_rel("obama3_closeup.jpg")
    window.faces.dashboard.export_btn.click()
    dlg = window.faces.dialogs["export"]
    qtbot.waitUntil(dlg.isVisible, timeout=5_000)
    assert dlg.preview_rel == "obama3_closeup.jpg"
    assert dlg.out_edit.text().endswith("faces_set-export")
    # this test is about the crop options and the manifest: flagged images (the other people,
    # found by the identity check) go out too; leaving them out is test_gui_export_checks'
    dlg.checks.leave_out.setChecked(False)
    dlg.edges["right"].setValue(40)
    dlg.edges["bottom"].setValue(20)
    dlg.face_check.setChecked(True)
    dlg.size_spin.setValue(256)
    dlg.ratio_spin.setValue(0.6)
    qtbot.waitUntil(lambda: dlg.after.pixmap() is not None and not dlg.after.pixmap().isNull(),
                    timeout=10_000)  # fmt: skip
    qtbot.wait(400)  # the debounced preview of the final options
    qtbot.waitUntil(lambda: dlg._preview_job is None, timeout=10_000)
    after = dlg.after.pixmap()
    assert abs(after.width() - after.height()) <= 1  # a square
    assert "12 images" in dlg.summary.text() and "1 excluded" in dlg.summary.text()
    assert "2 unreadable" in dlg.summary.text()
    out = tmp_path / "cleaned"
    dlg.out_edit.setText(str(out))
    settle(qtbot)
    dlg.grab().save(str(screenshot_dir / "faces_export_dialog.png"))
    with qtbot.waitSignal(dlg.finished_export, timeout=60_000):
        qtbot.mouseClick(dlg.export_btn, Qt.MouseButton.LeftButton)
    manifest = json.loads((out / "manifest.json").read_text())
    status = {f["source"]: f["status"] for f in manifest["files"]}
    assert status["chelsea.png"] == "excluded" and not (out / "chelsea.png").exists()
    assert status["broken.jpg"] == "error" and status["notes.png"] == "error"
    exported = [s for s, v in status.items() if v == "exported"]
    assert len(exported) == 12
    assert manifest["options"]["crop_edges"] == {"right": 40, "bottom": 20}
    assert manifest["options"]["face_crop"] == 256
    with Image.open(out / "obama3_closeup.jpg") as im:
        assert im.size == (256, 256)
    assert (out / "obama3_closeup.txt").read_text("utf-8").startswith("a close-up photo")
    assert "Exported 12 images" in dlg.summary.text() and "manifest.json" in dlg.summary.text()
    assert "1 excluded" in dlg.summary.text() and "2 not exported" in dlg.summary.text()
    assert dlg.open_btn.isVisible()
    settle(qtbot)
    dlg.grab().save(str(screenshot_dir / "faces_export_done.png"))
    # the choices are remembered for next time
    from desktop.panels.faces.prefs import faces_prefs_path

    saved = yaml.safe_load(faces_prefs_path().read_text())
    assert saved["export_crop_edges"] == {"right": 40, "bottom": 20}
    assert saved["export_face_crop"] is True and saved["export_face_size"] == 256
    # originals untouched
    with Image.open(faces_set / "obama3_closeup.jpg") as im:
        assert im.size != (256, 256)


def test_export_into_a_non_empty_folder_is_refused(qtbot, window, faces_set, tmp_path):
    open_and_analyse(qtbot, window, faces_set)
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    dlg = window.faces.open_export()
    dlg.out_edit.setText(str(taken))
    qtbot.mouseClick(dlg.export_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(dlg.error.isVisible, timeout=10_000)
    assert "not empty" in dlg.error.text()
    assert dlg.export_btn.isEnabled()
    assert sorted(p.name for p in taken.iterdir()) == ["keep.txt"]
