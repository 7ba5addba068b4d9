# ruff: noqa: F401, F811  (pytest fixtures imported from helper modules)
"""Face models in the GUI: downloads off the GUI thread with progress and cancel, one plain
message without a network (and a button to the folder), no download at launch, the dock
usable after any failure, the model-folder setting."""

from __future__ import annotations

import shutil
import socket
import time
import urllib.error

import pytest
import yaml
from faces_gui_helpers import _no_insightface_models, open_and_analyse, wait_reanalysed
from PySide6.QtCore import Qt, QTimer
from test_gui_fixtures import window

pytestmark = pytest.mark.gui


def _offline(url):
    raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))
    yield b""  # pragma: no cover


@pytest.fixture
def small_set(faces_dir, yunet_model, tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    for name in ("obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"):
        shutil.copy(faces_dir / "face_recognition" / name, folder)
    return folder


def test_download_runs_off_the_gui_thread_and_cancels(qtbot, window, tmp_path, monkeypatch):
    import curation.faces.models as models

    def slow(url):
        for _ in range(200):
            time.sleep(0.02)
            yield b"x" * 65536

    monkeypatch.setattr(models, "_urllib_fetch", slow)
    panel = window.faces
    panel.models.set_folder(str(tmp_path / "my-models"))
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    dlg = panel.models.download("sface")
    qtbot.waitUntil(lambda: dlg.bar.maximum() == 1000 and dlg.bar.value() > 0, timeout=10_000)
    assert dlg.running and "MB" in dlg.bar.format()
    ticks.clear()
    qtbot.wait(400)  # the download goes on meanwhile (4 s in all)
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert dlg.running and len(ticks) >= 8 and max(gaps) < 0.2  # the event loop kept running
    qtbot.mouseClick(dlg.cancel_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.outcome == "cancelled", timeout=10_000)
    assert "cancelled" in dlg.message.text() and not dlg.open_btn.isVisible()
    assert list((tmp_path / "my-models").iterdir()) == []  # nothing half-written
    dlg.close_btn.click()


def test_no_network_one_plain_message_and_folder_button(
    qtbot, window, tmp_path, monkeypatch, screenshot_dir
):
    import curation.faces.models as models
    from desktop.panels.faces import downloads

    monkeypatch.setattr(models, "_urllib_fetch", _offline)
    opened = []
    monkeypatch.setattr(
        downloads.QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url))
    )
    panel = window.faces
    folder = tmp_path / "my-models"
    panel.models.set_folder(str(folder))
    failures = []
    panel.models.failed.connect(lambda key, msg: failures.append((key, msg)))
    dlg = panel.models.download("sface")
    qtbot.waitUntil(lambda: dlg.outcome == "failed", timeout=10_000)
    text = dlg.message.text()
    assert text.startswith(f"No internet connection: copy the files into {folder}")
    for raw in ("URLError", "gaierror", "HTTPSConnectionPool", "Traceback"):
        assert raw not in text
    assert dlg.open_btn.isVisible()
    dlg.grab().save(str(screenshot_dir / "faces_download_offline.png"))
    qtbot.mouseClick(dlg.open_btn, Qt.MouseButton.LeftButton)
    assert opened and opened[0].toLocalFile() == str(folder)
    assert failures and failures[0][0] == "sface"
    assert "no internet connection" in panel.dashboard.backend_info.text()


def test_insightface_offline_keeps_the_dock_working_and_never_retries(
    qtbot, window, small_set, monkeypatch, tmp_path, screenshot_dir
):
    import curation.faces.models as models
    import desktop.panels.faces.license_dialog as lic

    monkeypatch.setattr(models, "_urllib_fetch", _offline)
    analysis, report = open_and_analyse(qtbot, window, small_set)
    assert analysis.backend == "yunet+dlib" and report["identity"]["available"]
    assert report["identity"]["outliers"] == ["biden.jpg"]  # identity out of the box
    monkeypatch.setattr(lic, "needs_licence", lambda root=None: True)
    panel = window.faces
    panel.set_backend("insightface")
    lic_dlg = panel.dialogs["licence"]
    qtbot.waitUntil(lic_dlg.isVisible, timeout=5_000)
    qtbot.mouseClick(lic_dlg.accept_btn, Qt.MouseButton.LeftButton)
    dlg = panel.models.dialog
    qtbot.waitUntil(lambda: dlg.outcome == "failed", timeout=10_000)
    assert dlg.message.text().startswith("No internet connection: copy the files into")
    assert "buffalo_l" in dlg.message.text()
    dlg.close_btn.click()
    # The backend did not switch; the dock still works (re-analyse, results, controls).
    assert panel.controller.backend == "auto" and panel.prefs.backend == "auto"
    assert panel.dashboard.backend_combo.currentData() == "auto"
    assert "insightface models not downloaded" in panel.dashboard.backend_info.text()
    _, report = wait_reanalysed(qtbot, window, panel.start, 90_000)
    assert report["identity"]["outliers"] == ["biden.jpg"]
    assert panel.dashboard.reanalyse_btn.isEnabled()
    # An old preference naming insightface (models missing) at the next launch: nothing is
    # downloaded, the analysis runs with the best available backend and says so.
    calls = []
    monkeypatch.setattr(models, "stream_download", lambda *a, **k: calls.append(a))
    assert panel.controller.accept_licence is False
    panel.controller.backend = "insightface"
    _, report = wait_reanalysed(qtbot, window, panel.start, 90_000)
    assert calls == [] and report["backend"]["name"] == "yunet+dlib"
    info = panel.dashboard.backend_info.text()
    qtbot.wait(300)  # let the layout take the new text
    window.faces.dock.grab().save(str(screenshot_dir / "faces_dashboard_fallback.png"))
    assert "Insightface could not run (its models are not downloaded" in info
    assert "--accept-model-license" not in info


def test_model_folder_setting(qtbot, window, small_set, yunet_model, tmp_path):
    from desktop.panels.faces.prefs import faces_prefs_path

    open_and_analyse(qtbot, window, small_set)
    panel = window.faces
    mine = tmp_path / "mine"
    mine.mkdir()
    _, report = wait_reanalysed(qtbot, window, lambda: panel.models.set_folder(str(mine)), 90_000)
    assert report["backend"]["name"] == "hog+dlib"  # no YuNet file there: dlib's own detector
    assert panel.controller.model_dir == str(mine)
    assert yaml.safe_load(faces_prefs_path().read_text())["model_dir"] == str(mine)
    assert str(mine) in panel.models.act_folder.text()
    shutil.copy(yunet_model, mine)
    panel.models.refresh()
    assert not panel.models.actions["yunet"].isEnabled()  # nothing to download any more
    _, report = wait_reanalysed(qtbot, window, panel.start, 90_000)
    assert report["backend"]["name"] == "yunet+dlib"
