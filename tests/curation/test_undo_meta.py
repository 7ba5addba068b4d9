"""Exclusions, overrides and keep/reject decisions are undo steps like caption edits, and
the workspace says what the next undo touches and whether this session made it."""

from __future__ import annotations

from pathlib import Path

import pytest

from curation.workspace import Workspace
from tests.corpus import make_dataset

R0, R1, R2 = "img00000.png", "img00001.png", "img00002.png"


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    make_dataset(tmp_path / "data", 3, caption="photo of l3yla")
    return tmp_path / "data"


def test_exclusion_and_overrides_undo_in_order_with_caption_edits(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        ws.set_caption(R0, "edited")
        res = ws.set_excluded_many([R1, R2])
        assert res.label == "exclude 2 images" and res.meta == [R1, R2]
        assert ws.set_excluded_many([R1, R2]) is None  # nothing changed: no step
        ws.set_override_many([R0, R1], "tier", "close-up")
        ws.set_override(R0, "tier", "medium")
        assert [s.kind for s in ws.steps()] == ["captions", "meta", "meta", "meta"]
        assert ws.next_step().label == "set tier of img00000.png to medium"
        assert ws.step_rels(ws.next_step().id) == [R0]

        assert ws.undo().meta == [R0] and ws.overrides(R0) == {"tier": "close-up"}
        res = ws.undo()
        assert res.label == "set tier of 2 images to close-up"
        assert ws.overrides(R0) == {} and ws.overrides(R1) == {}
        assert ws.undo().meta == [R1, R2] and ws.excluded() == set()
        ws.redo()
        assert ws.excluded() == {R1, R2}
        ws.undo()
        undo = ws.undo()  # now the caption edit, last
        assert undo.written == [R0] and (ds / "img00000.txt").read_text() == "photo of l3yla 0"
        assert not ws.can_undo


def test_meta_steps_persist_and_are_not_own_after_reopen(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        ws.set_excluded(R0)
        assert ws.is_own_step(ws.next_step().id)
    with Workspace.open(ds) as ws:
        assert ws.is_excluded(R0)
        step = ws.next_step()
        assert step.label == f"exclude {R0}" and not ws.is_own_step(step.id)
        ws.undo()
        assert not ws.is_excluded(R0) and ws.is_own_step(step.id)  # moved by us now
    with Workspace.open(ds) as ws:
        assert not ws.is_excluded(R0) and ws.can_redo


def test_undo_leaves_a_setting_it_does_not_see_alone(ds: Path) -> None:
    """A window opened before another one excluded an image: undoing that step from the
    stale window skips it (its view says the image is not excluded) instead of guessing."""
    with Workspace.open(ds) as stale, Workspace.open(ds) as other:
        other.set_excluded(R0)
        res = stale.undo()
        assert [s.path for s in res.skipped] == [R0] and res.meta == []
        assert "changed since" in res.skipped[0].error
    with Workspace.open(ds) as ws:
        assert ws.is_excluded(R0)


def test_a_new_step_drops_the_redo_branch_of_both_kinds(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        ws.set_excluded(R0)
        ws.set_caption(R1, "x")
        ws.undo()
        ws.undo()
        assert ws.can_redo
        ws.set_override(R2, "tier", "close-up")
        assert not ws.can_redo and [s.label for s in ws.steps()] == [
            "set tier of img00002.png to close-up"
        ]
        rows = ws.db.query("SELECT COUNT(*) FROM step_meta")
        assert rows[0][0] == 1
