"""Caption lint in the GUI: underlines at the rule spans as you type, hover tooltip, one-click
fix (menu, Ctrl+., issue list) undone by Ctrl+Z, the Lint dock (grouping, counts,
click-to-jump, "Fix all" as one undo step) and the tile badges."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, Qt
from PySide6.QtGui import QHelpEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QApplication, QMenu, QToolTip
from test_gui_fixtures import make_image, window  # noqa: F401

from desktop.panels.captions.common import SEVERITY_COLOURS

pytestmark = pytest.mark.gui

CAPTIONS = {
    "img_00": "a photo of l3yla, a woman with blue eyes, wearing a casual outfit, sunny beach",
    "img_01": "smiling L3yla, wearing a red dress, city park",
    "img_02": None,  # missing caption
    "img_03": "a close-up photo of l3yla, smiling, wearing a red raincoat, city street at night",
    "img_04": "a photo of l3yla, brown eyes, wearing a green wool coat, snowy forest",
    "img_05": "a full body photo of l3yla, brown eyes, wearing a yellow sundress, beach",
}


@pytest.fixture
def lint_dataset(tmp_path) -> Path:
    folder = tmp_path / "10_l3yla"
    folder.mkdir()
    for i, (stem, text) in enumerate(CAPTIONS.items()):
        make_image(folder / f"{stem}.jpg", i)
        if text is not None:
            (folder / f"{stem}.txt").write_text(text, "utf-8")
    return folder


@pytest.fixture
def captions(qtbot, window, lint_dataset):  # noqa: F811
    """The window with the caption panels, the folder opened and linted."""
    from desktop.panels.captions import install

    feature = install(window)
    window.open_folder(str(lint_dataset), wait=True)
    feature.controller.relint_now(wait=True)
    window.browser.editor.set_autosave_delay(100)
    feature.dataset = lint_dataset
    return feature


def _spans(edit) -> list[tuple[int, int, str]]:
    out = []
    for sel in edit.extraSelections():
        fmt = sel.format
        assert fmt.underlineStyle() == QTextCharFormat.UnderlineStyle.WaveUnderline
        out.append(
            (sel.cursor.selectionStart(), sel.cursor.selectionEnd(), fmt.underlineColor().name())
        )
    return sorted(out)


def _point_of(edit, pos: int) -> QPoint:
    cur = QTextCursor(edit.document())
    cur.setPosition(pos)
    rect = edit.cursorRect(cur)
    return QPoint(rect.left() + 3, rect.center().y())


def test_underlines_at_rule_spans_and_as_you_type(qtbot, window, captions, screenshot_dir):  # noqa: F811
    ed = window.browser.editor
    assert ed.rel == "img_00.jpg"
    text = ed.text()
    eyes = text.index("blue eyes")
    vague = text.index("casual outfit")
    warn = SEVERITY_COLOURS["warning"]
    spans = _spans(ed.edit)
    assert (eyes, eyes + len("blue eyes"), warn) in spans
    assert (vague, vague + len("casual outfit"), warn) in spans
    assert len(spans) == 2  # nothing else is flagged on this caption
    # the list under the text names both problems and offers the fix
    listing = captions.highlighter.issues
    assert listing.isVisible()
    assert "describes identity" in listing.text() and "Fix: remove" in listing.text()

    # type a new identity descriptor: it is underlined after the debounce, no save needed
    ed.set_autosave_delay(60_000)
    ed.edit.setFocus()
    ed.edit.moveCursor(QTextCursor.MoveOperation.End)
    qtbot.keyClicks(ed.edit, ", freckles")
    at = ed.text().index("freckles")
    qtbot.waitUntil(
        lambda: any(s[0] == at and s[1] == at + len("freckles") for s in _spans(ed.edit)),
        timeout=3000,
    )
    qtbot.wait(50)  # let the issue list under the text lay out
    window.grab().save(str(screenshot_dir / "captions_editor_underlines.png"))
    ed.edit.grab().save(str(screenshot_dir / "captions_editor_underlines_closeup.png"))

    # an error is red: the missing trigger on a caption without it
    ed.edit.selectAll()
    qtbot.keyClicks(ed.edit, "smiling, red dress")
    qtbot.waitUntil(
        lambda: any(s[2] == SEVERITY_COLOURS["error"] for s in _spans(ed.edit)), timeout=3000
    )
    assert any(m.rule == "trigger-missing" for m in captions.highlighter.marks)


def test_hover_shows_the_message(qtbot, window, captions):  # noqa: F811
    ed = window.browser.editor
    hl = captions.highlighter
    vp = ed.edit.viewport()
    at = ed.text().index("blue eyes") + 2
    point = _point_of(ed.edit, at)
    event = QHelpEvent(QEvent.Type.ToolTip, point, vp.mapToGlobal(point))
    assert hl.eventFilter(vp, event)
    assert hl.marks_at(at)[0].rule == "identity-descriptor"
    assert QToolTip.isVisible()
    assert "describes identity" in QToolTip.text() and "Quick fix" in QToolTip.text()
    # no tooltip away from any problem
    far = _point_of(ed.edit, 3)
    assert hl.marks_at(3) == []
    hl.eventFilter(vp, QHelpEvent(QEvent.Type.ToolTip, far, vp.mapToGlobal(far)))
    qtbot.waitUntil(lambda: not QToolTip.isVisible(), timeout=3000)


def test_context_menu_fix_then_ctrl_z(qtbot, window, captions):  # noqa: F811
    ed = window.browser.editor
    cap = captions.dataset / "img_00.txt"
    old = cap.read_text("utf-8")
    at = ed.text().index("blue eyes") + 3
    menu = captions.highlighter.context_menu(_point_of(ed.edit, at))
    fixes = [a for a in menu.actions() if a.text().startswith("Fix:")]
    assert [a.text() for a in fixes] == ["Fix: remove 'blue eyes'"]
    assert any(a.text() for a in menu.actions() if "Copy" in a.text())  # standard items kept
    fixes[0].trigger()
    new = cap.read_text("utf-8")
    assert "blue eyes" not in new and new.startswith("a photo of l3yla, a woman")
    assert ed.text() == new
    assert "blue eyes" not in " ".join(m.message for m in captions.highlighter.marks)
    assert window.session.undo_label().startswith("fix identity-descriptor")
    qtbot.keyClick(ed.edit, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert cap.read_text("utf-8") == old
    assert ed.text() == old
    qtbot.waitUntil(
        lambda: any(m.rule == "identity-descriptor" for m in captions.highlighter.marks),
        timeout=3000,
    )


def test_ctrl_dot_quick_fix_and_lightbulb(qtbot, window, captions, screenshot_dir):  # noqa: F811
    grid = window.browser.grid
    assert grid.select_rel("img_01.jpg")
    ed = window.browser.editor
    cap = captions.dataset / "img_01.txt"
    ed.edit.setFocus()
    cur = ed.edit.textCursor()
    cur.setPosition(ed.text().index("L3yla") + 2)
    ed.edit.setTextCursor(cur)
    hl = captions.highlighter
    assert hl.bulb.isVisible()  # the lightbulb sits by the problem under the cursor
    window.grab().save(str(screenshot_dir / "captions_lightbulb.png"))
    qtbot.keyClick(ed.edit, Qt.Key.Key_Period, Qt.KeyboardModifier.ControlModifier)
    menu = next(
        m
        for m in QApplication.topLevelWidgets()
        if isinstance(m, QMenu) and m.objectName() == "quickFixMenu" and m.isVisible()
    )
    assert menu.actions()[0].text() == "Fix: replace with 'l3yla'"
    qtbot.keyClick(menu, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: cap.read_text("utf-8").startswith("smiling l3yla"), timeout=3000)
    assert not any(m.rule == "trigger-variant" for m in hl.marks)
    window.session.undo()
    assert cap.read_text("utf-8").startswith("smiling L3yla")


def test_fix_link_under_the_editor(qtbot, window, captions):  # noqa: F811
    hl = captions.highlighter
    idx = next(i for i, m in enumerate(hl.marks) if m.fix is not None)
    hl._on_link(f"fix:{idx}")
    assert "blue eyes" not in (captions.dataset / "img_00.txt").read_text("utf-8")


def test_lint_panel_groups_jump_and_fix_all(qtbot, window, captions, screenshot_dir):  # noqa: F811
    panel = captions.dock.panel
    assert captions.dock.isVisible()
    tree = panel.tree
    groups = {
        tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
    }
    assert groups["identity-descriptor"].text(1) == "3"  # blue eyes + 2x brown eyes
    assert groups["missing-caption"].text(1) == "1"
    assert groups["trigger-variant"].text(1) == "1"
    # errors first
    assert tree.topLevelItem(0).text(0) == "missing-caption"
    assert "1 error" in panel.summary.text()
    groups["identity-descriptor"].setExpanded(True)
    tree.setCurrentItem(groups["identity-descriptor"])
    assert panel.fix_all_btn.isEnabled() and panel.fix_all_btn.text() == "Fix all (3)"
    assert captions.dock.windowTitle() == "Lint (6)"
    captions.dock.raise_()
    qtbot.wait(50)
    captions.dock.grab().save(str(screenshot_dir / "captions_lint_panel.png"))
    window.grab().save(str(screenshot_dir / "captions_lint_panel_window.png"))

    # click a problem: its image becomes current and the span is selected in the editor
    child = next(
        groups["identity-descriptor"].child(i)
        for i in range(groups["identity-descriptor"].childCount())
        if groups["identity-descriptor"].child(i).text(1) == "img_04.jpg"
    )
    rect = tree.visualItemRect(child)
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    ed = window.browser.editor
    assert window.browser.grid.current_rel() == "img_04.jpg"
    assert ed.rel == "img_04.jpg"
    assert ed.edit.textCursor().selectedText() == "brown eyes"

    # "only these images" narrows the grid to the rule's images
    panel.only.setChecked(True)
    assert window.browser.proxy.rowCount() == 3
    panel.only.setChecked(False)
    assert window.browser.proxy.rowCount() == 6

    # Fix all: one undo step for the three captions
    ws = window.session.workspace
    before = {r: ws.caption(r) for r in ("img_00.jpg", "img_04.jpg", "img_05.jpg")}
    steps = len(ws.steps())
    tree.setCurrentItem(groups["identity-descriptor"])
    assert panel.fix_all("identity-descriptor") == 3
    assert len(ws.steps()) == steps + 1
    for rel in before:
        assert "eyes" not in (captions.dataset / rel.replace(".jpg", ".txt")).read_text()
    captions.controller.relint_now(wait=True)
    assert panel.group_item("identity-descriptor") is None
    window.session.undo()
    for rel, text in before.items():
        assert (captions.dataset / rel.replace(".jpg", ".txt")).read_text() == text
    captions.controller.relint_now(wait=True)
    assert panel.group_item("identity-descriptor").text(1) == "3"


def _lint_badges(model, rel: str) -> list[str]:
    """This panel's badges (other panels, e.g. faces, add their own)."""
    return [b.text for b in model.badges_for(rel) if b.text[:1] in "✕!"]


def test_badges_count_errors_and_warnings(qtbot, window, captions):  # noqa: F811
    model = window.browser.model
    assert _lint_badges(model, "img_02.jpg") == ["✕ 1"]
    assert _lint_badges(model, "img_00.jpg") == ["! 2"]
    assert _lint_badges(model, "img_03.jpg") == []
    # a fix updates the badges after the re-lint
    hl = captions.highlighter
    hl.apply(next(m for m in hl.marks if m.rule == "identity-descriptor"))
    qtbot.waitUntil(lambda: _lint_badges(model, "img_00.jpg") == ["! 1"], timeout=5000)


def test_next_problem_key(qtbot, window, captions):  # noqa: F811
    assert window.browser.grid.current_rel() == "img_00.jpg"
    assert captions.next_problem(1)
    assert window.browser.grid.current_rel() == "img_01.jpg"
    assert captions.next_problem(1)
    assert window.browser.grid.current_rel() == "img_02.jpg"
    assert captions.next_problem(1)  # img_03 is clean: skipped
    assert window.browser.grid.current_rel() == "img_04.jpg"
    assert captions.next_problem(-1)
    assert window.browser.grid.current_rel() == "img_02.jpg"


def test_identity_leak_fix_all_is_one_step(qtbot, window, tmp_path):  # noqa: F811
    from desktop.panels.captions import install

    folder = tmp_path / "5_m4ria"
    folder.mkdir()
    moods = ["smiling", "laughing", "neutral expression", "serious", "sad"]
    for i, mood in enumerate(moods):
        make_image(folder / f"p{i}.jpg", i)
        (folder / f"p{i}.txt").write_text(f"a photo of m4ria, {mood}, soft window light", "utf-8")
    feature = install(window)
    window.open_folder(str(folder), wait=True)
    feature.controller.relint_now(wait=True)
    panel = feature.dock.panel
    group = panel.group_item("identity-leak")
    assert group is not None and group.text(1) == "5"
    # the editor underlines the leaking fragment on the image being edited
    ed = window.browser.editor
    at = ed.text().index("soft window light")
    assert (at, at + len("soft window light")) in [
        (s.cursor.selectionStart(), s.cursor.selectionEnd()) for s in ed.edit.extraSelections()
    ]
    panel.tree.setCurrentItem(group)
    assert panel.fix_all("identity-leak") == 5
    texts = [(folder / f"p{i}.txt").read_text("utf-8") for i in range(5)]
    assert texts == [f"a photo of m4ria, {m}" for m in moods]
    window.session.undo()
    assert all(
        (folder / f"p{i}.txt").read_text("utf-8").endswith("soft window light") for i in range(5)
    )


def test_excluded_images_are_not_linted_and_back_views_use_facts(qtbot, window, captions):  # noqa: F811
    model = window.browser.model
    ctrl = captions.controller
    assert _lint_badges(model, "img_02.jpg") == ["✕ 1"]
    assert window.browser.grid.select_rel("img_02.jpg")
    window.toggle_excluded()  # Ctrl+E: not trained, so not linted
    qtbot.waitUntil(lambda: "img_02.jpg" not in ctrl.report.by_rel, timeout=5000)
    assert _lint_badges(model, "img_02.jpg") == []
    assert captions.dock.panel.group_item("missing-caption") is None
    # a back view (the user's override): eye colour cannot be seen, so it is flagged as such
    window.session.workspace.set_override("img_04.jpg", "pose", "back")
    ctrl.relint_now(wait=True)
    rules = {m.rule for m in ctrl.report.by_rel["img_04.jpg"]}
    assert "invisible-feature" in rules
    assert window.browser.grid.select_rel("img_04.jpg")
    assert any(m.rule == "invisible-feature" for m in captions.highlighter.marks)


def test_fix_all_right_after_an_edit_uses_fresh_spans(qtbot, window, captions):  # noqa: F811
    """A save schedules a re-lint; "Fix all" before it lands must not cut stale spans."""
    ed = window.browser.editor
    assert ed.rel == "img_00.jpg"
    ed.edit.selectAll()
    qtbot.keyClicks(ed.edit, "l3yla, smiling, a woman with blue eyes, wearing a red coat")
    assert ed.save()
    assert captions.controller.timer.isActive()  # the report is stale now
    assert captions.dock.panel.fix_all("identity-descriptor") == 3
    assert (captions.dataset / "img_00.txt").read_text("utf-8") == (
        "l3yla, smiling, a woman, wearing a red coat"
    )


def test_face_analysis_facts_reach_the_lint(qtbot, window, captions):  # noqa: F811
    from types import SimpleNamespace

    ctrl = captions.controller
    profile = SimpleNamespace(rel="img_05.jpg", tier="full-body", pose="profile", overrides={})
    candidate = SimpleNamespace(
        rel="img_04.jpg", tier="medium", pose=None, back_view_candidate=True, overrides={}
    )
    store = window.session.analysis_store  # what the faces panel writes, read by the lint
    store.add_image("img_05.jpg", profile)
    store.add_image("img_04.jpg", candidate)
    ctrl.relint_now(wait=True)
    assert "invisible-feature" in {m.rule for m in ctrl.report.by_rel["img_05.jpg"]}
    # a back-view candidate is not a back view: ask, do not guess
    assert "invisible-feature" not in {m.rule for m in ctrl.report.by_rel["img_04.jpg"]}
    assert ctrl.shots(["img_05.jpg", "img_04.jpg"]) == {
        "img_05.jpg": "full-body",
        "img_04.jpg": "medium",
    }


def test_panel_fix_button_fixes_the_selected_problem(qtbot, window, captions):  # noqa: F811
    panel = captions.dock.panel
    group = panel.group_item("trigger-variant")
    group.setExpanded(True)
    panel.tree.setCurrentItem(group.child(0))
    assert panel.fix_btn.isEnabled()
    qtbot.mouseClick(panel.fix_btn, Qt.MouseButton.LeftButton)
    assert (captions.dataset / "img_01.txt").read_text("utf-8").startswith("smiling l3yla")
    assert window.session.undo_label().startswith("fix trigger-variant")
    window.session.undo()
    assert (captions.dataset / "img_01.txt").read_text("utf-8").startswith("smiling L3yla")
