# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""Keyboard paths a new user expects, and the Help menu (shortcuts, folders, log, About)."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QDesktopServices, QKeySequence
from PySide6.QtWidgets import QApplication
from test_gui_fixtures import dataset, open_and_wait, window

from desktop import help as help_mod
from desktop.widgets.preferences_dialog import PreferencesDialog

pytestmark = pytest.mark.gui


def _key(qtbot, widget, key, mods=Qt.KeyboardModifier.NoModifier) -> None:
    widget.activateWindow()
    qtbot.keyClick(widget, key, mods)


def test_enter_on_a_tile_puts_the_cursor_in_the_caption(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    grid = window.browser.grid
    grid.setFocus()
    assert grid.select_rel("img_01.jpg")
    qtbot.waitUntil(lambda: window.browser.editor.rel == "img_01.jpg", timeout=5000)
    _key(qtbot, grid, Qt.Key.Key_Return)
    edit = window.browser.editor.edit
    qtbot.waitUntil(edit.hasFocus, timeout=3000)
    assert edit.textCursor().position() == len(edit.toPlainText())  # at the end, ready to type
    # Tab from the grid is one press away from the caption
    grid.setFocus()
    qtbot.waitUntil(grid.hasFocus, timeout=3000)
    _key(qtbot, grid, Qt.Key.Key_Tab)
    qtbot.waitUntil(edit.hasFocus, timeout=3000)
    # F2 from anywhere does the same
    window.browser.search.setFocus()
    _key(qtbot, window.browser.search, Qt.Key.Key_F2)
    qtbot.waitUntil(edit.hasFocus, timeout=3000)


def test_ctrl_h_focuses_find(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    window.browser.grid.setFocus()
    _key(qtbot, window.browser.grid, Qt.Key.Key_H, Qt.KeyboardModifier.ControlModifier)
    dialogs = [w for w in QApplication.topLevelWidgets() if w.objectName() == "bulkEditDialog"]
    assert dialogs, "Ctrl+H opened no bulk edit dialog"
    dlg = dialogs[-1]
    qtbot.waitUntil(lambda: QApplication.focusWidget() is dlg.find, timeout=3000)
    dlg.close()


def test_ctrl_comma_opens_preferences(qtbot, window, monkeypatch):
    opened = []
    monkeypatch.setattr(PreferencesDialog, "exec", lambda self: opened.append(self) or 0)
    assert window.act_prefs.shortcuts()[0] == QKeySequence("Ctrl+,")
    window.setFocus()
    _key(qtbot, window, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    assert len(opened) == 1


def test_help_menu_shortcuts_folders_and_about(qtbot, window, monkeypatch, screenshot_dir):
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles[-1] == "Help"
    # the shortcuts sheet lists what the menus hold, read from the actions
    sheet = window.help.show_shortcuts()
    qtbot.addWidget(sheet)
    cells = {
        sheet.table.item(r, 1).text(): sheet.table.item(r, 2).text()
        for r in range(sheet.table.rowCount())
    }
    assert cells["Preferences…"].startswith("Ctrl+,")
    assert cells["Bulk edit…"] == "Ctrl+H"
    assert cells["Edit caption"] == "F2"
    assert "Zoom in" in cells and "Keyboard shortcuts" in cells
    sheet.grab().save(str(screenshot_dir / "help_shortcuts.png"))
    # folders open in the file manager, never a crash when that fails
    urls = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: urls.append(url) or True)
    window.help.act_data.trigger()
    window.help.act_logfile.trigger()
    window.help.act_models.trigger()
    from curation import paths
    from desktop.logging_setup import log_file_path

    assert [u.toLocalFile() for u in urls] == [
        str(paths.config_dir()),
        str(log_file_path().parent),
        str(paths.model_dir()),
    ]
    had_torch = "torch" in sys.modules
    about = window.help.show_about()
    qtbot.addWidget(about)
    text = about.text.text()
    from curation import __version__

    for part in ("Likeness", __version__, "torch", "diffusers", "CUDA", str(paths.config_dir())):
        assert part in text
    assert had_torch or "torch" not in sys.modules  # About never imports torch
    about.grab().save(str(screenshot_dir / "help_about.png"))


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("2.5.1+cu124", "12.4 build"),
        ("2.5.1+cpu", "none (CPU-only torch)"),
        ("2.5.1", "default build"),
    ],
)
def test_cuda_summary_from_the_version_tag(monkeypatch, version, expected):
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(help_mod, "package_version", lambda name: version)
    assert help_mod.cuda_summary().startswith(expected)
