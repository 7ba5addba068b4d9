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


def test_undo_names_its_step_and_never_surprises(qtbot, window, dataset, screenshot_dir):
    """The reported case: a caption edited in an earlier session, then (after reopening) an
    image excluded. Ctrl+Z undoes the exclusion (the grid shows it); the next Ctrl+Z only
    announces the earlier-session edit and selects its image; a second press undoes it."""
    from curation.workspace import Workspace

    with Workspace.open(dataset) as ws:
        ws.set_caption("img_03.jpg", "edited last week")
    open_and_wait(qtbot, window, dataset, thumbs=False)
    model, grid = window.browser.model, window.browser.grid
    assert "earlier session" in window.act_undo.toolTip()
    assert "img_03.jpg" in window.act_undo.toolTip()
    grid.select_rel("img_01.jpg")
    window.toggle_excluded()
    assert model.row_data("img_01.jpg").excluded
    assert window.act_undo.text() == "&Undo exclude img_01.jpg"
    grid.select_rel("img_05.jpg")
    window.act_undo.trigger()
    assert not model.row_data("img_01.jpg").excluded  # the exclusion, not the old edit
    assert grid.current_rel() == "img_01.jpg"  # the grid shows what the step touched
    assert (dataset / "img_03.txt").read_text("utf-8") == "edited last week"
    window.act_undo.trigger()  # the earlier-session edit: announced, not done
    assert (dataset / "img_03.txt").read_text("utf-8") == "edited last week"
    assert grid.current_rel() == "img_03.jpg"
    assert "Press Undo again" in window.banner.text.text()
    window.grab().save(str(screenshot_dir / "undo_announced.png"))
    window.act_undo.trigger()
    assert (dataset / "img_03.txt").read_text("utf-8") != "edited last week"
    assert "Nothing to undo" in window.act_undo.toolTip()
    window.act_redo.trigger()  # moved by this window now: redo is immediate
    assert (dataset / "img_03.txt").read_text("utf-8") == "edited last week"


def test_exclusion_made_elsewhere_shows_on_refresh(qtbot, window, dataset):
    from curation.workspace import Workspace

    open_and_wait(qtbot, window, dataset, thumbs=False)
    with Workspace.open(dataset) as other:  # another window or a command
        other.set_excluded("img_02.jpg")
    with qtbot.waitSignal(window.session.meta_changed, timeout=5000) as sig:
        window.session.refresh_from_disk()
    assert sig.args[0] == ["img_02.jpg"]
    assert window.browser.model.row_data("img_02.jpg").excluded
    assert window.session.workspace.is_excluded("img_02.jpg")
    assert "another window" in window.act_undo.toolTip()
