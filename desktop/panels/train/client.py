"""``TrainerProcess``: the GUI's client of the trainer child process.

The trainer is started with ``QProcess.startDetached`` and ``--detached``: it runs in its own
session, so it survives the window closing, and its stdout (the JSON-lines events) goes to a
file beside the run folder. The client tails that file (or, when reattaching to a run started
earlier, ``<run>/events.jsonl``) every 100 ms and re-emits each event as a Qt signal named
after it. Commands go through ``<run>/control`` (the only channel a detached trainer reads).

Whether the trainer is still alive comes from its lock (``training.runlock.holder``); a
trainer that is gone without a ``done`` or ``error`` event is reported as ``interrupted``.
Reading happens on the GUI thread in small slices (at most ``MAX_EVENTS_PER_TICK`` events or
``TICK_BUDGET_S`` per tick), so a burst never stalls the window.
"""

from __future__ import annotations

import logging
import os
import shlex
import sys
import time
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from training import protocol as p
from training.run_history import read_events
from training.runlock import holder

log = logging.getLogger(__name__)

POLL_MS = 100
LAUNCH_GRACE_S = 120.0  # the trainer takes its lock after imports and config checks
MAX_EVENTS_PER_TICK = 200
READ_BYTES_PER_TICK = 24 << 10  # ~150 step events: 1500 a second, far above 20
TICK_BUDGET_S = 0.02  # stop dispatching after this long; the rest waits for the next tick


def trainer_argv(config: Path, *, resume: bool = False, overwrite: bool = False) -> list[str]:
    """``python -m training run CONFIG --detached`` (``LIKENESS_TRAINER_CMD`` replaces the
    ``python -m training`` part, as for ``likeness train``)."""
    prefix = os.environ.get("LIKENESS_TRAINER_CMD")
    base = shlex.split(prefix) if prefix else [sys.executable, "-m", "training"]
    flags = ["--resume"] if resume else (["--overwrite"] if overwrite else [])
    return [*base, "run", str(config), *flags, "--detached"]


def launch_file(run_dir: Path) -> Path:
    """Where a GUI-started trainer's stdout goes: beside the run folder (the trainer creates
    the run folder itself, private, and refuses one that exists as a link)."""
    return run_dir.parent / f".{run_dir.name}.launch.jsonl"


class TrainerProcess(QObject):
    started = Signal(object)  # protocol.Started
    status = Signal(object)
    cache_progress = Signal(object)
    step = Signal(object)
    sample_saved = Signal(object)
    checkpoint_saved = Signal(object)
    warning = Signal(object)
    error = Signal(object)
    done = Signal(object)
    other_event = Signal(object)  # an event this version does not know
    interrupted = Signal(str)  # the trainer is gone without a done / error event
    launch_failed = Signal(str)

    _SIGNALS = {
        "started": "started",
        "status": "status",
        "cache_progress": "cache_progress",
        "step": "step",
        "sample_saved": "sample_saved",
        "checkpoint_saved": "checkpoint_saved",
        "warning": "warning",
        "error": "error",
        "done": "done",
    }

    def __init__(self, parent: QObject | None = None, poll_ms: int = POLL_MS) -> None:
        super().__init__(parent)
        self.run_dir: Path | None = None
        self.source: Path | None = None
        self._offset = 0
        self._pending: list[p.Event] = []
        self._launched_at: float | None = None
        self._ended = False
        self._seen_started = False
        self._timer = QTimer(self)
        self._timer.setInterval(poll_ms)
        self._timer.timeout.connect(self.poll)

    # -- starting / attaching ---------------------------------------------------------------
    def start(
        self, config: Path, run_dir: Path, *, resume: bool = False, overwrite: bool = False
    ) -> bool:
        """Start ``python -m training run CONFIG --detached``; False (and ``launch_failed``)
        when the process cannot be started."""
        self.run_dir = Path(run_dir)
        out = launch_file(self.run_dir)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.is_symlink():
                out.unlink()
            out.write_bytes(b"")
        except OSError as exc:
            self.launch_failed.emit(f"cannot write {out}: {exc.strerror or exc}")
            return False
        argv = trainer_argv(config, resume=resume, overwrite=overwrite)
        proc = QProcess(self)
        proc.setProgram(argv[0])
        proc.setArguments(argv[1:])
        proc.setWorkingDirectory(str(Path(config).parent))
        proc.setStandardInputFile(QProcess.nullDevice())
        proc.setStandardOutputFile(str(out))
        proc.setStandardErrorFile(QProcess.nullDevice())  # the trainer keeps <run>/train.log
        ok = proc.startDetached()
        ok = ok[0] if isinstance(ok, tuple) else bool(ok)
        proc.deleteLater()
        if not ok:
            self.launch_failed.emit(f"could not start {shlex.join(argv)}")
            return False
        log.info("started the trainer: %s", shlex.join(argv))
        self._follow(out, launched=True)
        return True

    def attach(self, run_dir: Path) -> None:
        """Follow a run started earlier: replay ``<run>/events.jsonl``, then tail it."""
        self.run_dir = Path(run_dir)
        self._follow(self.run_dir / p.EVENTS_FILE, launched=False)

    def _follow(self, source: Path, *, launched: bool) -> None:
        self.source = source
        self._offset = 0
        self._pending = []
        self._ended = False
        self._seen_started = False
        self._launched_at = time.monotonic() if launched else None
        self._timer.start()
        self.poll()

    def detach(self) -> None:
        """Stop following (the trainer goes on)."""
        self._timer.stop()
        self.source = None

    @property
    def following(self) -> bool:
        return self._timer.isActive()

    # -- commands ---------------------------------------------------------------------------
    def send(self, command: str) -> bool:
        """Append ``command`` (stop / save / sample) to ``<run>/control``; False on failure."""
        if self.run_dir is None:
            return False
        line = p.command_line(command).encode("utf-8")
        path = self.run_dir / p.CONTROL_FILE
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            log.warning("cannot send %s to the trainer (%s): %s", command, path, exc)
            return False
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
        return True

    # -- reading ----------------------------------------------------------------------------
    def poll(self) -> None:
        if self.source is None:
            return
        if not self._pending:
            self._pending, self._offset = self._read()
            if not self._pending and not self._ended and not self._alive():
                # gone: one more look for its last words (written just before it exited)
                self._pending, self._offset = self._read()
                if not self._pending:
                    self._timer.stop()
                    self._ended = True
                    self.interrupted.emit(
                        "the trainer is gone without finishing (crash, kill or power loss)"
                    )
                    return
        deadline = time.perf_counter() + TICK_BUDGET_S
        done = 0
        for ev in self._pending[:MAX_EVENTS_PER_TICK]:
            self._dispatch(ev)
            done += 1
            if time.perf_counter() > deadline:
                break
        del self._pending[:done]
        if self._ended and not self._pending:
            self._timer.stop()

    def _read(self) -> tuple[list[p.Event], int]:
        assert self.source is not None
        return read_events(self.source, self._offset, READ_BYTES_PER_TICK)

    def _dispatch(self, ev: p.Event) -> None:
        if isinstance(ev, p.Started):
            self._seen_started = True
        if ev.name in p.TERMINAL_EVENTS:
            self._ended = True
        name = self._SIGNALS.get(ev.name)
        if name is None:
            self.other_event.emit(ev)
        else:
            getattr(self, name).emit(ev)

    def _alive(self) -> bool:
        if self.run_dir is not None and holder(self.run_dir) is not None:
            return True
        if self._launched_at is not None and not self._seen_started:
            return time.monotonic() - self._launched_at < LAUNCH_GRACE_S
        return False
