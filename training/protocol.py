"""The trainer's typed, versioned vocabulary: events it prints and commands it obeys.

One module for the trainer (``training.events`` writes these), the CLI (``likeness train``)
and the GUI's Train tab (``desktop.panels.train``). ``docs/trainer-protocol.md`` is the prose
version. Readers go through :func:`parse_event`, which turns one JSON line into a frozen
dataclass, ignores fields it does not know and returns :class:`UnknownEvent` for event names
it does not know (later protocol versions may add both).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

PROTOCOL_VERSION = 1

EVENTS_FILE = "events.jsonl"
CONTROL_FILE = "control"

COMMANDS = ("stop", "save", "sample")

WARNING_CODES = (
    "no_gpu",
    "image_skipped",
    "caption_missing",
    "resolution_upscaled",
    "command_unknown",
    "nf4_unavailable",
    "previous_run_moved",
    "other",
)

ERROR_CODES = {
    "config_invalid": 2,
    "run_exists": 2,
    "model_not_found": 3,
    "dataset_invalid": 4,
    "disk_full": 5,
    "save_failed": 5,
    "out_of_memory": 6,
    "resume_failed": 7,
    "run_locked": 8,
    "interrupted": 130,
    "internal": 1,
}


class ProtocolError(ValueError):
    """A line that is not one protocol event (not JSON, not an object, no ``event``)."""


@dataclass(frozen=True)
class Event:
    NAME: ClassVar[str] = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.NAME or str(self.raw.get("event", ""))


@dataclass(frozen=True)
class Started(Event):
    NAME: ClassVar[str] = "started"
    protocol: int = PROTOCOL_VERSION
    name_: str = ""
    run_dir: str = ""
    device: str = ""
    total_steps: int = 0
    start_step: int = 0
    resumed: bool = False


@dataclass(frozen=True)
class Status(Event):
    NAME: ClassVar[str] = "status"
    message: str = ""
    component: str | None = None
    device: str | None = None


@dataclass(frozen=True)
class CacheProgress(Event):
    NAME: ClassVar[str] = "cache_progress"
    stage: str = ""
    done: int = 0
    total: int = 0


@dataclass(frozen=True)
class Step(Event):
    NAME: ClassVar[str] = "step"
    step: int = 0
    loss: float | None = None
    lr: float | None = None
    it_s: float | None = None
    eta_s: float | None = None
    vram_gb: float | None = None
    # per-image loss (training.image_loss): [{"image": rel, "loss": float, "t": float}, ...]
    items: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class SampleSaved(Event):
    NAME: ClassVar[str] = "sample_saved"
    step: int = 0
    index: int = 0
    seed: int = 0
    prompt: str = ""
    path: str = ""


@dataclass(frozen=True)
class CheckpointSaved(Event):
    NAME: ClassVar[str] = "checkpoint_saved"
    step: int = 0
    path: str = ""
    state_path: str | None = None


@dataclass(frozen=True)
class Warning_(Event):
    NAME: ClassVar[str] = "warning"
    message: str = ""
    code: str = "other"
    path: str | None = None


@dataclass(frozen=True)
class Error(Event):
    NAME: ClassVar[str] = "error"
    message: str = ""
    code: str = "internal"
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Done(Event):
    NAME: ClassVar[str] = "done"
    step: int = 0
    reason: str = "finished"  # "finished" or "stopped"
    final_path: str | None = None


@dataclass(frozen=True)
class UnknownEvent(Event):
    """An event name this version does not know; ``raw`` keeps it."""


EVENT_TYPES: dict[str, type[Event]] = {
    cls.NAME: cls
    for cls in (
        Started,
        Status,
        CacheProgress,
        Step,
        SampleSaved,
        CheckpointSaved,
        Warning_,
        Error,
        Done,
    )
}
TERMINAL_EVENTS = ("done", "error")

# JSON field name -> dataclass attribute where the name clashes with ``Event.name``
_RENAMED = {"name": "name_"}


def _coerce(kind: type[Event], key: str, value: Any) -> Any:
    if key in ("details", "items") and isinstance(value, list):
        return tuple(value)
    return value


def event_from_dict(record: dict[str, Any]) -> Event:
    """A typed event from one decoded JSON object (unknown fields are ignored)."""
    name = record.get("event")
    if not isinstance(name, str):
        raise ProtocolError("an event needs an 'event' name")
    kind = EVENT_TYPES.get(name)
    if kind is None:
        return UnknownEvent(raw=record)
    known = {f.name for f in dataclasses.fields(kind)} - {"raw"}
    kwargs: dict[str, Any] = {}
    for key, value in record.items():
        attr = _RENAMED.get(key, key)
        if attr in known:
            kwargs[attr] = _coerce(kind, attr, value)
    try:
        return kind(raw=record, **kwargs)
    except TypeError as exc:  # pragma: no cover - dataclass signature mismatch
        raise ProtocolError(f"bad {name} event: {exc}") from None


def parse_event(line: str) -> Event:
    """One JSON line from the trainer's stdout or ``events.jsonl`` -> a typed event."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise ProtocolError(f"not JSON: {line[:80]!r} ({exc})") from None
    if not isinstance(record, dict):
        raise ProtocolError(f"not a JSON object: {line[:80]!r}")
    return event_from_dict(record)


def parse_command(line: str) -> str | None:
    """``stop`` or ``{"command": "stop"}`` -> ``"stop"``; blank lines -> None.

    Returns the command word even when it is not one of :data:`COMMANDS`; the trainer answers
    an unknown one with a ``command_unknown`` warning."""
    line = line.strip()
    if not line:
        return None
    if line.startswith("{"):
        try:
            value = json.loads(line).get("command", "")
        except (ValueError, AttributeError):
            return line
        return str(value).strip().lower() or None
    return line.lower()


def command_line(command: str) -> str:
    """The line to send for ``command`` (one of :data:`COMMANDS`), newline included."""
    if command not in COMMANDS:
        raise ValueError(f"unknown trainer command {command!r}; one of {', '.join(COMMANDS)}")
    return json.dumps({"command": command}) + "\n"


__all__ = [
    "COMMANDS",
    "CONTROL_FILE",
    "ERROR_CODES",
    "EVENTS_FILE",
    "EVENT_TYPES",
    "PROTOCOL_VERSION",
    "TERMINAL_EVENTS",
    "WARNING_CODES",
    "CacheProgress",
    "CheckpointSaved",
    "Done",
    "Error",
    "Event",
    "ProtocolError",
    "SampleSaved",
    "Started",
    "Status",
    "Step",
    "UnknownEvent",
    "Warning_",
    "command_line",
    "event_from_dict",
    "parse_command",
    "parse_event",
]
