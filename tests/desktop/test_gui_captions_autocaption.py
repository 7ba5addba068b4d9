"""Autocaption dialog and review screen: a tiny random Florence-2 built offline goes through
the real loading path in a worker thread; suggest writes nothing, fill writes one undo step;
model load errors (missing folder, offline hub) are shown; cancel; the review screen accepts
per image (one undo step each) or all at once (one step), with edits and skips."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from test_gui_captions_lint import CAPTIONS, captions, lint_dataset  # noqa: F401
from test_gui_fixtures import window  # noqa: F401

pytestmark = pytest.mark.gui

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "curation"))


@pytest.fixture(scope="module")
def tiny_florence(tmp_path_factory) -> Path:
    from tiny_florence import build_tiny_florence

    return build_tiny_florence(tmp_path_factory.mktemp("florence") / "tiny-florence-2")


@pytest.fixture(autouse=True)
def _short_generation(monkeypatch):
    """Random weights never emit an end token: cap generation so a run takes seconds (the
    real loading, batching, post-processing and cleaning paths all still run)."""
    from curation.captioners.florence2 import Florence2Captioner

    monkeypatch.setattr(Florence2Captioner, "max_new_tokens", 12)
    monkeypatch.setattr(Florence2Captioner, "num_beams", 1)


def _dialog(captions, folder: Path | str, mode: str = "suggest"):  # noqa: F811
    dlg = captions.open_autocaption()
    dlg.model.setCurrentIndex(dlg.model.findData("local"))
    dlg.folder.setText(str(folder))
    dlg.device.setCurrentIndex(dlg.device.findData("cpu"))
    dlg.batch.setValue(3)
    for b in dlg.mode_group.buttons():
        if b.property("mode") == mode:
            b.setChecked(True)
    return dlg


def _run(qtbot, dlg, timeout: int = 120_000) -> list:
    with qtbot.waitSignal(dlg.review_requested, timeout=timeout) as blocker:
        assert dlg.start()
        assert dlg.running and not dlg.start_btn.isEnabled()
    assert not dlg.running
    return blocker.args[0]


@pytest.mark.slow
def test_suggest_end_to_end_then_review(qtbot, window, captions, tiny_florence, screenshot_dir):  # noqa: E501, F811
    from curation.captioners.autocaption import pending_suggestions, raw_history

    before = {p.name: p.read_text("utf-8") for p in captions.dataset.glob("*.txt")}
    dlg = _dialog(captions, tiny_florence)
    assert dlg.folder_box.isVisible()
    assert "l3yla" in dlg.trigger_note.text()
    qtbot.wait(50)
    dlg.grab().save(str(screenshot_dir / "captions_autocaption_dialog.png"))
    suggestions = _run(qtbot, dlg)
    assert [s.rel for s in suggestions] == [f"img_0{i}.jpg" for i in range(6)]
    assert all(not s.error for s in suggestions), [s.error for s in suggestions]
    assert all(
        s.cleaned.startswith(("a ", "l3yla", "photo")) and "l3yla" in s.cleaned for s in suggestions
    )
    assert "6 captioned" in dlg.status.text()
    assert dlg.progress.value() == 6
    # suggest writes nothing; raw outputs are kept, suggestions stored for later
    assert {p.name: p.read_text("utf-8") for p in captions.dataset.glob("*.txt")} == before
    ws = window.session.workspace
    assert raw_history(ws, "img_00.jpg")[-1]["text"] == suggestions[0].raw
    assert len(pending_suggestions(ws)) == 6
    qtbot.wait(50)
    dlg.grab().save(str(screenshot_dir / "captions_autocaption_done.png"))

    review = captions.review
    assert review is not None and review.isVisible()
    assert captions.act_review.isEnabled()
    qtbot.waitUntil(
        review.image.has_image,
        timeout=10_000,
    )
    review.grab().save(str(screenshot_dir / "captions_review_florence.png"))
    steps = len(ws.steps())
    review.accept_all()
    assert len(ws.steps()) == steps + 1
    assert (captions.dataset / "img_02.txt").read_text("utf-8") == suggestions[2].cleaned
    assert pending_suggestions(ws) == []
    review.close()
    dlg.close()


@pytest.mark.slow
def test_fill_writes_only_empty_captions_as_one_step(qtbot, window, captions, tiny_florence):  # noqa: E501, F811
    ws = window.session.workspace
    steps = len(ws.steps())
    dlg = _dialog(captions, tiny_florence, mode="fill")
    suggestions = _run(qtbot, dlg)
    assert [s.rel for s in suggestions] == ["img_02.jpg"]  # the only uncaptioned image
    text = (captions.dataset / "img_02.txt").read_text("utf-8")
    assert text == suggestions[0].cleaned and "l3yla" in text
    assert len(ws.steps()) == steps + 1
    assert "1 written (one undo step)" in dlg.status.text()
    assert window.browser.model.row_data("img_02.jpg").has_caption
    window.session.undo()
    assert not ws.has_caption("img_02.jpg") or not ws.caption("img_02.jpg")
    captions.review.close()
    dlg.close()


def test_missing_model_folder_is_shown(qtbot, window, captions, tmp_path):  # noqa: F811
    dlg = _dialog(captions, tmp_path / "no-such-model")
    assert dlg.start()
    qtbot.waitUntil(lambda: not dlg.running, timeout=30_000)
    assert dlg.error.isVisible()
    assert "model folder not found" in dlg.error.text()
    assert dlg.start_btn.isEnabled() and not dlg.progress.isVisible()
    dlg.close()


def test_offline_hub_model_is_shown(qtbot, window, captions, screenshot_dir):  # noqa: F811
    dlg = captions.open_autocaption()  # "base" from the hub; tests run with HF_HUB_OFFLINE=1
    dlg.device.setCurrentIndex(dlg.device.findData("cpu"))
    # said before Start, in plain words, with the two ways out
    assert dlg.missing.isVisible() and "not on this computer" in dlg.missing.label.text()
    dlg.start()
    qtbot.waitUntil(lambda: not dlg.running, timeout=30_000)
    text = dlg.missing.label.text()
    assert dlg.missing.isVisible() and not dlg.error.isVisible()
    assert "Florence-2 base is not on this computer" in text and "offline" in text
    for jargon in ("HF_HUB_OFFLINE", "Hugging Face", "snapshot", "repo"):
        assert jargon not in text
    assert dlg.missing.choose_btn.isVisible() and dlg.missing.open_btn.isVisible()
    qtbot.wait(50)
    dlg.grab().save(str(screenshot_dir / "captions_autocaption_offline.png"))
    dlg.close()


def test_no_trigger_blocks_the_run(qtbot, window, captions):  # noqa: F811
    from curation.dataset_settings import DatasetSettings

    captions.controller.set_settings(DatasetSettings(trigger=""))
    dlg = captions.open_autocaption()
    assert "No trigger set" in dlg.trigger_note.text()
    assert not dlg.start()
    assert "trigger" in dlg.error.text()
    dlg.close()


@pytest.mark.slow
def test_cancel_stops_the_run(qtbot, window, captions, tiny_florence):  # noqa: F811
    dlg = _dialog(captions, tiny_florence)
    dlg.batch.setValue(1)
    assert dlg.start()
    dlg.cancel()
    assert "Cancelling" in dlg.status.text()
    qtbot.waitUntil(lambda: not dlg.running, timeout=60_000)
    assert "cancelled" in dlg.status.text()
    assert len(dlg.suggestions) < 6
    dlg.close()


# -- review screen (no model needed) -----------------------------------------------------------
def _suggestions(window, rels):  # noqa: F811
    from curation.captioners.autocaption import Suggestion
    from curation.captioners.review import ReviewItem
    from curation.captions import clean_caption

    raw = (
        "The image shows a young woman with long dark hair and brown eyes. She is wearing "
        "a white shirt and gold earrings, standing in front of a brick wall."
    )
    ws = window.session.workspace
    out = []
    for rel in rels:
        c = clean_caption(raw, "l3yla")
        out.append(
            ReviewItem(
                Suggestion(
                    rel,
                    raw,
                    c.text,
                    None,
                    [{"phrase": r.phrase, "reason": r.reason} for r in c.removed],
                ),
                ws.item(rel).path,
            )
        )
    return out


def test_review_accept_edit_skip_undo(qtbot, window, captions, screenshot_dir):  # noqa: F811
    from desktop.panels.captions.review_screen import ReviewScreen

    ws = window.session.workspace
    sugs = _suggestions(window, ["img_00.jpg", "img_01.jpg", "img_02.jpg", "img_03.jpg"])
    assert "brown eyes" not in sugs[0].cleaned and sugs[0].removed
    review = ReviewScreen(window.session, sugs, window, lint_fn=captions.controller.lint_caption)
    qtbot.addWidget(review)
    review.show()
    qtbot.waitExposed(review)
    assert review.list.currentRow() == 0
    assert "line-through" in review.raw.toHtml()  # removed phrases are struck
    assert "brown eyes" in review.legend.text()
    assert "No lint problems" in review.lint_line.text()  # the cleaned line passes the lint
    review.edit.setPlainText(sugs[0].cleaned + ", blue eyes")
    qtbot.waitUntil(lambda: "describes identity" in review.lint_line.text(), timeout=3000)
    review.reset_edit()
    assert review.edit.toPlainText() == sugs[0].cleaned
    qtbot.waitUntil(
        review.image.has_image,
        timeout=10_000,
    )
    review.grab().save(str(screenshot_dir / "captions_review_screen.png"))

    # accept the first (one step), as proposed
    steps = len(ws.steps())
    old0 = ws.caption("img_00.jpg")
    qtbot.keyClick(review.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert ws.caption("img_00.jpg") == sugs[0].cleaned
    assert len(ws.steps()) == steps + 1
    assert sugs[0].status == "accepted"
    assert review.list.currentRow() == 1  # moved on to the next pending one

    # edit the second before accepting
    review.edit.setPlainText(sugs[1].cleaned + ", smiling")
    review.accept_current()
    assert ws.caption("img_01.jpg").endswith(", smiling")
    assert len(ws.steps()) == steps + 2

    # skip the third
    qtbot.keyClick(review.edit, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
    assert sugs[2].status == "skipped"
    assert not ws.has_caption("img_02.jpg")

    # Ctrl+Z undoes the last acceptance and puts it back in the queue
    review.undo()
    assert ws.caption("img_01.jpg") == captions_text("img_01")
    assert sugs[1].status == "pending"
    review.undo()
    assert ws.caption("img_00.jpg") == old0
    assert sugs[0].status == "pending"
    assert "3 pending" in review.summary.text() and "1 skipped" in review.summary.text()

    # accept all pending: ONE undo step for the three
    review.accept_all()
    assert ws.undo_label() == "accept 3 autocaptions"
    assert {s.status for s in sugs} == {"accepted", "skipped"}
    assert ws.caption("img_03.jpg") == sugs[3].cleaned
    assert ws.caption("img_01.jpg").endswith(", smiling")  # the edit was kept
    assert not review.all_btn.isEnabled()
    window.session.undo()  # one undo takes back all three
    assert {s.status for s in sugs} == {"pending", "skipped"}
    assert ws.caption("img_00.jpg") == old0 and ws.caption("img_03.jpg") == CAPTIONS["img_03"]
    review.close()


def captions_text(stem: str) -> str:
    return CAPTIONS[stem]


def test_stored_suggestions_are_offered_after_reopening(qtbot, window, captions):  # noqa: F811
    from curation.captioners.autocaption import SUGGEST_NS, Suggestion
    from desktop.panels.captions import install

    ws = window.session.workspace
    raw = "The image shows a woman with green eyes wearing a blue scarf."
    stored = Suggestion(
        "img_02.jpg",
        raw,
        "a photo of l3yla, wearing a blue scarf",
        None,
        [{"phrase": "green eyes", "reason": "eye colour is identity"}],
    )
    ws.cache_put(SUGGEST_NS, "img_02.jpg", stored.to_dict())
    window.close_folder()
    assert not captions.act_review.isEnabled()
    window.open_folder(str(captions.dataset), wait=True)
    assert install(window) is captions
    assert [s.rel for s in captions.suggestions] == ["img_02.jpg"]
    assert captions.act_review.isEnabled()
    assert captions.act_review.text() == "&Review suggestions (1 pending)…"
    assert "waiting for review" in window.banner.text.text()
    # the user is typing in the main editor on that image when the review accepts it
    ed = window.browser.editor
    ed.set_autosave_delay(60_000)
    assert window.browser.grid.select_rel("img_02.jpg")
    qtbot.keyClicks(ed.edit, "draft")
    review = captions.open_review()
    assert review.suggestions[0].removed == [("green eyes", "eye colour is identity")]
    review.accept_current()
    assert (captions.dataset / "img_02.txt").read_text("utf-8") == stored.cleaned
    assert ed.text() == stored.cleaned and not ed.is_dirty()
    assert captions.act_review.text() == "&Review suggestions…"
    window.session.undo()  # the typing was saved first, as its own step
    assert (captions.dataset / "img_02.txt").read_text("utf-8") == "draft"
    window.session.redo()
    assert window.session.workspace.cache_get(SUGGEST_NS, "img_02.jpg") is None
    review.close()
