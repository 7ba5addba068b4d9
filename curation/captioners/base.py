"""The captioner protocol: what the autocaption flow and the GUI need from any backend."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from curation.errors import LikenessError
from curation.jobs import CancelToken, ItemResult, ProgressFn

#: caption tasks every backend understands (Florence-2 task tokens)
TASKS = ("<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>")
#: the object-detection pass that feeds the ``untagged-recurring`` lint rule
OD_TASK = "<OD>"


class CaptionerError(LikenessError, RuntimeError):
    """A captioner could not load or run; the message says what to do."""


class ModelNotAvailableError(CaptionerError):
    """The model is neither on disk nor downloadable right now."""


@dataclass
class CaptionOutput:
    """One image's raw captioner output (before identity stripping)."""

    text: str
    task: str
    objects: list[str] = field(default_factory=list)
    boxes: list[list[float]] = field(default_factory=list)
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "task": self.task,
            "objects": list(self.objects),
            "boxes": [list(b) for b in self.boxes],
            "model": self.model,
        }


@runtime_checkable
class Captioner(Protocol):
    """A loaded-on-demand image captioner. Implementations own their model."""

    name: str

    @property
    def loaded(self) -> bool: ...

    def load(
        self, on_progress: ProgressFn | None = None, cancel: CancelToken | None = None
    ) -> None:
        """Load (downloading first if needed); raises :class:`CaptionerError`."""

    def caption(
        self,
        images: Sequence[Path],
        task: str = "<MORE_DETAILED_CAPTION>",
        *,
        detect_objects: bool = False,
        batch_size: int = 8,
        on_progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
    ) -> list[ItemResult]:
        """One :class:`ItemResult` per image (value: :class:`CaptionOutput`, or an error)."""
        ...

    def unload(self) -> None:
        """Free the model's memory (CPU and GPU)."""
