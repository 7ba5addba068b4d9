"""``python -m training run CONFIG [--resume]``: the trainer's process entry point.

* stdout carries only JSON-line events (``docs/trainer-protocol.md``): the event stream gets a
  duplicate of the real stdout and file descriptor 1 is pointed at stderr, so no library print
  can corrupt it. Logs go to stderr and ``<run>/train.log``.
* Commands ``stop`` / ``save`` / ``sample`` arrive on stdin (a reader thread) and through the
  control file ``<run>/control`` (renamed, read and deleted between steps, so each runs once).
* Every failure becomes one ``error`` event and a non-zero exit status; tracebacks go to the
  log only.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import queue
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from training import fileio
from training.errors import (
    OutOfMemoryError,
    RunExistsError,
    TrainingError,
    is_cuda_oom,
)
from training.events import EventSink
from training.fileio import save_error
from training.protocol import CONTROL_FILE, EVENTS_FILE, parse_command
from training.runlock import RunLock

if TYPE_CHECKING:
    from training.config import RunConfig

log = logging.getLogger(__name__)

MAX_CONTROL_BYTES = 64 << 10


class CommandInbox:
    """Commands from stdin (optional reader thread) and from ``<run>/control``.

    ``stop_on_eof``: the end of stdin means the process that started the trainer is gone
    (``likeness train`` killed): stop cleanly, with a save. Off for detached trainers."""

    def __init__(
        self, run_dir: Path, stdin: io.TextIOBase | None = None, *, stop_on_eof: bool = False
    ):
        self.control = run_dir / CONTROL_FILE
        self.stop_on_eof = stop_on_eof
        self._queue: queue.Queue[str] = queue.Queue()
        if stdin is not None:
            threading.Thread(
                target=self._read, args=(stdin,), daemon=True, name="stdin-commands"
            ).start()

    def _read(self, stream) -> None:
        try:
            for line in stream:
                cmd = parse_command(line)
                if cmd:
                    self._queue.put(cmd)
        except (OSError, ValueError):
            pass
        if self.stop_on_eof:
            self.parent_gone("stdin was closed")

    def parent_gone(self, why: str) -> None:
        """The controlling process went away: stop (and save) unless detached."""
        if self.stop_on_eof:
            self.stop_on_eof = False  # once
            log.warning("%s: the process that started the trainer is gone; stopping", why)
            self._queue.put("stop")

    def put(self, command: str) -> None:
        self._queue.put(command)

    def poll(self) -> list[str]:
        out: list[str] = []
        while True:
            try:
                out.append(self._queue.get_nowait())
            except queue.Empty:
                break
        out += self._read_control_file()
        return out

    def _read_control_file(self) -> list[str]:
        """Only a regular file of this user counts; a symlink or another user's file is
        removed (from the run folder, never its target) and ignored."""
        if not os.path.lexists(self.control):
            return []
        taken = self.control.with_name(f".{CONTROL_FILE}.{os.getpid()}.reading")
        try:
            os.replace(self.control, taken)  # renames a symlink itself, never its target
            text = fileio.read_bytes(taken, limit=MAX_CONTROL_BYTES, own=True).decode(
                "utf-8", errors="replace"
            )
        except OSError as exc:
            log.warning("ignored the control file %s: %s", self.control, exc.strerror or exc)
            return []
        finally:
            taken.unlink(missing_ok=True)
        return [c for c in (parse_command(line) for line in text.splitlines()) if c]


def _setup_logging(run_dir: Path | None, verbose: bool) -> None:
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(fmt)
    stderr.setLevel(logging.DEBUG if verbose else logging.WARNING)
    root.addHandler(stderr)
    if run_dir is not None:
        fileio.private_dir(run_dir)
        fh = SafeFileHandler(run_dir / "train.log")
        fh.setFormatter(fmt)
        root.addHandler(fh)


class SafeFileHandler(logging.FileHandler):
    """A log file appended to without following a symlink (``fileio.open_append``)."""

    def __init__(self, path: Path):
        super().__init__(os.path.abspath(path), encoding="utf-8", delay=True)
        self.stream = self._open()

    def _open(self):
        return fileio.open_append(Path(self.baseFilename), encoding=self.encoding or "utf-8")


def _protect_stdout() -> io.TextIOWrapper:
    """A private stream on the real stdout; fd 1 (and sys.stdout) now go to stderr."""
    sys.stdout.flush()
    events_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return io.TextIOWrapper(
        os.fdopen(events_fd, "wb", buffering=0), encoding="utf-8", line_buffering=True
    )


def _app_version() -> str:
    try:
        from importlib.metadata import version

        return version("likeness-studio")
    except Exception:  # noqa: BLE001 - metadata is optional in a source checkout
        return "0.1.0"


def guard_fresh_start(cfg: RunConfig, *, overwrite: bool, sink: EventSink) -> None:
    """A fresh run must not start on top of another run's checkpoints (keep-last would delete
    them): refuse, or with ``overwrite`` move them into ``<run>/previous-<timestamp>/``."""
    from training import checkpoints as ckpt

    found = ckpt.previous_run_files(cfg.run_dir, cfg.name)
    if not found:
        return
    if not overwrite:
        raise RunExistsError(
            f"{cfg.run_dir} already has checkpoints of {cfg.name}: pass --resume to continue, "
            "or choose another name (or pass --overwrite to move them aside and start over)",
            details=[str(p) for p in found],
        )
    if os.environ.get("RANK", "0") not in ("", "0"):
        return  # under accelerate launch only the main process moves the old run aside
    try:
        moved = ckpt.move_previous_run(cfg.run_dir, cfg.name)
    except OSError as exc:
        raise save_error(exc, cfg.run_dir) from exc
    sink.warning(
        f"the previous run of {cfg.name} was moved to {moved} (--overwrite)",
        code="previous_run_moved",
        path=str(moved.resolve()),
    )


def run(
    config_path: str | Path,
    *,
    resume: bool,
    sink: EventSink,
    stdin: io.TextIOBase | None = None,
    inbox: CommandInbox | None = None,
    overwrite: bool = False,
) -> int:
    """Run one training job; returns the exit status. Never raises for user errors.

    Without ``resume`` a run folder that holds checkpoints of this run name is refused
    (``run_exists``) unless ``overwrite`` moves them aside first."""
    handler: logging.Handler | None = None
    lock: RunLock | None = None
    from training.config import load_config
    from training.config_ops import save_config

    try:
        cfg = load_config(config_path)  # a ConfigError is a ConfigInvalidError
        run_dir = cfg.run_dir
        try:
            fileio.private_dir(run_dir)
        except OSError as exc:
            raise save_error(exc, run_dir) from exc
        lock = RunLock(run_dir).acquire()
        if lock.stale:
            log.info("the previous trainer of %s is gone; its lock was taken over", run_dir)
        if not resume:
            guard_fresh_start(cfg, overwrite=overwrite, sink=sink)
        try:
            if not resume or not (run_dir / "config.yaml").exists():
                save_config(cfg, run_dir / "config.yaml")
            handler = _attach_file_log(run_dir)
            if hasattr(sink, "tee"):
                sink.tee(fileio.open_append(run_dir / EVENTS_FILE))
        except OSError as exc:
            raise save_error(exc, run_dir) from exc
        from training.config_ops import config_warnings
        from training.loop import RunContext, train

        for text in config_warnings(cfg):
            sink.warning(text, code="other")
        if inbox is None:
            inbox = CommandInbox(run_dir, stdin)
        elif isinstance(inbox, _LateInbox):
            inbox.bind(run_dir)
        ctx = RunContext(
            run_dir=run_dir,
            sink=sink,
            poll_commands=inbox.poll,
            resume=resume,
            app_version=_app_version(),
        )
        train(cfg, ctx)
        return 0
    except TrainingError as exc:
        log.debug("training error", exc_info=True)
        sink.error(exc.message, code=exc.code, details=exc.details)
        return exc.exit_status
    except KeyboardInterrupt:
        sink.error("interrupted before a checkpoint could be saved", code="interrupted")
        return 130
    except OSError as exc:  # e.g. the disk filled up while the latent cache or a sample was written
        log.debug("OS error", exc_info=True)
        err = save_error(exc, Path(exc.filename or "a file"))
        sink.error(err.message, code=err.code)  # type: ignore[attr-defined]
        return err.exit_status  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - the protocol promises an error event, not a traceback
        if is_cuda_oom(exc):
            oom = OutOfMemoryError()
            sink.error(oom.message, code=oom.code)
            return oom.exit_status
        log.exception("unexpected error")
        where = _log_location()
        sink.error(
            f"unexpected error: {type(exc).__name__}: {exc} (details in {where})", code="internal"
        )
        return 1
    finally:
        if hasattr(sink, "tee"):
            sink.tee(None)
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()
        if lock is not None:
            lock.release()


def _attach_file_log(run_dir: Path) -> logging.Handler | None:
    root = logging.getLogger()
    target = os.path.abspath(run_dir / "train.log")
    if any(isinstance(h, logging.FileHandler) and h.baseFilename == target for h in root.handlers):
        return None
    fh = SafeFileHandler(Path(target))
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    fh.setLevel(logging.INFO)
    root.addHandler(fh)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return fh


def _log_location() -> str:
    for h in logging.getLogger().handlers:
        if isinstance(h, logging.FileHandler):
            return h.baseFilename
    return "the log on stderr"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training", description="Likeness Z-Image LoRA trainer"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="train from a run config (JSON-line events on stdout)")
    p_run.add_argument("config", help="run config (YAML or JSON)")
    p_run.add_argument("--resume", action="store_true", help="continue from the newest saved state")
    p_run.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in a run folder that holds checkpoints: they are moved into "
        "<run>/previous-<timestamp>/, never deleted",
    )
    p_run.add_argument(
        "--detached",
        action="store_true",
        help="keep training when the starting process goes away (stdin closed, stdout gone); "
        "commands then come through <run>/control and events are in <run>/events.jsonl",
    )
    p_run.add_argument("--verbose", action="store_true", help="debug logs on stderr")
    args = parser.parse_args(argv)

    events_stream = _protect_stdout()
    _setup_logging(None, args.verbose)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # under accelerate launch / torchrun only rank 0 speaks the protocol; the others log only
    main_rank = os.environ.get("RANK", "0") in ("", "0")
    inbox = _LateInbox(sys.stdin if main_rank else None, stop_on_eof=not args.detached)
    sink = EventSink(
        events_stream if main_rank else None,
        on_closed=None if args.detached else lambda: inbox.parent_gone("stdout was closed"),
    )
    _stop_on_signals(inbox)
    return run(args.config, resume=args.resume, sink=sink, inbox=inbox, overwrite=args.overwrite)


class _LateInbox(CommandInbox):
    """A CommandInbox whose run folder is known only once the config is read."""

    def __init__(self, stdin, *, stop_on_eof: bool = False):
        super().__init__(Path(os.devnull), stdin, stop_on_eof=stop_on_eof)
        self.control = None

    def bind(self, run_dir: Path) -> None:
        self.control = run_dir / CONTROL_FILE

    def _read_control_file(self) -> list[str]:
        return [] if self.control is None else super()._read_control_file()


def _stop_on_signals(inbox: CommandInbox) -> None:
    """First SIGINT/SIGTERM: a clean ``stop`` (save, then exit 0); the second one interrupts."""
    import signal

    count = {"n": 0}

    def handler(signum, frame):
        count["n"] += 1
        if count["n"] > 1:
            raise KeyboardInterrupt
        log.warning("signal %s: stopping after the current step (send it again to abort)", signum)
        inbox.put("stop")

    for name in ("SIGINT", "SIGTERM"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                signal.signal(sig, handler)
            except (ValueError, OSError):  # not the main thread
                pass
