"""App-level behaviour: no torch on start, exception hooks shown without blocking, the log
file and viewer, preferences (dialog, YAML, a broken file kept aside), image zoom/pan."""

# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication
from test_gui_fixtures import dataset, open_and_wait, window

from desktop.settings import Preferences, load_preferences, preferences_path, save_preferences

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]


def test_opening_the_gui_does_not_import_torch(tmp_path):
    code = (
        "import sys\n"
        "from desktop.app import create_app, build_main_window\n"
        "app = create_app()\n"
        f"w = build_main_window({str(tmp_path)!r})\n"
        "w.show(); app.processEvents()\n"
        "heavy = [m for m in ('torch', 'transformers', 'diffusers', 'onnxruntime') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
        "w.close()\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_uncaught_errors_are_logged_and_shown(qtbot, window):
    from desktop.logging_setup import log_file_path

    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())
    qtbot.waitUntil(window.banner.isVisible, timeout=3000)
    assert window.banner.level() == "error" and "boom in a slot" in window.banner.text.text()
    window.banner.dismiss()

    def worker():
        raise ValueError("boom in a thread")

    t = threading.Thread(target=worker, name="bg-worker")
    t.start()
    t.join()
    qtbot.waitUntil(lambda: "boom in a thread" in window.banner.text.text(), timeout=3000)
    for h in logging.getLogger().handlers:
        h.flush()
    text = log_file_path().read_text("utf-8")
    assert "boom in a slot" in text and "boom in a thread" in text and "Traceback" in text
    window.show_log()
    assert "boom in a thread" in window.log_viewer.text.toPlainText()
    window.log_viewer.close()


def test_preferences_dialog_saves_yaml_and_applies(qtbot, window, monkeypatch):
    from desktop.widgets.preferences_dialog import PreferencesDialog

    def fake_exec(dlg):
        dlg.thumb.setValue(144)
        dlg.delay.setValue(900)
        dlg.megapixels.setValue(50)
        dlg.snippet.setChecked(False)
        return True

    monkeypatch.setattr(PreferencesDialog, "exec", fake_exec)
    window.open_preferences()
    prefs = load_preferences()
    assert (prefs.thumbnail_size, prefs.autosave_delay_ms, prefs.max_image_megapixels) == (
        144,
        900,
        50.0,
    )
    assert not prefs.show_caption_snippet
    assert window.browser.editor.timer.interval() == 900
    assert window.browser.grid.thumbnail_size() == 144
    assert window.loader.max_pixels == 50_000_000
    assert "thumbnail_size: 144" in preferences_path().read_text("utf-8")


def test_broken_preferences_are_kept_aside_not_wiped(caplog):
    path = preferences_path()
    path.write_text("thumbnail_size: [oops\nrecent_folders: 3\n", "utf-8")
    with caplog.at_level(logging.WARNING):
        prefs = load_preferences()
    assert prefs == Preferences()
    kept = list(path.parent.glob("preferences.yaml.invalid-*"))
    assert len(kept) == 1 and "oops" in kept[0].read_text("utf-8")
    assert "could not be read" in caplog.text
    path.write_text("thumbnail_size: 200\nthumbnial_size: 3\n", "utf-8")  # misspelt key
    assert load_preferences() == Preferences()
    p = Preferences()
    for i in range(14):
        p.add_recent(f"/data/set{i}")
    p.add_recent("/data/set3")
    save_preferences(p)
    again = load_preferences()
    assert again.recent_folders[0] == str(Path("/data/set3").resolve())
    assert len(again.recent_folders) == 10


def test_viewer_zoom_and_pan(qtbot, window, dataset, screenshot_dir):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    viewer = window.browser.detail.viewer
    qtbot.waitUntil(viewer.has_full_image, timeout=10000)
    fit = viewer.zoom()
    viewer.setFocus()
    qtbot.keyClick(viewer, Qt.Key.Key_Plus)
    assert viewer.zoom() == pytest.approx(fit * 1.25)
    qtbot.keyClick(viewer, Qt.Key.Key_Minus)
    assert viewer.zoom() == pytest.approx(fit)
    window.act_actual.trigger()
    assert viewer.zoom() == pytest.approx(1.0)
    pos = QPointF(viewer.viewport().rect().center())
    wheel = QWheelEvent(
        pos,
        viewer.mapToGlobal(pos),
        QPoint(),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewer.viewport(), wheel)
    assert viewer.zoom() == pytest.approx(1.25)
    for _ in range(4):
        viewer.zoom_in()
    h = viewer.horizontalScrollBar()
    assert h.maximum() > 0  # zoomed in: the image can be panned
    start = h.value()
    qtbot.mousePress(viewer.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(200, 150))
    qtbot.mouseMove(viewer.viewport(), QPoint(120, 150))
    qtbot.mouseRelease(viewer.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(120, 150))
    assert h.value() != start
    viewer.fit()
    assert viewer.zoom() == pytest.approx(fit, rel=0.05)
    window.browser.detail.grab().save(str(screenshot_dir / "detail_view.png"))
