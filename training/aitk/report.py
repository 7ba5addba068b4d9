"""What an ai-toolkit import could not carry over exactly, item by item, with the reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReportItem:
    path: str  # where it was in the ai-toolkit job, e.g. config.process[0].train.noise_offset
    value: Any
    reason: str

    def line(self) -> str:
        return f"{self.path} = {self.value!r}: {self.reason}"


@dataclass
class ImportReport:
    """What an import could not carry over.

    ``unmapped``: keys with no effect on the RunConfig. ``approximated``: values Likeness had to
    change to fit, so the run differs from ai-toolkit's (the reason says how and what to set).
    ``as_aitk``: values whose meaning in ai-toolkit differs from what the key says (Prodigy's lr
    below 0.1, ``linear_alpha`` for Z-Image, ...); the run follows ai-toolkit, and the reason
    says what to set for the other meaning. ``notes``: everything else worth knowing.
    """

    source: str
    unmapped: list[ReportItem] = field(default_factory=list)
    approximated: list[ReportItem] = field(default_factory=list)
    as_aitk: list[ReportItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unmapped_paths(self) -> list[str]:
        return [i.path for i in self.unmapped]

    @property
    def approximated_paths(self) -> list[str]:
        return [i.path for i in self.approximated]

    @property
    def as_aitk_paths(self) -> list[str]:
        return [i.path for i in self.as_aitk]

    @property
    def clean(self) -> bool:
        """True when the run trains exactly what ai-toolkit would (``as_aitk`` items included)."""
        return not (self.unmapped or self.approximated)

    def lines(self) -> list[str]:
        out = [f"not mapped  {i.line()}" for i in self.unmapped]
        out += [f"changed     {i.line()}" for i in self.approximated]
        out += [f"as aitk     {i.line()}" for i in self.as_aitk]
        out += [f"note        {n}" for n in self.notes]
        return out

    def summary(self) -> str:
        if self.clean and not self.as_aitk:
            return f"{self.source}: every setting carried over"
        n = len(self.unmapped)
        return (
            f"{self.source}: {n} setting{'s' if n != 1 else ''} not mapped, "
            f"{len(self.approximated)} changed to fit, {len(self.as_aitk)} read as ai-toolkit "
            "reads them"
        )
