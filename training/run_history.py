"""What a run folder says about its run: status, progress, loss curve, samples, checkpoints.

``RunHistory`` folds typed protocol events (``training.protocol``) into one picture; the GUI
feeds it live events and rebuilds it from ``<run>/events.jsonl`` when a dataset is reopened.
The status of a run with no ending event comes from its lock: a live trainer holds
``trainer.lock`` (running); nobody holding it means the process died (interrupted).
Qt-free, so the CLI and tests use it too.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training import protocol as p
from training.image_loss import ImageLoss
from training.runlock import holder

log = logging.getLogger(__name__)

MAX_EVENTS_BYTES = 256 << 20  # a 100k-step run writes ~15 MB of events

STATUSES = ("running", "finished", "stopped", "failed", "interrupted", "new")


@dataclass
class RunHistory:
    name: str
    run_dir: Path
    total_steps: int | None = None
    start_step: int = 0
    step: int = 0
    device: str = ""
    phase: str = ""
    cache: tuple[str, int, int] | None = None  # stage, done, total
    loss: list[tuple[int, float]] = field(default_factory=list)
    lr: float | None = None
    it_s: float | None = None
    eta_s: float | None = None
    vram_gb: float | None = None
    samples: dict[int, dict[int, p.SampleSaved]] = field(default_factory=dict)
    checkpoints: list[p.CheckpointSaved] = field(default_factory=list)
    warnings: list[p.Warning_] = field(default_factory=list)
    error: p.Error | None = None
    done: p.Done | None = None
    started_at: float | None = None
    updated_at: float | None = None
    ended: bool = False  # a terminal event arrived
    image_loss: ImageLoss = field(default_factory=ImageLoss)  # per-image loss (Step.items)

    def apply(self, ev: p.Event) -> None:
        if isinstance(ev, p.Started):
            self.total_steps = ev.total_steps
            self.start_step = ev.start_step
            self.step = max(self.step, ev.start_step)
            self.device = ev.device
            self.error = None
            self.done = None
            self.ended = False
            self.phase = "starting"
        elif isinstance(ev, p.Status):
            self.phase = ev.message
        elif isinstance(ev, p.CacheProgress):
            self.cache = (ev.stage, ev.done, ev.total)
            self.phase = f"caching {ev.stage}"
        elif isinstance(ev, p.Step):
            self.step = ev.step
            self.phase = "training"
            if ev.loss is not None:
                # a resumed run replays from its state: drop points past the resume step
                if self.loss and self.loss[-1][0] >= ev.step:
                    self.loss = [pt for pt in self.loss if pt[0] < ev.step]
                self.loss.append((ev.step, float(ev.loss)))
            if ev.items:  # (a resumed run's replayed steps count once)
                self.image_loss.add_step(ev.step, ev.items)
            self.lr, self.it_s, self.eta_s, self.vram_gb = ev.lr, ev.it_s, ev.eta_s, ev.vram_gb
        elif isinstance(ev, p.SampleSaved):
            self.samples.setdefault(ev.step, {})[ev.index] = ev
        elif isinstance(ev, p.CheckpointSaved):
            self.checkpoints.append(ev)
        elif isinstance(ev, p.Warning_):
            self.warnings.append(ev)
        elif isinstance(ev, p.Error):
            self.error, self.ended = ev, True
            self.phase = "failed"
        elif isinstance(ev, p.Done):
            self.done, self.ended = ev, True
            self.step = ev.step
            self.phase = ev.reason

    @property
    def last_loss(self) -> float | None:
        return self.loss[-1][1] if self.loss else None

    def status(self, *, alive: bool | None = None) -> str:
        """running / finished / stopped / failed / interrupted (``alive``: None asks the lock)."""
        if self.done is not None:
            return "finished" if self.done.reason == "finished" else "stopped"
        if self.error is not None:
            return "failed"
        if alive is None:
            alive = holder(self.run_dir) is not None
        if alive:
            return "running"
        return "interrupted" if self.updated_at is not None else "new"

    @property
    def duration_s(self) -> float | None:
        if self.started_at is None or self.updated_at is None:
            return None
        return max(0.0, self.updated_at - self.started_at)

    def newest_state(self) -> Path | None:
        """The newest complete resumable state folder on disk (what ``--resume`` takes)."""
        states = self.run_dir / "state"
        try:
            found = sorted(
                d
                for d in states.iterdir()
                if d.is_dir() and not d.is_symlink() and d.name.startswith(f"{self.name}_")
                if (d / "state.json").is_file() and (d / "state.safetensors").is_file()
            )
        except OSError:
            return None
        return found[-1] if found else None


def read_events(
    path: Path, offset: int = 0, max_bytes: int | None = None
) -> tuple[list[p.Event], int]:
    """Complete event lines of ``path`` from byte ``offset``; returns them and the new offset.
    ``max_bytes``: read at most about this much (a live reader takes a burst in slices).

    A partial last line (the trainer is writing it) is left for the next call; a line that is
    not an event is logged and skipped. Never follows a symlink."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return [], offset
    try:
        size = os.fstat(fd).st_size
        if size < offset:  # replaced (an --overwrite moved it aside): start over
            offset = 0
        if size - offset > MAX_EVENTS_BYTES:
            log.warning("%s is larger than %d bytes; reading its tail", path, MAX_EVENTS_BYTES)
            offset = size - MAX_EVENTS_BYTES
        os.lseek(fd, offset, os.SEEK_SET)
        chunks = []
        left = max_bytes if max_bytes is not None else size - offset
        while left > 0:
            chunk = os.read(fd, min(1 << 20, left))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    end = data.rfind(b"\n") + 1
    events = []
    for raw in data[:end].splitlines():
        if not raw.strip():
            continue
        try:
            events.append(p.parse_event(raw.decode("utf-8", errors="replace")))
        except p.ProtocolError as exc:
            log.warning("%s: skipped a line: %s", path, exc)
    return events, offset + end


def load_history(run_dir: Path, name: str | None = None) -> RunHistory:
    """A run's whole history, rebuilt from ``<run>/events.jsonl``."""
    run_dir = Path(run_dir)
    hist = RunHistory(name=name or run_dir.name, run_dir=run_dir)
    events_path = run_dir / p.EVENTS_FILE
    events, _ = read_events(events_path)
    for ev in events:
        hist.apply(ev)
    try:
        st = os.lstat(events_path)
        hist.updated_at = st.st_mtime
        cfg = os.lstat(run_dir / "config.yaml")
        hist.started_at = min(cfg.st_mtime, st.st_mtime)
    except OSError:
        pass
    return hist


def run_datasets(run_dir: Path) -> list[Path]:
    """The dataset folders of the run's ``config.yaml`` (resolved); [] when unreadable."""
    from training.config import load_config
    from training.config_errors import ConfigError

    try:
        cfg = load_config(run_dir / "config.yaml")
    except (ConfigError, OSError) as exc:
        log.debug("no readable config in %s: %s", run_dir, exc)
        return []
    return [Path(os.path.realpath(d.folder)) for d in cfg.datasets]


def runs_for_dataset(training_folder: Path, dataset: Path) -> list[RunHistory]:
    """Every run under ``training_folder`` that trains on ``dataset``, newest first."""
    target = Path(os.path.realpath(dataset))
    out: list[RunHistory] = []
    try:
        entries = sorted(Path(training_folder).iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.is_symlink() or not entry.is_dir() or entry.name.startswith("."):
            continue
        if target in run_datasets(entry):
            out.append(load_history(entry))
    out.sort(key=lambda h: h.updated_at or 0.0, reverse=True)
    return out


def summary_row(hist: RunHistory, *, alive: bool | None = None) -> dict[str, Any]:
    """One row of the runs table."""
    return {
        "name": hist.name,
        "status": hist.status(alive=alive),
        "step": hist.step,
        "total": hist.total_steps,
        "loss": hist.last_loss,
        "checkpoints": len([c for c in hist.checkpoints if c.state_path]),
        "started": hist.started_at,
        "duration_s": hist.duration_s,
    }
