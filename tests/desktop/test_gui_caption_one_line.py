# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""The caption editor cannot produce a caption a trainer reads differently (issue 12).

Before: a caption file ending with a newline opened with an empty second line, so typing
at the end wrote a two-line caption (kohya-style trainers then read only the first line).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QMimeData, Qt
from test_gui_fixtures import dataset, open_and_wait, window

from desktop.widgets.caption_editor import CaptionEditor

pytestmark = pytest.mark.gui


@pytest.fixture
def editor(qtbot):
    ed = CaptionEditor()
    qtbot.addWidget(ed)
    saved: list[tuple[str, str]] = []
    ed.save_fn = lambda rel, text: saved.append((rel, text))
    ed.saved_calls = saved
    ed.set_autosave_delay(60_000)
    ed.show()
    return ed


def _type_at_end(qtbot, ed, text: str) -> None:
    ed.edit.setFocus()
    ed.edit.moveCursor(ed.edit.textCursor().MoveOperation.End)
    qtbot.keyClicks(ed.edit, text)


def test_a_final_newline_is_not_shown_and_typing_at_the_end_stays_on_one_line(qtbot, editor):
    editor.load("a.png", "l3yla, smiling\n")
    assert editor.text() == "l3yla, smiling"
    assert editor.edit.document().blockCount() == 1  # no phantom second line
    assert not editor.is_dirty()
    _type_at_end(qtbot, editor, ", red coat")
    assert editor.save()
    assert editor.saved_calls == [("a.png", "l3yla, smiling, red coat")]


def test_enter_saves_instead_of_starting_a_second_line(qtbot, editor):
    editor.load("a.png", "l3yla, smiling")
    _type_at_end(qtbot, editor, ", red coat")
    for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        qtbot.keyClick(editor.edit, key)
        qtbot.keyClick(editor.edit, key, Qt.KeyboardModifier.ShiftModifier)
    assert editor.text() == "l3yla, smiling, red coat"
    assert editor.edit.document().blockCount() == 1
    assert editor.saved_calls == [("a.png", "l3yla, smiling, red coat")]
    assert not editor.is_dirty()


def test_pasted_lines_are_joined(qtbot, editor):
    editor.load("a.png", "l3yla, smiling")
    editor.edit.moveCursor(editor.edit.textCursor().MoveOperation.End)
    mime = QMimeData()
    mime.setText(", wearing a red coat\nin a park\n")
    editor.edit.insertFromMimeData(mime)
    assert editor.text() == "l3yla, smiling, wearing a red coat, in a park"
    mime.setText(" and a scarf")  # one line: pasted as it is
    editor.edit.insertFromMimeData(mime)
    assert editor.text().endswith("in a park and a scarf")


def test_a_multi_line_caption_is_shown_then_saved_as_one_line(qtbot, editor):
    editor.load("a.png", "l3yla, smiling\nwearing a red coat")
    assert editor.edit.document().blockCount() == 2  # shown as it is (the lint flags it)
    _type_at_end(qtbot, editor, ", park")
    assert editor.save()
    assert editor.text() == "l3yla, smiling, wearing a red coat, park"
    assert not editor.is_dirty()


def test_the_echo_of_a_save_keeps_the_space_being_typed(qtbot, editor):
    editor.load("a.png", "l3yla, smiling")
    _type_at_end(qtbot, editor, ", ")
    assert editor.save()
    editor.reload_text("l3yla, smiling,")  # the workspace stored it trimmed
    _type_at_end(qtbot, editor, "red coat")
    assert editor.text() == "l3yla, smiling, red coat"
    editor.reload_text("l3yla, laughing")  # a real change (undo, bulk edit) is shown
    assert editor.text() == "l3yla, laughing"


def test_appended_edits_in_the_app_write_one_line(qtbot, window, dataset):
    """The issue's scenario end to end: caption files ending with a newline, four appended
    edits through the real window, every file one line afterwards."""
    caps = sorted(dataset.glob("*.txt"))[:4]
    for cap in caps:
        cap.write_text(cap.read_text("utf-8").rstrip("\n") + "\n", encoding="utf-8")
    open_and_wait(qtbot, window, dataset, thumbs=False)
    ed = window.browser.editor
    ed.set_autosave_delay(60_000)
    for cap in caps:
        rel = next(r.rel for r in window.browser.model.rows if r.rel.startswith(cap.stem + "."))
        window.browser.grid.select_rel(rel)
        qtbot.waitUntil(lambda rel=rel: ed.rel == rel, timeout=5000)
        assert ed.edit.document().blockCount() == 1
        _type_at_end(qtbot, ed, ", gold hoop earrings")
        assert ed.save()
    for cap in caps:
        data = cap.read_text("utf-8")
        assert "\n" not in data and data.endswith(", gold hoop earrings"), repr(data)
