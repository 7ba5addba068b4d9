"""``python -m training grid RUN_DIR [options]``: the grid renderer's process entry point.

Same protocol as the trainer (``docs/trainer-protocol.md``, ``docs/grid.md``): JSON-line
events on stdout (fd 1 points at stderr), ``stop`` on stdin or in ``<grid>/control``, one
``error`` event and a non-zero exit status for every failure.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import struct
import sys
from pathlib import Path
from typing import Any

from training.errors import ConfigInvalidError, TrainingError
from training.events import EventSink
from training.grid import plan
from training.grid.plan import BASE_ROW, GridRow, GridSpec

log = logging.getLogger(__name__)

DEFAULT_STRENGTHS = (1.0,)
DEFAULT_SEEDS = (42,)


def _floats(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text}") from exc
    if not values or any(not (0.0 <= v <= 4.0) for v in values):
        raise argparse.ArgumentTypeError(f"strengths must be between 0 and 4: {text}")
    return values


def _ints(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text}") from exc
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"seeds must be whole numbers >= 0: {text}")
    return values


def lora_step(path: Path) -> int | None:
    """The training step of a LoRA file: its ``likeness.step`` metadata, else the name."""
    try:
        with open(path, "rb") as fh:
            (size,) = struct.unpack("<Q", fh.read(8))
            if 0 < size < (16 << 20):
                meta = json.loads(fh.read(size)).get("__metadata__") or {}
                if str(meta.get("likeness.step", "")).isdigit():
                    return int(meta["likeness.step"])
    except (OSError, ValueError, struct.error):
        pass
    m = re.search(r"_(\d{4,9})$", path.stem)
    return int(m.group(1)) if m else None


def run_rows(run_dir: Path, cfg: Any, checkpoints: list[str] | None) -> list[GridRow]:
    """The run's checkpoints (and its final LoRA), or the explicit files, oldest step first."""
    from training.checkpoints import list_checkpoints

    if checkpoints:
        paths = [Path(p).expanduser() for p in checkpoints]
    else:
        paths = [p for _, p in list_checkpoints(run_dir, cfg.name)]
        final = run_dir / f"{cfg.name}.safetensors"
        if final.is_file():
            paths.append(final)
    rows, seen = [], set()
    for path in paths:
        if not path.is_file():
            raise ConfigInvalidError(f"checkpoint not found: {path}")
        name = path.stem if path.stem != BASE_ROW else f"{BASE_ROW}-lora"
        if name in seen:
            raise ConfigInvalidError(f"two checkpoints share the name {name}: rename one")
        seen.add(name)
        rows.append(GridRow(name, path, "checkpoint", lora_step(path)))
    if not rows:
        raise ConfigInvalidError(
            f"{run_dir} holds no checkpoint of {cfg.name} yet: train first, or pass --checkpoints"
        )
    big = 1 << 62
    return sorted(rows, key=lambda r: (r.step if r.step is not None else big, r.name))


def build_spec(args: argparse.Namespace, cfg: Any) -> GridSpec:
    run_dir = Path(args.run_dir)
    rows = run_rows(run_dir, cfg, args.checkpoints)
    if args.compare_lora:
        other = Path(args.compare_lora).expanduser()
        if not other.is_file():
            raise ConfigInvalidError(f"comparison LoRA not found: {other}")
        rows.append(GridRow(f"compare-{other.stem}", other, "lora", lora_step(other)))
    if args.base:
        rows.insert(0, GridRow(BASE_ROW, None, "base"))
    if args.prompts:
        try:
            prompts = plan.read_prompts_file(Path(args.prompts))
        except (OSError, ValueError) as exc:
            raise ConfigInvalidError(f"cannot use the prompts file: {exc}") from exc
    else:
        s = cfg.sample
        prompts = [plan.GridPrompt(p, s.width, s.height, plan.tier_of_prompt(p)) for p in s.prompts]
        if not args.no_stretch:
            prompts += plan.stretch_prompts(cfg.trigger)
    return GridSpec(
        rows=rows,
        prompts=prompts,
        strengths=list(args.strengths),
        seeds=list(args.seeds),
        steps=args.steps,
        guidance=cfg.sample.guidance if args.guidance is None else args.guidance,
        negative=cfg.sample.negative,
        base_model=str(cfg.model.name_or_path),
        trigger=cfg.trigger,
        extra={"run_dir": str(run_dir.resolve())},
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m training grid", description="checkpoint grid")
    p.add_argument("run_dir", help="run folder (config.yaml and the checkpoints)")
    p.add_argument("--checkpoints", nargs="+", metavar="FILE", help="LoRA files instead")
    p.add_argument("--prompts", metavar="FILE", help="one prompt per line ('| WxH' optional)")
    p.add_argument("--no-stretch", action="store_true", help="only the run's sample prompts")
    p.add_argument("--strengths", type=_floats, default=list(DEFAULT_STRENGTHS))
    p.add_argument("--seeds", type=_ints, default=list(DEFAULT_SEEDS))
    p.add_argument("--steps", type=int, default=8, help="sampling steps (Turbo: 8)")
    p.add_argument("--guidance", type=float, default=None, help="default: the run's")
    p.add_argument("--base", action="store_true", help="add a row: the base model, no LoRA")
    p.add_argument("--compare-lora", metavar="FILE", help="add a row: another LoRA file")
    p.add_argument("--device", default=None, help="default: the run's device")
    p.add_argument("--out", metavar="DIR", help="grid folder (default <run>/grid)")
    p.add_argument("--verbose", action="store_true")
    return p


def run_grid(args: argparse.Namespace, sink: EventSink, inbox=None) -> int:
    """Render the grid; returns the exit status, never raises for user errors."""
    from training.config import load_config
    from training.errors import OutOfMemoryError, is_cuda_oom
    from training.fileio import save_error

    lock = None
    try:
        run_dir = Path(args.run_dir)
        if not (run_dir / "config.yaml").is_file():
            raise ConfigInvalidError(f"{run_dir} is not a run folder (no config.yaml)")
        cfg = load_config(run_dir / "config.yaml")
        spec = build_spec(args, cfg)
        grid_dir = Path(args.out) if args.out else run_dir / "grid"
        from training.fileio import private_dir
        from training.runlock import RunLock

        try:
            private_dir(grid_dir)
        except OSError as exc:
            raise save_error(exc, grid_dir) from exc
        lock = RunLock(grid_dir).acquire()  # one renderer per grid folder
        from training.model import describe_device, resolve_device

        device, warning = resolve_device(args.device or cfg.device)
        sink.started(
            kind="grid",
            grid_dir=str(grid_dir.resolve()),
            device=describe_device(device),
            rows=[r.name for r in spec.rows],
            prompts=len(spec.prompts),
            cells=len(spec.cells()),
        )
        if warning:
            sink.warning(warning, code="no_gpu")
        if inbox is None:
            from training.runner import CommandInbox

            inbox = CommandInbox(grid_dir)
        elif hasattr(inbox, "bind"):
            inbox.bind(grid_dir)
        from training.grid.render import load_engine, render_grid

        reason = render_grid(
            spec,
            grid_dir,
            sink=sink,
            load=lambda: load_engine(cfg, spec, sink, device),
            poll_commands=inbox.poll,
        )
        sink.emit("done", reason=reason, grid_dir=str(grid_dir.resolve()))
        return 0
    except TrainingError as exc:
        sink.error(exc.message, code=exc.code, details=exc.details)
        return exc.exit_status
    except KeyboardInterrupt:
        sink.error("interrupted", code="interrupted")
        return 130
    except OSError as exc:
        err = save_error(exc, Path(exc.filename or "a file"))
        sink.error(err.message, code=err.code)  # type: ignore[attr-defined]
        return err.exit_status  # type: ignore[attr-defined]
    except Exception as exc:  # noqa: BLE001 - the protocol promises an error event
        if is_cuda_oom(exc):
            oom = OutOfMemoryError()
            sink.error(oom.message, code=oom.code)
            return oom.exit_status
        log.exception("unexpected error")
        sink.error(f"unexpected error: {type(exc).__name__}: {exc}", code="internal")
        return 1
    finally:
        if lock is not None:
            lock.release()


def main(argv: list[str] | None = None) -> int:
    from training.runner import _LateInbox, _protect_stdout, _setup_logging, _stop_on_signals

    args = parser().parse_args(argv)
    events: Any = _protect_stdout()
    _setup_logging(None, args.verbose)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    inbox = _LateInbox(sys.stdin, stop_on_eof=True)
    sink = EventSink(events, on_closed=lambda: inbox.parent_gone("stdout was closed"))
    _stop_on_signals(inbox)
    return run_grid(args, sink, inbox)
