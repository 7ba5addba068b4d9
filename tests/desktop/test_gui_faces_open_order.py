# ruff: noqa: F401, F811  (pytest fixtures imported from helper modules)
"""Opening a folder: the visible thumbnails come before the face analysis, and the analysis
thread runs below the GUI's priority (both compete for the same cores)."""

from __future__ import annotations

import os
import threading

import pytest
from faces_gui_helpers import EmbeddingDetector, _no_insightface_models, make_identity_set
from test_gui_fixtures import window

pytestmark = pytest.mark.gui


def _visible_rels(window) -> list[str]:
    grid, model = window.browser.grid, window.browser.model
    rows = [
        grid.proxy.mapToSource(grid.proxy.index(r, 0)).row()
        for r in grid.visible_proxy_rows(ahead_screens=0)
    ]
    return [model.rows[r].rel for r in rows]


def test_analysis_starts_after_the_visible_thumbnails(qtbot, window, tmp_path):
    folder = make_identity_set(tmp_path / "set", n_a=8)
    panel, model = window.faces, window.browser.model
    panel.controller.detector_factory = EmbeddingDetector
    panel._thumbs_timer.setInterval(60_000)  # only the thumbnails may release the analysis
    at_start: list[dict[str, bool]] = []
    panel.controller.started.connect(
        lambda: at_start.append({rel: model.has_pixmap(rel) for rel in _visible_rels(window)})
    )
    with qtbot.waitSignal(panel.controller.finished, timeout=60_000):
        with qtbot.waitSignal(window.session.opened, timeout=15_000):
            window.open_folder(str(folder))
    assert len(at_start) == 1
    shown = at_start[0]
    assert shown and all(shown.values()), shown
    assert panel.controller.report["dataset"]["images"] == 9


def test_analysis_falls_back_to_a_short_delay(qtbot, window, tmp_path):
    """No thumbnail news (a stalled loader): the analysis still starts, after the delay."""
    folder = make_identity_set(tmp_path / "set", n_a=2)
    panel = window.faces
    panel.controller.detector_factory = EmbeddingDetector
    window.loader.visible_drained.disconnect()
    panel._thumbs_timer.setInterval(400)
    with qtbot.waitSignal(panel.controller.finished, timeout=30_000):
        window.open_folder(str(folder))
    assert panel.controller.report["dataset"]["images"] == 3


def test_analysis_thread_runs_at_low_priority(qtbot, window, tmp_path):
    folder = make_identity_set(tmp_path / "set", n_a=2)
    ctrl = window.faces.controller
    nice: list[int] = []

    def factory():
        nice.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return EmbeddingDetector()

    ctrl.detector_factory = factory
    with qtbot.waitSignal(ctrl.finished, timeout=30_000):
        with qtbot.waitSignal(window.session.opened, timeout=15_000):
            window.open_folder(str(folder))
    gui = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert nice and nice[0] >= min(19, gui + 5), (nice, gui)
