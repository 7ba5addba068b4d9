"""Bulk caption planners (preview) and their application as one undo step."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from curation.bulk import (
    BulkChange,
    BulkEditError,
    diff_segments,
    format_diff,
    plan_append,
    plan_dedupe_phrases,
    plan_prepend,
    plan_rename_trigger,
    plan_replace,
)
from curation.workspace import Workspace
from tests.corpus import make_dataset

CAPS = {
    "a.png": "photo of l3yla, Red scarf, red scarf, smiling",
    "b.png": "l3yla standing, l3ylas friend, xl3yla",
    "c.png": "",
    "d.png": "close-up of L3YLA, red hat",
}


def new_texts(changes: list[BulkChange]) -> dict[str, str]:
    return {c.rel: c.new for c in changes}


def test_plain_replace_is_literal_and_case_sensitive() -> None:
    changes = plan_replace(CAPS, "red", "blue")
    assert new_texts(changes) == {
        "a.png": "photo of l3yla, Red scarf, blue scarf, smiling",
        "d.png": "close-up of L3YLA, blue hat",
    }
    assert all(c.old == CAPS[c.rel] for c in changes)
    # special characters are literal in both the search and the replacement
    assert new_texts(plan_replace({"x": "a.b (c) a+b"}, "a.b", r"\1$&")) == {"x": r"\1$& (c) a+b"}


def test_ignore_case_and_whole_word() -> None:
    assert set(new_texts(plan_replace(CAPS, "RED", "blue", case_sensitive=False))) == {
        "a.png",
        "d.png",
    }
    changes = plan_replace(CAPS, "l3yla", "ohwx", whole_word=True)
    assert new_texts(changes) == {
        "a.png": "photo of ohwx, Red scarf, red scarf, smiling",
        "b.png": "ohwx standing, l3ylas friend, xl3yla",
    }
    changes = plan_replace(CAPS, "l3yla", "ohwx", whole_word=True, case_sensitive=False)
    assert new_texts(changes)["d.png"] == "close-up of ohwx, red hat"


def test_regex_with_groups() -> None:
    changes = plan_replace(CAPS, r"(\w+) scarf", r"\1 shawl", regex=True)
    assert new_texts(changes) == {"a.png": "photo of l3yla, Red shawl, red shawl, smiling"}
    changes = plan_replace(CAPS, r"^photo of ", "", regex=True)
    assert new_texts(changes) == {"a.png": "l3yla, Red scarf, red scarf, smiling"}


@pytest.mark.parametrize(
    ("find", "replace", "message"),
    [
        ("red(", "x", "invalid regular expression 'red(': missing ), unterminated subpattern"),
        ("[a-", "x", "invalid regular expression '[a-'"),
        ("(red)", r"\2", "invalid replacement"),
        ("", "x", "the text to find is empty"),
    ],
)
def test_invalid_regex_is_a_clear_error(find: str, replace: str, message: str) -> None:
    with pytest.raises(BulkEditError, match=re.escape(message)):
        plan_replace(CAPS, find, replace, regex=True)


def test_selection_only() -> None:
    changes = plan_replace(CAPS, "red", "blue", rels=["d.png", "missing.png"])
    assert [c.rel for c in changes] == ["d.png"]


def test_prepend_and_append() -> None:
    pre = new_texts(plan_prepend(CAPS, "l3yla"))
    assert pre["d.png"] == "l3yla, close-up of L3YLA, red hat"
    assert pre["c.png"] == "l3yla"  # empty caption: no dangling separator
    assert "b.png" not in pre  # already starts with it
    forced = plan_prepend(CAPS, "l3yla", skip_if_present=False, rels=["b.png"])
    assert forced[0].new.startswith("l3yla, l3yla standing")
    app = new_texts(plan_append(CAPS, "  film grain ", separator=" | "))
    assert app["a.png"] == "photo of l3yla, Red scarf, red scarf, smiling | film grain"
    with pytest.raises(BulkEditError):
        plan_prepend(CAPS, "  ")


def test_rename_trigger_whole_word() -> None:
    changes = new_texts(plan_rename_trigger(CAPS, "l3yla", "zoe_v2"))
    assert changes == {
        "a.png": "photo of zoe_v2, Red scarf, red scarf, smiling",
        "b.png": "zoe_v2 standing, l3ylas friend, xl3yla",
    }
    with pytest.raises(BulkEditError, match="contains a space"):
        plan_rename_trigger(CAPS, "l3yla", "two words")
    with pytest.raises(BulkEditError):
        plan_rename_trigger(CAPS, "", "x")


def test_dedupe_phrases() -> None:
    caps = {
        "a": "photo of l3yla, Red scarf, red scarf, smiling",
        "b": "a,  b ,, a , c",
        "c": "no  duplicates,here",  # untouched: spacing is not reformatted
        "d": "one phrase",
    }
    changes = new_texts(plan_dedupe_phrases(caps))
    assert changes == {"a": "photo of l3yla, Red scarf, smiling", "b": "a, b, c"}
    strict = new_texts(plan_dedupe_phrases(caps, case_sensitive=True))
    assert "a" not in strict  # "Red scarf" and "red scarf" differ when case matters


def test_diff_preview() -> None:
    old, new = "photo of l3yla, red scarf", "photo of ohwx, red scarf, smiling"
    segs = diff_segments(old, new)
    assert "".join(t for op, t in segs if op != "+") == old
    assert "".join(t for op, t in segs if op != "-") == new
    assert ("-", "l3yla") in segs and ("+", "ohwx") in segs
    assert format_diff(old, new) == "photo of [-l3yla-]{+ohwx+}, red scarf{+, smiling+}"


def test_apply_is_one_undo_step_and_skips_stale_preview(tmp_path: Path) -> None:
    make_dataset(tmp_path, 20, caption="photo of l3yla, red scarf")
    ws = Workspace.open(tmp_path)
    before = ws.captions()
    changes = plan_rename_trigger(ws.captions(), "l3yla", "ohwx")
    assert len(changes) == 20
    ws.set_caption("img00003.png", "edited after the preview")  # makes one change stale
    result = ws.apply_changes(changes, label="rename trigger")
    assert len(result.written) == 19
    assert [s.path for s in result.skipped] == ["img00003.png"]
    assert (tmp_path / "img00003.txt").read_text() == "edited after the preview"
    assert (tmp_path / "img00000.txt").read_text() == "photo of ohwx, red scarf 0"
    assert ws.undo_label() == "rename trigger"
    ws.undo()  # one step reverts all 19
    after = ws.captions()
    assert {r: t for r, t in after.items() if r != "img00003.png"} == {
        r: t for r, t in before.items() if r != "img00003.png"
    }
    assert after["img00003.png"] == "edited after the preview"
    ws.close()


def test_prepend_append_keep_a_trailing_newline() -> None:
    caps = {"a": "smiling, red scarf\n", "b": "\n", "c": ""}
    assert new_texts(plan_append(caps, "film grain")) == {
        "a": "smiling, red scarf, film grain\n",
        "b": "film grain\n",
        "c": "film grain",
    }
    assert new_texts(plan_prepend(caps, "l3yla")) == {
        "a": "l3yla, smiling, red scarf\n",
        "b": "l3yla\n",
        "c": "l3yla",
    }
