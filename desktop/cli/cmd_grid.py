"""``likeness grid`` (render a checkpoint grid in the child process) and ``likeness rank``
(score and rank a grid's checkpoints against the dataset).

``grid`` runs ``python -m training grid`` (``LIKENESS_TRAINER_CMD`` replaces
``python -m training``) and shows its events with a progress bar; Ctrl+C sends ``stop`` (the
cells done so far are kept, a rerun resumes). ``rank`` runs the core ranking in this process
and writes ``<grid>/scores.json``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from desktop.cli.train_view import BOLD, DIM, GREEN, YELLOW, TrainView, format_duration


class GridView(TrainView):
    """The trainer's view, with the grid's events."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.cells = 0
        self.grid_total = 0
        self.render_s: list[float] = []

    def _on_started(self, e: dict[str, Any]) -> None:
        self.started = e
        rows = ", ".join(e.get("rows") or [])
        self.line(
            self._c("checkpoint grid", BOLD)
            + f" on {e.get('device', '?')}: {e.get('cells')} cells ({rows}) -> {e.get('grid_dir')}"
        )

    def _on_grid_progress(self, e: dict[str, Any]) -> None:
        done, total = int(e.get("done") or 0), int(e.get("total") or 0)
        self.cells, self.grid_total = done, total
        if e.get("row") is None and e.get("skipped"):
            self.line(self._c(f"· {e['skipped']} cells already rendered: skipped", DIM))
        self.last = e
        self._redraw()

    def _on_grid_image_saved(self, e: dict[str, Any]) -> None:
        if e.get("render_s") is not None:
            self.render_s.append(float(e["render_s"]))
        if not self.tty:
            self.line(f"{self.cells + 1}/{self.grid_total} {e.get('path')}")

    def progress_text(self, bar: bool = True, width: int | None = None) -> str:
        done, total = self.cells, self.grid_total
        text = f"cells {done}/{total}"
        if bar and total:
            text += " " + self._bar(done, total, 24)
        if self.render_s:
            per = sum(self.render_s[-8:]) / len(self.render_s[-8:])
            text += f"  {per:.2f} s/image, {format_duration(per * (total - done))} left"
        return text

    def _on_done(self, e: dict[str, Any]) -> None:
        self.done = e
        if self.tty and self.last:
            self._draw(self.progress_text(width=self._width()))
            self.out.write("\n")
            self._bar_shown = False
        if e.get("reason") == "stopped":
            self.line(self._c("stopped: the cells rendered so far are kept", YELLOW, BOLD))
        else:
            self.line(self._c(f"done: {e.get('grid_dir')}", GREEN, BOLD))


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "grid",
        help="render checkpoints x prompts x strengths x seeds of a run (resumable)",
        description="Render a checkpoint grid of a run folder: <out>/prompts.txt, "
        "<out>/<checkpoint>/<prompt>_<seed>_s<strength>.png, <out>/manifest.json. Cells "
        "already rendered with the same settings are skipped.",
    )
    p.add_argument("run_dir", type=Path, help="the run folder (config.yaml, checkpoints)")
    p.add_argument("--checkpoints", nargs="+", metavar="FILE", help="LoRA files instead")
    p.add_argument("--prompts", metavar="FILE", help="one prompt per line ('| WxH' optional)")
    p.add_argument("--no-stretch", action="store_true", help="only the run's sample prompts")
    p.add_argument("--strengths", default="1.0", help="e.g. 0.6,0.8,1.0 (default 1.0)")
    p.add_argument("--seeds", default="42", help="e.g. 42,43 (default 42)")
    p.add_argument("--steps", type=int, default=8, help="sampling steps (default 8)")
    p.add_argument("--base", action="store_true", help="add the base model without LoRA")
    p.add_argument("--compare-lora", metavar="FILE", help="add another LoRA (same seeds)")
    p.add_argument("--device", help="default: the run's device")
    p.add_argument("--out", type=Path, help="grid folder (default <run>/grid)")
    p.add_argument("--plain", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_grid)

    r = subparsers.add_parser(
        "rank",
        help="rank a grid's checkpoints: identity, prompt obedience, overfitting",
        description="Score every cell of a checkpoint grid against the dataset and rank the "
        "checkpoints; writes <grid>/scores.json.",
    )
    r.add_argument("grid_dir", type=Path)
    r.add_argument("--dataset", type=Path, required=True, help="the dataset folder")
    r.add_argument("--clip", metavar="MODEL", help="CLIP / SigLIP id or folder for obedience")
    r.add_argument("--faces", default="auto", help="face embedder: auto, dlib, sface, insightface")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.set_defaults(func=cmd_rank)

    c = subparsers.add_parser(
        "curve",
        help="likeness and copy score of a run's preview samples, step by step",
        description="Score <run>/samples/<step>/ against the dataset: mean identity, the "
        "fraction of samples that copy a training image, faces found, per step.",
    )
    c.add_argument("run_dir", type=Path)
    c.add_argument("--dataset", type=Path, required=True, help="the dataset folder")
    c.add_argument("--faces", default="auto", help="face embedder: auto, dlib, sface, insightface")
    c.add_argument("--json", action="store_true", help="print the curve as JSON")
    c.set_defaults(func=cmd_curve)


def grid_command(args: Any) -> list[str]:
    import shlex

    prefix = os.environ.get("LIKENESS_TRAINER_CMD")
    argv = shlex.split(prefix) if prefix else [sys.executable, "-m", "training"]
    argv += ["grid", str(args.run_dir), "--strengths", args.strengths, "--seeds", args.seeds]
    argv += ["--steps", str(args.steps)]
    for flag in ("prompts", "compare_lora", "device", "out"):
        value = getattr(args, flag)
        if value:
            argv += [f"--{flag.replace('_', '-')}", str(value)]
    if args.checkpoints:
        argv += ["--checkpoints", *args.checkpoints]
    argv += ["--base"] if args.base else []
    argv += ["--no-stretch"] if args.no_stretch else []
    return argv


def cmd_grid(args: Any) -> int:
    from desktop.cli.train_process import TrainerSession

    if not (args.run_dir / "config.yaml").is_file():
        print(f"error: {args.run_dir} is not a run folder (no config.yaml)", file=sys.stderr)
        return 2
    view = GridView(sys.stdout, tty=False if args.plain else None)
    session = TrainerSession(grid_command(args), view)
    session.stop_note = "stopping after this cell (a rerun resumes; Ctrl+C again to abort)"
    return session.run()


def cmd_rank(args: Any) -> int:
    from curation.errors import LikenessError
    from training.fileio import atomic_write_text
    from training.grid.rank import rank_grid

    bar = _Bar() if sys.stderr.isatty() and not args.json else None
    try:
        result = rank_grid(
            args.grid_dir,
            args.dataset,
            clip_model=args.clip,
            face_backend=args.faces,
            on_progress=bar.update if bar else None,
        )
    except (LikenessError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if bar:
            bar.close()
    try:
        atomic_write_text(args.grid_dir / "scores.json", json.dumps(result, indent=2))
    except OSError as exc:
        print(f"warning: cannot write scores.json: {exc}", file=sys.stderr)
    keys = ("name", "rank", "identity", "prompt_obedience", "tier_match", "copy", "collapse")
    summary = {
        "best": result["best"],
        "checkpoints": [
            {**{k: c.get(k) for k in keys}, "flags": c["flags"], "reasons": c["reasons"]}
            for c in result["checkpoints"]
        ],
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    for c in result["checkpoints"]:
        print(f"{c['rank']:>2}. {c['name']}  " + "  ".join(_fmt(c, k) for k in keys[2:]))
        for reason in c["reasons"]:
            print(f"      {reason}")
    for what, why in result["unavailable"].items():
        print(f"note: {what} not scored: {why}")
    for err in result["errors"]:
        print(f"skipped: {err}")
    print(f"best: {result['best'] or '-'}  (details in {args.grid_dir / 'scores.json'})")
    return 0


def cmd_curve(args: Any) -> int:
    from curation.errors import LikenessError
    from training.grid.live import LikenessTracker, score_run_samples

    tracker = LikenessTracker(args.dataset, face_backend=args.faces)
    try:
        score_run_samples(args.run_dir, args.dataset, tracker=tracker)
    except (LikenessError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    curve = tracker.curve()
    if args.json:
        print(json.dumps({"curve": curve, "unavailable": tracker.unavailable}, indent=2))
        return 0
    if not curve:
        print(f"no preview samples in {args.run_dir / 'samples'}")
        return 0
    print("  step  identity  copy  faces")
    for c in curve:
        ident = "-" if c["identity"] is None else f"{c['identity']:.2f}"
        print(f"{c['step']:>6}  {ident:>8}  {c['copy']:>4.0%}  {c['faces_found']}/{c['samples']}")
    if tracker.unavailable:
        print(f"note: identity not scored: {tracker.unavailable}")
    for err in tracker.errors + [
        f"{s['path']}: {s['error']}" for s in tracker.scores if s["error"]
    ]:
        print(f"skipped: {err}")
    return 0


def _fmt(c: dict[str, Any], key: str) -> str:
    value = c.get(key)
    return f"{key}={'-' if value is None else f'{value:.2f}'}"


class _Bar:
    def __init__(self) -> None:
        self.shown = False

    def update(self, done: int, total: int, what: str) -> None:
        sys.stderr.write(f"\r\033[Kscoring {done}/{total} {what[-50:]}")
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
