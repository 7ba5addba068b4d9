"""What a caption or settings step did (shared by the workspace and its parts)."""

from __future__ import annotations

from dataclasses import dataclass, field

from curation.jobs import ItemResult

__all__ = ["SaveResult"]


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
