"""The autocaption run as the app drives it, and the review of its suggestions. No Qt.

:func:`run_for_review` loads the captioner (reporting the download), captions the chosen
images, cleans every output and unloads the model again; nothing is written (the raw
outputs are kept in the workspace history). Each result becomes a :class:`ReviewItem`: the
core ``Suggestion`` plus the review state (pending / accepted / skipped, the user's edit).
:func:`accepted_suggestions` turns reviewed items back into core suggestions carrying the
edits, for the one caption writer (the GUI session, or ``autocaption.accept``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from curation.captioners import autocaption as flow
from curation.captioners.base import Captioner, CaptionerError
from curation.dataset_settings import DatasetSettings
from curation.jobs import Cancelled, CancelToken, ProgressFn

if TYPE_CHECKING:
    from curation.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class AutocaptionRequest:
    """What the user asked for: ``model`` base / large / a local folder; ``mode`` fill /
    replace / suggest; ``shots``: rel -> shot tier from the face analysis (caption prefix)."""

    rels: list[str]
    settings: DatasetSettings
    model: str = "base"
    task: str = "<MORE_DETAILED_CAPTION>"
    mode: str = "suggest"
    device: str = "auto"
    batch_size: int = 4
    detect_objects: bool = False
    shots: dict[str, str] = field(default_factory=dict)


@dataclass
class ReviewItem:
    """One autocaption result awaiting review."""

    suggestion: flow.Suggestion
    path: Path
    status: str = "pending"  # pending / accepted / skipped
    edited: str | None = None  # the user's edit of ``cleaned`` before accepting
    accepted_text: str = ""

    @property
    def rel(self) -> str:
        return self.suggestion.rel

    @property
    def raw(self) -> str:
        return self.suggestion.raw

    @property
    def cleaned(self) -> str:
        return self.suggestion.cleaned

    @property
    def error(self) -> str:
        return self.suggestion.error or ""

    @property
    def removed(self) -> list[tuple[str, str]]:
        """(phrase, reason) of every fragment the stripper removed."""
        return [(r["phrase"], r["reason"]) for r in self.suggestion.removed]

    @property
    def proposal(self) -> str:
        return self.cleaned if self.edited is None else self.edited


def review_item(workspace: Workspace, suggestion: flow.Suggestion) -> ReviewItem:
    return ReviewItem(suggestion, workspace.item(suggestion.rel).path)


def pending_review(workspace: Workspace) -> list[ReviewItem]:
    """The suggestions a "suggest" run stored in the workspace, still to review."""
    return [review_item(workspace, s) for s in flow.pending_suggestions(workspace)]


def accepted_suggestions(items: Iterable[ReviewItem]) -> list[flow.Suggestion]:
    """The core suggestions of reviewed ``items`` with the user's edits as their text."""
    return [replace(i.suggestion, cleaned=i.proposal.strip(), error=None) for i in items]


def make_captioner(request: AutocaptionRequest) -> Captioner:
    from curation.captioners.florence2 import Florence2Captioner

    return Florence2Captioner(request.model, device=request.device)


def run_for_review(
    workspace: Workspace,
    request: AutocaptionRequest,
    *,
    on_progress: ProgressFn,
    cancel: CancelToken,
    captioner: Captioner | None = None,
    factory: Callable[[AutocaptionRequest], Captioner] = make_captioner,
) -> list[ReviewItem]:
    """Load the captioner, caption ``request.rels``, clean every output, unload (when this
    call loaded it); nothing is written. Raises ``autocaption.AutocaptionError`` (a
    ``LikenessError``) with a message to show when the model cannot load; runs off the GUI
    thread. A cancelled load returns []."""
    total = len(request.rels)
    own = captioner is None
    captioner = captioner or factory(request)

    def loading(done: int, size: int, message: str) -> None:
        if message.startswith("downloading") and size:
            message = f"{message}: {done / 1e6:.0f} / {size / 1e6:.0f} MB"
        on_progress(0, total, message)

    try:
        try:
            captioner.load(on_progress=loading, cancel=cancel)
        except Cancelled:
            return []
        except CaptionerError as exc:
            raise flow.AutocaptionError(str(exc)) from exc
        except ImportError as exc:
            raise flow.AutocaptionError(f"Florence-2 needs torch and transformers: {exc}") from exc
        try:
            result = flow.run_autocaption(
                workspace,
                captioner,
                trigger=request.settings.trigger,
                identity_line=request.settings.identity_line or None,
                mode=request.mode,
                task=request.task,
                selection=request.rels,
                shots=request.shots,
                detect_objects=request.detect_objects,
                batch_size=request.batch_size,
                write=False,
                on_progress=on_progress,
                cancel=cancel,
            )
        except CaptionerError as exc:
            raise flow.AutocaptionError(str(exc)) from exc
    finally:
        if own:
            captioner.unload()
    return [review_item(workspace, s) for s in result.suggestions if s.error != "cancelled"]
