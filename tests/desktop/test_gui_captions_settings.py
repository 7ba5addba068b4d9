"""Dataset settings: the trigger verdict updates as you type, suggestion chips, the identity
line, storage in the workspace state (read back after a restart), the lint following the new
trigger, and renaming the old trigger in every caption as one undo step."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from test_gui_captions_lint import captions, lint_dataset  # noqa: F401
from test_gui_fixtures import window  # noqa: F401

pytestmark = pytest.mark.gui


def _verdict(dlg) -> str:
    return dlg.trigger.verdict


def test_trigger_verdict_updates_as_you_type(qtbot, window, captions, screenshot_dir):  # noqa: F811
    dlg = captions.open_settings()
    qtbot.waitExposed(dlg)
    field = dlg.trigger
    assert field.text() == "l3yla"  # from the kohya folder name 10_l3yla
    assert _verdict(dlg) == "good"
    field.edit.clear()
    qtbot.keyClicks(field.edit, "leyla")
    qtbot.waitUntil(lambda: _verdict(dlg) == "bad", timeout=3000)
    assert field.pill.text() == "BAD"
    assert "first name" in field.reasons.text()
    chips = [c.text() for c in field.chips]
    assert chips and "l3yla" in chips
    dlg.identity.setText("a woman with long dark brown wavy hair")
    qtbot.wait(50)
    dlg.grab().save(str(screenshot_dir / "captions_settings_bad.png"))

    qtbot.mouseClick(field.chips[chips.index("l3yla")], Qt.MouseButton.LeftButton)
    assert field.text() == "l3yla" and _verdict(dlg) == "good"
    assert field.pill.text() == "GOOD"
    field.edit.clear()
    qtbot.keyClicks(field.edit, "l3ylaxyz")  # too long: weak, not bad
    qtbot.waitUntil(lambda: _verdict(dlg) == "weak", timeout=3000)
    assert "characters" in field.reasons.text()
    qtbot.wait(50)
    dlg.grab().save(str(screenshot_dir / "captions_settings_weak.png"))
    dlg.reject()


def test_settings_are_stored_and_drive_the_lint(qtbot, window, captions):  # noqa: F811
    from curation.workspace import Workspace

    ws = window.session.workspace
    dlg = captions.open_settings()
    dlg.identity.setText("a woman with   blue eyes")  # spaces normalised on save
    assert "verbatim in 1 of 5" in dlg.identity_hint.text()
    dlg.accept()
    assert captions.controller.settings.identity_line == "a woman with blue eyes"
    assert ws.settings().identity_line == "a woman with blue eyes"
    # blue eyes is inside the declared identity line now: no longer flagged on img_00
    captions.controller.relint_now(wait=True)
    rules = [m.rule for m in captions.controller.report.by_rel["img_00.jpg"]]
    assert "identity-descriptor" not in rules
    window.close()
    with Workspace.open(captions.dataset) as again:
        assert again.settings().identity_line == "a woman with blue eyes"


def test_changing_the_trigger_renames_it_in_one_step(qtbot, window, captions):  # noqa: F811
    ws = window.session.workspace
    steps = len(ws.steps())
    dlg = captions.open_settings()
    dlg.trigger.edit.clear()
    qtbot.keyClicks(dlg.trigger.edit, "m4ria")
    assert dlg.rename.isVisible()
    assert "in 4 captions" in dlg.rename.text()  # img_01 has the variant L3yla
    dlg.accept()
    assert captions.controller.settings.trigger == "m4ria"
    assert len(ws.steps()) == steps + 1
    for stem in ("img_00", "img_03", "img_04", "img_05"):
        text = (captions.dataset / f"{stem}.txt").read_text("utf-8")
        assert "m4ria" in text and "l3yla" not in text
    # the lint now checks the new trigger
    captions.controller.relint_now(wait=True)
    rules = {m.rule for marks in captions.controller.report.by_rel.values() for m in marks}
    assert "trigger-missing" in rules  # img_01 still says L3yla
    window.session.undo()
    assert "l3yla" in (captions.dataset / "img_00.txt").read_text("utf-8")
