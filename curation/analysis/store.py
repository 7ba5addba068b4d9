"""``AnalysisStore``: the latest face analysis of the open dataset, shared by every part of
the app that reads it (balance dashboard, face filters, caption lint facts, autocaption shot
prefixes). No Qt: the GUI session owns one, the faces controller writes it, the others read
it and subscribe to its changes instead of probing each other.

Per-image results arrive while a run goes on (``add_image``); the complete
``DatasetAnalysis`` (and its balance report) replaces them at the end (``set_complete``).
Listeners are called on the thread that made the change (the GUI thread in the app), with
the kind of change: ``"image"``, ``"complete"`` or ``"cleared"``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy-free at import: the GUI session creates one at start-up
    from curation.analysis.classify import ImageAnalysis
    from curation.analysis.runner import DatasetAnalysis

log = logging.getLogger(__name__)

Listener = Callable[[str], None]


class AnalysisStore:
    def __init__(self) -> None:
        self._images: dict[str, ImageAnalysis] = {}
        self.analysis: DatasetAnalysis | None = None
        self.report: dict[str, Any] | None = None
        self._listeners: list[Listener] = []

    # -- reading -------------------------------------------------------------------------
    @property
    def images(self) -> dict[str, ImageAnalysis]:
        """rel -> the latest ``ImageAnalysis`` (partial while a run goes on)."""
        return self._images

    @property
    def complete(self) -> bool:
        """True once a run finished: :attr:`images` is then the whole dataset's analysis."""
        return self.analysis is not None

    def tiers(self, rels: list[str]) -> dict[str, str]:
        """Shot tier per image among ``rels`` (those the analysis classified)."""
        out = {}
        for rel in rels:
            tier = getattr(self._images.get(rel), "tier", None)
            if tier:
                out[rel] = tier
        return out

    # -- writing (the faces controller) ----------------------------------------------------
    def start(self) -> None:
        """A new run starts: the old per-image results and the complete analysis go."""
        self._images = {}
        self.analysis = None
        self.report = None
        self._emit("cleared")

    def add_image(self, rel: str, image: ImageAnalysis) -> None:
        self._images[rel] = image
        self._emit("image")

    def set_complete(self, analysis: DatasetAnalysis, report: dict[str, Any] | None) -> None:
        self.analysis, self.report = analysis, report
        self._images = analysis.by_rel()
        self._emit("complete")

    def clear(self) -> None:
        """Forget everything (the dataset was closed)."""
        self.start()

    # -- listeners -------------------------------------------------------------------------
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(kind)`` after each change; returns the function that unsubscribes."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def _emit(self, kind: str) -> None:
        for listener in list(self._listeners):
            try:
                listener(kind)
            except Exception:  # noqa: BLE001 - one broken listener must not stop the others
                log.exception("analysis listener failed on %s", kind)
