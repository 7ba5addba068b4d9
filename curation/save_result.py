"""What a caption or settings step did, and the messages it reports (shared by the
workspace and its parts)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from curation.jobs import ItemResult

__all__ = [
    "CHANGED_SINCE_PREVIEW",
    "CHANGED_WHILE_SAVING",
    "CONFLICT_MESSAGE",
    "EDITED_ELSEWHERE",
    "HistoryEntry",
    "SaveResult",
]

CONFLICT_MESSAGE = (
    "the caption file was changed by another program since your unsaved edit; it is not "
    "overwritten automatically: save your edit again to replace it"
)
CHANGED_WHILE_SAVING = (
    "the caption file was changed by another program while saving; it was not overwritten "
    "(the new text is shown)"
)
CHANGED_SINCE_PREVIEW = "caption changed since the preview; not applied"
EDITED_ELSEWHERE = (
    "the caption file was changed by another program while you edited it; your text was "
    "not saved over it (save again to replace it)"
)


_SURROGATE = re.compile("[\ud800-\udfff]")


def storable_text(text: str) -> str:
    """Text that UTF-8 (file and db) can hold: lone surrogates (possible in strings from a
    GUI toolkit) become U+FFFD instead of crashing the save."""
    if not isinstance(text, str):
        raise TypeError(f"a caption must be a str, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


class WriteConflict(str):
    """A write refused because the file changed under us (reported as skipped)."""


@dataclass(frozen=True)
class HistoryEntry:
    time: float
    origin: str  # user, bulk, auto, undo, redo, external
    old: str | None  # None: no caption file
    new: str | None
    step_id: int | None


@dataclass
class SaveResult:
    """What a caption operation did: ``written`` reached the disk, ``pending`` are kept in the
    state db because the file could not be written (error text per item), ``skipped`` were
    not applied (changed since the preview, unknown image)."""

    step_id: int | None = None
    label: str = ""
    written: list[str] = field(default_factory=list)
    meta: list[str] = field(default_factory=list)  # images whose exclusion/overrides changed
    pending: list[ItemResult] = field(default_factory=list)
    skipped: list[ItemResult] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.written) + len(self.pending) + len(self.meta)
