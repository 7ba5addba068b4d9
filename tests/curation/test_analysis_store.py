"""The session's AnalysisStore: per-image results while a run goes on, the complete analysis
at the end, listeners told the kind of change, a failing listener does not stop the others."""

from __future__ import annotations

from types import SimpleNamespace

from curation.analysis.store import AnalysisStore


def test_images_then_complete_then_cleared() -> None:
    store, seen = AnalysisStore(), []
    unsubscribe = store.subscribe(seen.append)
    store.add_image("a.png", SimpleNamespace(rel="a.png", tier="close-up"))
    assert store.images["a.png"].tier == "close-up" and not store.complete
    done = SimpleNamespace(by_rel=lambda: {"b.png": SimpleNamespace(rel="b.png", tier="medium")})
    store.set_complete(done, {"verdict": "ok"})
    assert store.complete and store.report == {"verdict": "ok"}
    assert list(store.images) == ["b.png"]  # the complete run replaces the partial one
    assert store.tiers(["a.png", "b.png"]) == {"b.png": "medium"}
    store.clear()
    assert not store.complete and store.images == {} and store.report is None
    assert seen == ["image", "complete", "cleared"]
    unsubscribe()
    store.add_image("a.png", SimpleNamespace(rel="a.png", tier=None))
    assert seen == ["image", "complete", "cleared"]


def test_a_failing_listener_does_not_stop_the_others() -> None:
    store, seen = AnalysisStore(), []

    def broken(kind: str) -> None:
        raise RuntimeError("boom")

    store.subscribe(broken)
    store.subscribe(seen.append)
    store.start()
    assert seen == ["cleared"]
