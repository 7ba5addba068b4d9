# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""The GUI and another program (or a ``likeness`` command) editing the same dataset: a
caption changed on disk is reloaded when the app is checked (focus), and an editor whose
text started from an older caption never saves over the newer one."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from test_gui_fixtures import dataset, open_and_wait, window

from curation.workspace import EDITED_ELSEWHERE

pytestmark = pytest.mark.gui


def test_external_change_is_reloaded_on_refresh(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    ed = window.browser.editor
    assert ed.rel == "img_00.jpg"
    (dataset / "img_00.txt").write_text("changed by a script, longer text", "utf-8")
    with qtbot.waitSignal(window.session.captions_changed, timeout=5000) as sig:
        window.session._on_app_state(Qt.ApplicationState.ApplicationActive)
    assert sig.args[0] == ["img_00.jpg"]
    assert ed.text() == "changed by a script, longer text" and not ed.is_dirty()
    model = window.browser.model
    assert model.row_data("img_00.jpg").caption == "changed by a script, longer text"


def test_stale_editor_never_overwrites_a_newer_caption(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    ed = window.browser.editor
    ed.set_autosave_delay(60_000)
    cap = dataset / "img_00.txt"
    old = cap.read_text("utf-8")
    ed.edit.setFocus()
    ed.edit.moveCursor(ed.edit.textCursor().MoveOperation.End)
    qtbot.keyClicks(ed.edit, ", mine")
    cap.write_text("theirs, written meanwhile", "utf-8")  # no refresh happened
    assert ed.save() is False
    assert cap.read_text("utf-8") == "theirs, written meanwhile"
    assert EDITED_ELSEWHERE in ed.banner.text() and ed.text() == old + ", mine"
    assert window.browser.model.row_data("img_00.jpg").caption == "theirs, written meanwhile"
    assert ed.save() is True  # saving again replaces it, deliberately
    assert cap.read_text("utf-8") == old + ", mine"
    window.session.undo()  # one step: back to the other program's text
    assert cap.read_text("utf-8") == "theirs, written meanwhile"
