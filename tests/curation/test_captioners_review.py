"""The autocaption run for review (load, caption, clean, unload; nothing written) and the
Qt-free review items, with a stand-in captioner (the Florence-2 path has its own tests)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from curation.captioners import CaptionerError
from curation.captioners.autocaption import AutocaptionError, Suggestion, accept
from curation.captioners.base import CaptionOutput
from curation.captioners.review import (
    AutocaptionRequest,
    accepted_suggestions,
    pending_review,
    run_for_review,
)
from curation.dataset_settings import DatasetSettings
from curation.errors import LikenessError
from curation.jobs import CancelToken, ItemResult
from curation.workspace import Workspace

RAW = "The image shows a young woman with brown eyes wearing a red coat in a park."


class Stub:
    name = "stub"
    model_id = "stub"

    def __init__(self, fail: Exception | None = None) -> None:
        self.fail, self.loaded, self.unloaded = fail, False, False

    def load(self, on_progress=None, cancel=None) -> None:
        if on_progress:
            on_progress(5_000_000, 10_000_000, "downloading model.safetensors")
        if self.fail:
            raise self.fail
        self.loaded = True

    def unload(self) -> None:
        self.unloaded = True

    def caption(self, paths, task, **_kw):
        return [ItemResult(str(p), CaptionOutput(RAW, task, model="stub")) for p in paths]


@pytest.fixture
def ws(tmp_path: Path):
    root = tmp_path / "ds"
    root.mkdir()
    for i in range(2):
        Image.new("RGB", (32, 32), (i * 50, 10, 10)).save(root / f"img{i}.png")
    with Workspace.open(root) as w:
        yield w


def _request(ws) -> AutocaptionRequest:
    return AutocaptionRequest([i.rel for i in ws.items], DatasetSettings("l3yla"))


def test_run_cleans_writes_nothing_and_unloads(ws) -> None:
    stub, progress = Stub(), []
    items = run_for_review(
        ws,
        _request(ws),
        on_progress=lambda d, t, m: progress.append(m),
        cancel=CancelToken(),
        factory=lambda _r: stub,
    )
    assert stub.unloaded and [i.rel for i in items] == ["img0.png", "img1.png"]
    assert "brown eyes" not in items[0].cleaned and "l3yla" in items[0].cleaned
    assert "brown eyes" in [phrase for phrase, _reason in items[0].removed]
    assert not any(ws.has_caption(i.rel) for i in items)
    assert any("5 / 10 MB" in m for m in progress)
    assert [i.rel for i in pending_review(ws)] == ["img0.png", "img1.png"]


def test_a_model_that_cannot_load_is_one_clear_error(ws) -> None:
    stub = Stub(CaptionerError("Florence-2 is not downloaded: run likeness models"))
    with pytest.raises(AutocaptionError, match="not downloaded") as info:
        run_for_review(
            ws, _request(ws), on_progress=lambda *a: None, cancel=CancelToken(),
            factory=lambda _r: stub,
        )  # fmt: skip
    assert isinstance(info.value, LikenessError) and stub.unloaded


def test_accepted_items_carry_the_users_edit(ws) -> None:
    items = run_for_review(
        ws, _request(ws), on_progress=lambda *a: None, cancel=CancelToken(),
        factory=lambda _r: Stub(),
    )  # fmt: skip
    items[0].edited = "  a photo of l3yla, wearing a blue coat  "
    chosen = accepted_suggestions(items[:1])
    assert isinstance(chosen[0], Suggestion)
    assert chosen[0].cleaned == "a photo of l3yla, wearing a blue coat"
    assert chosen[0].raw == RAW and items[0].suggestion.cleaned != chosen[0].cleaned
    result = accept(ws, chosen, mode="replace", label="accept")
    assert result.written == ["img0.png"]
    assert ws.caption("img0.png") == "a photo of l3yla, wearing a blue coat"
    assert [i.rel for i in pending_review(ws)] == ["img1.png"]
