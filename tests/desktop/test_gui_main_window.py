# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""End-to-end GUI tests: open a folder (dialog path, drop, recent), grid, corrupt tile,
status counts, preferences and geometry persistence, no torch import."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QMimeData, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from test_gui_fixtures import dataset, make_dataset, open_and_wait, window

from desktop.models.thumbnail_model import BadgesRole, ErrorRole

pytestmark = pytest.mark.gui


def test_empty_state_then_open_folder(qtbot, window, dataset, screenshot_dir):
    # earlier tests in the same process may have imported torch; the subprocess test in
    # test_gui_app.py checks a fresh start
    had_torch = "torch" in sys.modules
    assert window.stack.currentWidget() is window.empty
    window.grab().save(str(screenshot_dir / "empty_state.png"))
    open_and_wait(qtbot, window, dataset)
    assert window.stack.currentWidget() is window.browser
    counts = window.browser.model.counts()
    assert (counts.images, counts.captioned, counts.uncaptioned, counts.errors) == (9, 6, 3, 1)
    qtbot.waitUntil(lambda: "1 error" in window.status.counts_label.text(), timeout=3000)
    text = window.status.counts_label.text()
    assert window.status.counts_label.text().endswith("·   1 error")
    for part in ("9 images", "6 captioned", "3 uncaptioned", "0 excluded", "1 error"):
        assert part in text
    # the first tile is current and shown in the detail view with its caption
    assert window.browser.editor.rel == "img_00.jpg"
    assert "l3yla" in window.browser.editor.text()
    qtbot.waitUntil(window.browser.detail.viewer.has_full_image, timeout=10000)
    window.grab().save(str(screenshot_dir / "main_window.png"))
    assert had_torch or "torch" not in sys.modules  # opening a folder imports no torch


def test_corrupt_image_gets_an_error_tile(qtbot, window, dataset, screenshot_dir):
    open_and_wait(qtbot, window, dataset)
    model = window.browser.model
    row = model.row_of("zz_broken.jpg")
    error = model.index(row).data(ErrorRole)
    assert error and error.startswith("cannot read: truncated JPEG")
    assert window.browser.grid.select_rel("zz_broken.jpg")
    window.browser.grid.grab().save(str(screenshot_dir / "corrupt_tile.png"))
    qtbot.waitUntil(lambda: "truncated" in window.browser.detail.info.text(), timeout=10000)


def test_drop_a_folder_opens_it(qtbot, window, tmp_path):
    folder = make_dataset(tmp_path / "dropped", n=3, captions=1, corrupt=False)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder / "img_00.jpg"))])  # a file: its folder opens
    pos = window.rect().center()  # QDragEnterEvent takes a QPoint, QDropEvent a QPointF
    enter = QDragEnterEvent(
        pos,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        pos.toPointF(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.session.opened, timeout=15000):
        QApplication.sendEvent(window, drop)
    assert window.browser.model.rowCount() == 3
    # a drop of something that is not a local file is refused
    bad = QMimeData()
    bad.setText("hello")
    enter2 = QDragEnterEvent(
        pos,
        Qt.DropAction.CopyAction,
        bad,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter2.setAccepted(False)
    QApplication.sendEvent(window, enter2)
    assert not enter2.isAccepted()


def test_empty_folder_says_so(qtbot, window, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x", "utf-8")
    open_and_wait(qtbot, window, tmp_path / "empty")
    assert window.browser.model.rowCount() == 0
    assert "No images found" in window.banner.text.text()
    assert "0 images" in window.status.counts_label.text()


def test_unusable_folder_shows_banner_not_crash(qtbot, window, tmp_path):
    with qtbot.waitSignal(window.session.open_failed, timeout=10000):
        window.open_folder(str(tmp_path / "missing"))
    assert window.banner.isVisible()
    assert window.banner.level() == "error"
    assert "does not exist" in window.banner.text.text()
    assert window.stack.currentWidget() is window.empty


def test_recent_folders_prefs_and_geometry_persist(qtbot, dataset):
    from desktop.app import create_app
    from desktop.main_window import MainWindow
    from desktop.settings import load_preferences

    create_app()
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    open_and_wait(qtbot, win, dataset, thumbs=False)
    win.browser.set_thumbnail_size(256)
    win.resize(731, 517)  # within the 800x600 offscreen screen (the min width may win)
    expected = (win.size().width(), win.size().height())
    assert expected[1] == 517
    win.close()
    prefs = load_preferences()
    assert prefs.recent_folders[0] == str(dataset.resolve())
    assert prefs.thumbnail_size == 256
    win2 = MainWindow()
    qtbot.addWidget(win2)
    # the offscreen screen is 800 px wide: the restored width is clamped to it
    assert win2.size().height() == expected[1]
    assert win2.size().width() <= expected[0]
    assert win2.browser.grid.thumbnail_size() == 256
    titles = [a.text() for a in win2.recent_menu.actions()]
    assert titles == [str(dataset.resolve())]
    win2.close()


def test_filter_sort_and_search(qtbot, window, dataset):
    from desktop.models.filter_proxy import FilterMode, SortKey

    open_and_wait(qtbot, window, dataset, thumbs=False)
    proxy = window.browser.proxy
    proxy.set_filter(FilterMode.UNCAPTIONED)
    assert proxy.rowCount() == 3
    proxy.set_filter(FilterMode.CAPTIONED, "beach")
    assert [proxy.index(i, 0).data() for i in range(proxy.rowCount())] == ["img_02.jpg"]
    proxy.set_filter(FilterMode.ALL, "")
    proxy.set_sort(SortKey.CAPTION_LENGTH, Qt.SortOrder.DescendingOrder)
    lengths = [len(proxy.index(i, 0).data(Qt.ItemDataRole.UserRole + 3)) for i in range(9)]
    assert lengths == sorted(lengths, reverse=True)
    proxy.set_sort(SortKey.NAME)
    assert proxy.index(0, 0).data() == "img_00.jpg"


def test_badges_api_paints(qtbot, window, dataset, screenshot_dir):
    open_and_wait(qtbot, window, dataset)
    model = window.browser.model
    row = model.row_of("img_01.jpg")

    def ours():  # other panels (lint, faces) add their own badges too
        return [b for b in model.index(row).data(BadgesRole) if b.text.startswith("t:")]

    model.set_badges("test-a", {"img_01.jpg": [("t:2 faces", "#d9534f")]})
    model.set_row_badges("img_01.jpg", "test-b", [("t:blurry", "#e0a84f")])
    assert ours() == [("t:2 faces", "#d9534f"), ("t:blurry", "#e0a84f")]
    window.toggle_excluded()  # img_00 is selected
    assert model.counts().excluded == 1
    window.browser.grid.grab().save(str(screenshot_dir / "badges.png"))
    model.set_badges("test-a", {})
    assert ours() == [("t:blurry", "#e0a84f")]


def test_gui_cli_entry_points_open_the_app(monkeypatch, tmp_path):
    from desktop.cli import main

    seen = []
    monkeypatch.setattr("desktop.app.run", lambda folder=None: seen.append(folder) or 0)
    assert main([]) == 0
    assert main(["gui", str(tmp_path)]) == 0
    assert seen == [None, str(tmp_path.resolve())]
    assert main(["gui", str(tmp_path / "nope")]) == 2


def test_thumbnail_size_slider_and_ctrl_wheel(qtbot, window, dataset):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    open_and_wait(qtbot, window, dataset, thumbs=False)
    grid, slider = window.browser.grid, window.browser.slider
    slider.setValue(240)
    assert grid.thumbnail_size() == 240
    pos = QPointF(grid.viewport().rect().center())
    wheel = QWheelEvent(
        pos,
        grid.mapToGlobal(pos),
        QPoint(),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(grid.viewport(), wheel)
    assert grid.thumbnail_size() == 224 and slider.value() == 224
    assert window.prefs.thumbnail_size == 224


def test_keyboard_review_from_the_grid(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    grid = window.browser.grid
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert window.browser.editor.rel == "img_01.jpg"
    qtbot.keyClick(grid, Qt.Key.Key_PageDown)
    assert window.browser.editor.rel == "img_02.jpg"
    qtbot.keyClick(grid, Qt.Key.Key_PageUp)
    assert window.browser.editor.rel == "img_01.jpg"
