# ruff: noqa: F401, F811  (pytest fixtures imported from test_gui_fixtures)
"""The bulk-edit dialog: live preview with a count, apply as one undo step, undo."""

from __future__ import annotations

import pytest
from test_gui_fixtures import dataset, open_and_wait, window

pytestmark = pytest.mark.gui


def _captions(folder):
    return {p.name: p.read_text("utf-8") for p in sorted(folder.glob("*.txt"))}


def test_bulk_replace_preview_apply_undo(qtbot, window, dataset, screenshot_dir):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    before = _captions(dataset)
    dlg = window.open_bulk_edit()
    qtbot.addWidget(dlg)
    dlg.scope_all.setChecked(True)
    qtbot.keyClicks(dlg.find, "l3yla")
    qtbot.keyClicks(dlg.replace, "m4ria")
    qtbot.waitUntil(lambda: "6 captions will change" in dlg.count.text(), timeout=3000)
    html = dlg.preview.toHtml()
    assert "m4ria" in html and "img_05.jpg" in html
    dlg.grab().save(str(screenshot_dir / "bulk_edit_preview.png"))
    assert _captions(dataset) == before  # the preview wrote nothing

    dlg.apply_btn.click()
    after = _captions(dataset)
    assert all("m4ria" in t and "l3yla" not in t for t in after.values())
    assert window.browser.editor.text() == after["img_00.txt"]  # the open caption follows
    assert "m4ria" in window.browser.model.row_data("img_03.jpg").caption
    assert dlg.count.text() == "No caption would change"
    assert "replace" in (window.session.undo_label() or "")

    dlg.undo_btn.click()  # one step undoes all six
    assert _captions(dataset) == before
    assert window.browser.editor.text() == before["img_00.txt"]
    window.act_redo.trigger()
    assert _captions(dataset) == after
    window.act_undo.trigger()
    assert _captions(dataset) == before


def test_bulk_selection_scope_regex_and_errors(qtbot, window, dataset):
    open_and_wait(qtbot, window, dataset, thumbs=False)
    grid = window.browser.grid
    grid.selectAll()
    # select two tiles: img_01 and img_02
    grid.clearSelection()
    from PySide6.QtCore import QItemSelectionModel

    for rel in ("img_01.jpg", "img_02.jpg"):
        idx = window.browser.proxy.mapFromSource(
            window.browser.model.index(window.browser.model.row_of(rel))
        )
        grid.selectionModel().select(idx, QItemSelectionModel.SelectionFlag.Select)
    before = _captions(dataset)
    dlg = window.open_bulk_edit()
    qtbot.addWidget(dlg)
    assert dlg.scope_sel.isChecked() and dlg.scope_sel.text() == "Selection (2)"
    dlg.regex.setChecked(True)
    dlg.find.setText("wearing a ([a-z ]+?),")
    dlg.replace.setText(r"in a \1,")
    dlg.update_preview()
    assert dlg.count.text().startswith("2 captions will change")
    dlg.find.setText("wearing (")  # invalid regex: a clear message, nothing to apply
    dlg.update_preview()
    assert not dlg.apply_btn.isEnabled()
    assert dlg.count.property("level") == "error" and dlg.count.text()
    # prepend with skip-if-present
    dlg.op.setCurrentIndex(1)
    dlg.add_text[0].setText("a photo")
    dlg.scope_all.setChecked(True)
    dlg.update_preview()
    n = len(dlg.changes)
    assert n == 9  # every image, the 3 uncaptioned ones included
    dlg.apply()
    after = _captions(dataset)
    changed = [k for k in after if after[k] != before.get(k)]
    assert len(changed) == n and all(after[k].startswith("a photo") for k in changed)
    assert after["img_06.txt"] == "a photo"
    window.act_undo.trigger()  # one step: the new files go away again
    assert _captions(dataset) == before
    # remove duplicate phrases
    (dataset / "img_07.txt").write_text("smiling, red hat, Smiling, red hat", "utf-8")
    window.session.workspace.sync_from_disk(["img_07.jpg"])
    dlg.op.setCurrentIndex(4)
    dlg.update_preview()
    assert any(c.rel == "img_07.jpg" and c.new == "smiling, red hat" for c in dlg.changes)


def test_preview_after_the_dataset_closed_does_nothing(qtbot, window, dataset):
    """The preview timer can fire after the window closed its dataset: no exception (it
    used to raise AttributeError on ``None.captions`` from the timer)."""
    open_and_wait(qtbot, window, dataset, thumbs=False)
    dlg = window.open_bulk_edit()
    qtbot.addWidget(dlg)
    dlg.scope_all.setChecked(True)
    dlg.find.setText("l3yla")
    dlg.update_preview()
    assert dlg.apply_btn.isEnabled()
    window.session.close()
    assert window.session.workspace is None
    dlg.update_preview()
    assert not dlg.apply_btn.isEnabled() and dlg.changes == []
