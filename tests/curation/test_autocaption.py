"""Autocaption flow: modes, suggestions, accept as one undo step, raw outputs kept, lint feed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from curation.captioners.autocaption import (
    RAW_NS,
    AutocaptionError,
    accept,
    detected_objects,
    discard_suggestions,
    pending_suggestions,
    raw_history,
    run_autocaption,
)
from curation.captioners.base import Captioner, CaptionOutput
from curation.captions.facts import facts_from_analysis, facts_from_workspace
from curation.captions.lint import LintConfig, lint_dataset
from curation.jobs import ItemResult
from curation.workspace import Workspace

RAW = (
    "The image shows a young woman with long dark hair and brown eyes. She is wearing a "
    "white shirt and gold earrings. She is standing in front of a white wall."
)
CLEAN = "a photo of l3yla, standing, wearing a white shirt, gold earrings, in front of a white wall"


class FakeCaptioner:
    """A Captioner that answers RAW (with <OD> objects), or fails for chosen file names."""

    name = "fake"

    def __init__(self, fail: Sequence[str] = ()):
        self.fail = set(fail)
        self.calls: list[list[str]] = []
        self._loaded = False

    @property
    def loaded(self) -> bool:
        return self._loaded

    def load(self, on_progress=None, cancel=None) -> None:
        self._loaded = True

    def unload(self) -> None:
        self._loaded = False

    def caption(self, images, task="<MORE_DETAILED_CAPTION>", *, detect_objects=False,
                batch_size=8, on_progress=None, cancel=None):  # fmt: skip
        self.calls.append([Path(p).name for p in images])
        out = []
        for p in images:
            if Path(p).name in self.fail:
                out.append(ItemResult(str(p), error="cannot read: truncated PNG"))
            else:
                objects = ["earring", "person"] if detect_objects else []
                out.append(ItemResult(str(p), CaptionOutput(RAW, task, objects, model="fake")))
        return out


@pytest.fixture
def ws(tmp_path):
    for i in range(4):
        Image.new("RGB", (64, 80), (i * 50, 90, 90)).save(tmp_path / f"img{i}.png")
    (tmp_path / "img1.txt").write_text("l3yla, my own caption", encoding="utf-8")
    (tmp_path / "img2.txt").write_text("   ", encoding="utf-8")
    workspace = Workspace.open(tmp_path)
    yield workspace
    workspace.close()


def test_fake_is_a_captioner():
    assert isinstance(FakeCaptioner(), Captioner)


def test_fill_writes_only_empty_or_missing_captions_as_one_undo_step(ws):
    cap = FakeCaptioner()
    result = run_autocaption(ws, cap, trigger="l3yla", mode="fill", write=True)
    assert cap.calls == [["img0.png", "img2.png", "img3.png"]]
    assert result.skipped == ["img1.png"]
    assert sorted(result.written) == ["img0.png", "img2.png", "img3.png"]
    assert ws.caption("img0.png") == CLEAN
    assert ws.caption("img1.png") == "l3yla, my own caption"
    assert (ws.root / "img3.txt").read_text(encoding="utf-8") == CLEAN
    assert [h.origin for h in ws.history("img0.png")][-1] == "auto"
    ws.undo()
    assert not ws.has_caption("img0.png") and ws.caption("img1.png") == "l3yla, my own caption"
    assert ws.caption("img2.png").strip() == ""


def test_replace_overwrites_when_asked(ws):
    result = run_autocaption(ws, FakeCaptioner(), trigger="l3yla", mode="replace", write=True)
    assert len(result.written) == 4 and ws.caption("img1.png") == CLEAN
    (sug,) = [s for s in result.suggestions if s.rel == "img1.png"]
    assert sug.current == "l3yla, my own caption" and sug.raw == RAW and sug.cleaned == CLEAN
    assert {"phrase": "brown eyes", "reason": "eye colour is identity: the trigger token must "
            "learn it"} in sug.removed  # fmt: skip


def test_suggest_never_writes_and_stores_for_review(ws):
    result = run_autocaption(
        ws, FakeCaptioner(), trigger="l3yla", mode="suggest", selection=["img0.png", "img1.png"]
    )
    assert result.written == [] and not ws.has_caption("img0.png")
    assert ws.caption("img1.png") == "l3yla, my own caption"
    pending = pending_suggestions(ws)
    assert [(s.rel, s.current) for s in pending] == [
        ("img0.png", None),
        ("img1.png", "l3yla, my own caption"),
    ]
    # the user edits one suggestion and accepts it alone: one undo step for one image
    pending[1].cleaned = "a photo of l3yla, standing, wearing a white shirt"
    save = accept(ws, [pending[1]])
    assert save.written == ["img1.png"] and save.label == "autocaption img1.png"
    assert ws.caption("img1.png") == "a photo of l3yla, standing, wearing a white shirt"
    assert [s.rel for s in pending_suggestions(ws)] == ["img0.png"]
    discard_suggestions(ws, ["img0.png"])
    assert pending_suggestions(ws) == []
    ws.undo()
    assert ws.caption("img1.png") == "l3yla, my own caption"


def test_accept_in_fill_mode_leaves_captions_written_meanwhile(ws):
    result = run_autocaption(ws, FakeCaptioner(), trigger="l3yla", mode="fill")
    ws.set_caption("img0.png", "l3yla, typed while reviewing")
    save = accept(ws, result.suggestions, mode="fill")
    assert "img0.png" not in save.written
    assert ws.caption("img0.png") == "l3yla, typed while reviewing"


def test_per_image_errors_do_not_stop_the_batch(ws):
    cap = FakeCaptioner(fail=["img3.png"])
    result = run_autocaption(ws, cap, trigger="l3yla", mode="fill", write=True)
    (err,) = result.errors
    assert err.rel == "img3.png" and "truncated" in err.error
    assert sorted(result.written) == ["img0.png", "img2.png"]


def test_raw_outputs_are_kept_and_feed_the_lint(ws):
    run_autocaption(ws, FakeCaptioner(), trigger="l3yla", mode="suggest", detect_objects=True)
    history = raw_history(ws, "img0.png")
    assert history[-1]["text"] == RAW and history[-1]["objects"] == ["earring", "person"]
    assert history[-1]["accepted"] is False
    accept(ws, pending_suggestions(ws)[:1])
    assert raw_history(ws, "img0.png")[-1]["accepted"] is True
    assert ws.cache_get(RAW_NS, "img0.png")[-1]["cleaned"] == CLEAN
    detected = detected_objects(ws)
    assert set(detected) == {"img0.png", "img1.png", "img2.png", "img3.png"}
    assert "earring" in detected["img1.png"] and "shirt" in detected["img1.png"]
    # captions that never mention the earrings the captioner saw everywhere
    for i in range(4):
        ws.set_caption(f"img{i}.png", f"a photo of l3yla, pose {i}, wearing a coat {i}")
    report = lint_dataset(ws.captions(), LintConfig(trigger="l3yla"), facts_from_workspace(ws))
    flagged = [d.phrase for d in report.dataset if d.rule == "untagged-recurring"]
    assert flagged == ["earrings", "shirt"]


def test_bad_options(ws):
    with pytest.raises(AutocaptionError, match="trigger"):
        run_autocaption(ws, FakeCaptioner(), trigger=" ")
    with pytest.raises(AutocaptionError, match="unknown mode"):
        run_autocaption(ws, FakeCaptioner(), trigger="l3yla", mode="overwrite")


def test_shots_from_face_analysis_set_the_prefix(ws):
    result = run_autocaption(
        ws, FakeCaptioner(), trigger="l3yla", mode="suggest", shots={"img0.png": "close-up"}
    )
    by_rel = {s.rel: s.cleaned for s in result.suggestions}
    assert by_rel["img0.png"].startswith("a close-up photo of l3yla, ")
    assert by_rel["img3.png"].startswith("a photo of l3yla, ")


def test_facts_from_analysis_duck_typed():
    class Img:
        def __init__(self, rel, tier, pose, overrides, candidate=False):
            self.rel, self.tier, self.pose, self.overrides = rel, tier, pose, overrides
            self.back_view_candidate = candidate

    class Analysis:
        images = [
            Img("a.png", "close-up", "profile", {}),
            Img("b.png", "full-body", None, {}, candidate=True),
            Img("c.png", "full-body", None, {"back_view": True}),
        ]

    facts = facts_from_analysis(Analysis(), {"a.png": ("earring",)})
    assert facts["a.png"].pose == "profile" and facts["a.png"].detected == ("earring",)
    assert facts["b.png"].back_view is False  # a candidate is not a confirmed back view
    assert facts["c.png"].back_view is True


def test_with_the_tiny_florence_model(ws):
    from curation.captioners.florence2 import Florence2Captioner
    from tests.curation.tiny_florence import tiny_florence_folder

    cap = Florence2Captioner(str(tiny_florence_folder()), device="cpu", num_beams=1)
    cap.max_new_tokens = 60
    result = run_autocaption(ws, cap, trigger="l3yla", mode="fill", write=True, batch_size=2)
    cap.unload()
    assert sorted(result.written) == ["img0.png", "img2.png", "img3.png"]
    assert ws.caption("img3.png") == CLEAN


def test_accept_nothing_makes_no_undo_step(ws):
    steps = len(ws.steps())
    save = accept(ws, [])
    assert save.written == [] and len(ws.steps()) == steps
