# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""The review loop: edit a caption (autosave), undo/redo through the workspace history,
navigate, save-and-next, counts, and a failed save that keeps the edit pending."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from test_gui_fixtures import dataset, open_and_wait, window

from curation.errors import CaptionWriteError
from desktop.widgets.caption_editor import count_text, estimate_tokens

pytestmark = pytest.mark.gui


def _editor(window):
    ed = window.browser.editor
    ed.set_autosave_delay(150)
    return ed


def _type(qtbot, ed, text: str) -> None:
    ed.edit.setFocus()
    ed.edit.moveCursor(ed.edit.textCursor().MoveOperation.End)
    qtbot.keyClicks(ed.edit, text)


def test_edit_autosaves_then_undo_redo(qtbot, window, dataset, screenshot_dir):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    ed = _editor(window)
    cap = dataset / "img_00.txt"
    old = cap.read_text("utf-8")
    _type(qtbot, ed, ", gold hoop earrings")
    assert ed.is_dirty()
    qtbot.waitUntil(lambda: not ed.is_dirty(), timeout=5000)  # typing pause -> autosave
    assert cap.read_text("utf-8") == old + ", gold hoop earrings"
    model = window.browser.model
    assert model.row_data("img_00.jpg").caption.endswith("gold hoop earrings")
    assert ed.state.text() == "Saved"
    window.grab().save(str(screenshot_dir / "caption_edited.png"))

    qtbot.keyClick(ed.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert cap.read_text("utf-8") == old
    assert ed.text() == old
    assert model.row_data("img_00.jpg").caption == old
    qtbot.keyClick(
        ed.edit,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert cap.read_text("utf-8") == old + ", gold hoop earrings"
    assert ed.text().endswith("gold hoop earrings")


def test_undo_survives_a_restart(qtbot, window, dataset):
    from curation.workspace import Workspace

    open_and_wait(qtbot, window, dataset, thumbs=False)
    ed = _editor(window)
    cap = dataset / "img_00.txt"
    old = cap.read_text("utf-8")
    _type(qtbot, ed, " X")
    window.close()  # leaving saves the pending edit
    assert cap.read_text("utf-8") == old + " X"
    ws = Workspace.open(dataset)
    try:
        assert ws.can_undo
        ws.undo()
        assert cap.read_text("utf-8") == old
    finally:
        ws.close()


def test_leaving_the_image_saves_and_keys_navigate(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    ed = _editor(window)
    ed.set_autosave_delay(60_000)  # only leaving the image can save here
    _type(qtbot, ed, " A")
    qtbot.keyClick(ed.edit, Qt.Key.Key_PageDown)
    assert (dataset / "img_00.txt").read_text("utf-8").endswith(" A")
    assert ed.rel == "img_01.jpg"
    qtbot.keyClick(ed.edit, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert ed.rel == "img_02.jpg"
    qtbot.keyClick(ed.edit, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    qtbot.keyClick(ed.edit, Qt.Key.Key_PageUp)
    assert ed.rel == "img_00.jpg"
    # Ctrl+Enter: save and next, 30 captions in a row the way a reviewer does it
    for i in range(6):
        _type(qtbot, ed, f" r{i}")
        qtbot.keyClick(ed.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert ed.rel == "img_06.jpg"
    assert (dataset / "img_05.txt").read_text("utf-8").endswith(" r5")
    # an uncaptioned image gets a new caption file
    _type(qtbot, ed, "a photo of l3yla")
    qtbot.keyClick(ed.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert (dataset / "img_06.txt").read_text("utf-8") == "a photo of l3yla"


def test_failed_save_is_shown_and_kept_pending(
    qtbot,
    window,
    dataset,
    monkeypatch,
    screenshot_dir,
):
    import curation.workspace as wsmod

    real = wsmod.write_caption_atomic

    def refuse(path, text):
        if path.name == "img_00.txt":
            raise CaptionWriteError(
                "cannot write caption img_00.txt: permission denied: the "
                "caption or its folder is read-only. Your edit is kept."
            )
        return real(path, text)

    monkeypatch.setattr(wsmod, "write_caption_atomic", refuse)
    open_and_wait(qtbot, window, dataset, thumbs=False)
    ed = _editor(window)
    cap = dataset / "img_00.txt"
    old = cap.read_text("utf-8")
    _type(qtbot, ed, " blue scarf")
    qtbot.waitUntil(lambda: ed.banner.isVisible(), timeout=5000)
    assert "read-only" in ed.banner.text()
    assert ed.is_dirty() and ed.state.text() == "Not saved"
    assert cap.read_text("utf-8") == old
    window.grab().save(str(screenshot_dir / "save_error.png"))
    # leaving the image: the edit stays pending in the workspace and the banner says so
    qtbot.keyClick(ed.edit, Qt.Key.Key_PageDown)
    assert window.banner.isVisible() and "img_00.jpg" in window.banner.text.text()
    assert window.session.caption("img_00.jpg") == old + " blue scarf"
    assert window.browser.model.row_data("img_00.jpg").caption == old + " blue scarf"
    # writable again: the next save retries it
    monkeypatch.setattr(wsmod, "write_caption_atomic", real)
    qtbot.keyClick(ed.edit, Qt.Key.Key_PageUp)
    assert ed.text() == old + " blue scarf"
    _type(qtbot, ed, "!")
    qtbot.keyClick(ed.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert cap.read_text("utf-8") == old + " blue scarf!"


def test_counts_and_token_estimate(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    ed = _editor(window)
    words, tokens, exact = count_text(ed.text())
    assert words == len(ed.text().split()) and not exact
    assert f"{words} words" in ed.counts.text() and "estimate" in ed.counts.text()
    assert estimate_tokens("") == 0
    assert estimate_tokens("a photo of l3yla, smiling") == 8  # a photo of l 3 yla , smiling
