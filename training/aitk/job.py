"""The walk over an ai-toolkit job: ``Node`` records which keys were read, ``Importer`` collects
the Likeness settings, their origins and the ``ImportReport``.

Every key of the job is either read by the mapping (``mapping``, ``mapping_train``) or, when
the walk ends, reported with its path and reason (``Node.finish``); inert values (``INERT``)
are the only keys skipped without a line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.aitk.tables import ANY, INERT, REASONS, UNKNOWN_REASON


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


class Node:
    """A mapping from the job; records which keys were read so the rest can be reported."""

    def __init__(self, data: dict[str, Any], path: str, kind: str, imp: Importer):
        self.data, self.path, self.kind, self.imp = data, path, kind, imp
        self.used: set[str] = set()
        imp.nodes.append(self)

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return self.data.get(key, default)

    def child(self, key: str, kind: str) -> Node | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.imp.problem(self.key_path(key), f"must be a mapping, got {value!r}")
            return None
        return Node(value, self.key_path(key), kind, self.imp)

    def finish(self) -> None:
        inert = INERT.get(self.kind, {})
        for key, value in self.data.items():
            if key in self.used:
                continue
            allowed = inert.get(key)
            if allowed is ANY or (isinstance(allowed, tuple) and value in allowed):
                continue
            reason = REASONS.get(key, UNKNOWN_REASON)
            self.imp.report.unmapped.append(ReportItem(self.key_path(key), value, reason))


class Importer:
    """State of one import: the Likeness settings built so far and what to report."""

    def __init__(self, source: str, base_dir: Path | None):
        self.report = ImportReport(source)
        self.base_dir = base_dir
        self.nodes: list[Node] = []
        self.problems: list[tuple[str, str]] = []
        self.origin: dict[str, str] = {}  # Likeness path -> ai-toolkit path
        self.legacy_accumulation = 0  # N of a legacy gradient_accumulation_steps (0: none)
        self.out: dict[str, Any] = {
            "model": {}, "network": {}, "save": {}, "train": {}, "sample": {}, "datasets": [],
        }  # fmt: skip

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def approx(self, path: str, value: Any, reason: str) -> None:
        """Likeness cannot do what ai-toolkit does with this value: the run differs."""
        self.report.approximated.append(ReportItem(path, value, reason))

    def as_aitk(self, path: str, value: Any, reason: str) -> None:
        """ai-toolkit gives this value another meaning than its name; the run follows it."""
        self.report.as_aitk.append(ReportItem(path, value, reason))

    def put(self, node: Node, key: str, target: str, convert: Any = None) -> None:
        """Copy ``node[key]`` (when present) to the dotted Likeness path ``target``."""
        if not node.has(key):
            node.get(key)
            return
        value = node.get(key)
        if convert is not None:
            value = convert(value)
        self.set(target, value, node.key_path(key))

    def set(self, target: str, value: Any, origin: str | None = None) -> None:
        set_path(self.out, target, value)
        if origin:
            self.origin[target] = origin

    def value(self, target: str, default: Any = None) -> Any:
        """A Likeness setting set so far (dotted path without list indices), or ``default``."""
        cur: Any = self.out
        for part in target.split("."):
            if not isinstance(cur, dict) or part not in cur:
                return default
            cur = cur[part]
        return cur

    def path_value(self, value: Any) -> Any:
        if not isinstance(value, str) or self.base_dir is None:
            return value
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (self.base_dir / p).resolve())


def walk(value: Any, prefix: str = "") -> list[str]:
    """Every path in a job, in document order (for a report that reads top to bottom)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += walk(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += walk(item, f"{prefix}[{i}]")
    return out


def set_path(data: dict[str, Any], target: str, value: Any) -> None:
    """Set ``data`` at a dotted path with list indices (``datasets[0].folder``)."""
    parts = [a or int(b) for a, b in re.findall(r"([A-Za-z_]\w*)|\[(\d+)\]", target)]
    cur: Any = data
    for part, nxt in zip(parts, parts[1:], strict=False):
        if isinstance(part, int):
            while len(cur) <= part:
                cur.append({})
            cur = cur[part]
        else:
            if part not in cur or not isinstance(cur[part], (dict, list)):
                cur[part] = [] if isinstance(nxt, int) else {}
            cur = cur[part]
    last = parts[-1]
    if isinstance(last, int):
        while len(cur) <= last:
            cur.append(None)
    cur[last] = value
