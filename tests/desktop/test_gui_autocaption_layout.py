# ruff: noqa: F401, F811  (pytest fixtures imported from helper modules)
"""Autocaption dialog for a new user: which models are on disk, the missing-model buttons,
and a layout whose rows never overlap, whatever model is chosen."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QWidget
from test_gui_captions_lint import captions, lint_dataset  # noqa: F401
from test_gui_fixtures import window

pytestmark = pytest.mark.gui


def _global_rect(w: QWidget) -> QRect:
    return QRect(w.mapToGlobal(w.rect().topLeft()), w.size())


def _form_rows(dlg) -> list[QWidget]:
    rows = [dlg.model, dlg.task, *dlg.mode_group.buttons(), dlg.scope, dlg.device, dlg.detect]
    if dlg.folder_box.isVisible():
        rows.append(dlg.folder_box)
    return rows


def test_rows_never_overlap_and_models_on_disk_are_named(qtbot, window, captions,
                                                         monkeypatch, screenshot_dir):  # fmt: skip
    dlg = captions.open_autocaption()
    qtbot.waitExposed(dlg)
    texts = [dlg.model.itemText(i) for i in range(dlg.model.count())]
    assert texts[0].endswith("needs a one-time download")  # nothing in the test's HF cache
    assert texts[1].endswith("needs a one-time download")
    for key in ("base", "large", "local", "base"):
        dlg.model.setCurrentIndex(dlg.model.findData(key))
        qtbot.wait(30)
        rows = _form_rows(dlg)
        assert dlg.folder_box.isVisible() == (key == "local")
        for i, a in enumerate(rows):
            assert a.height() >= a.minimumSizeHint().height() - 1, (key, a)
            for b in rows[i + 1 :]:
                assert not _global_rect(a).intersects(_global_rect(b)), (key, a, b)
        dlg.grab().save(str(screenshot_dir / f"autocaption_{key}.png"))
    # "Choose folder…" switches to a local folder and asks for it
    dlg.model.setCurrentIndex(dlg.model.findData("large"))
    assert dlg.missing.isVisible()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: "/models/florence")
    dlg.missing.choose_btn.click()
    assert dlg.model.currentData() == "local" and dlg.folder.text() == "/models/florence"
    assert not dlg.missing.isVisible()
    urls = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: urls.append(url) or True)
    assert dlg.missing.open_model_folder()
    assert urls and urls[0].isLocalFile()
    dlg.close()
