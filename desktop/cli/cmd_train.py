"""``likeness train``: run the trainer in its own process and show its progress.

    likeness train CONFIG [--resume]             train (progress bar with live loss)
    likeness train --from-aitk JOB [--dry-run]   convert an ai-toolkit job and train it
    likeness train --init OUT --trigger T --dataset DIR [--preset 16gb]
                                                 write a new config with good defaults
    likeness train --validate CONFIG             list every problem in a config
    likeness train --from-aitk JOB --validate    the import report and problems, no training
    likeness train --export-aitk CONFIG OUT      write a config as an ai-toolkit job

The trainer is ``python -m training run CONFIG`` (``docs/trainer-protocol.md``): JSON-line
events on its stdout, commands on its stdin. Ctrl+C sends ``stop`` (it saves a checkpoint and
exits cleanly, ready for ``--resume``); a second Ctrl+C aborts without saving. The exit status
is the trainer's. ``LIKENESS_TRAINER_CMD`` replaces ``python -m training`` (for tests).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

EXIT_CONFIG = 2  # same as the trainer's config_invalid


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a LoRA from a run config (or an ai-toolkit job)",
        description="Train a LoRA in its own process and show its progress.\n\n"
        + (__doc__ or "").split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Ctrl+C stops cleanly (a checkpoint is saved; continue with --resume).",
    )
    p.add_argument("config", nargs="?", metavar="CONFIG", help="run config (YAML or JSON)")
    p.add_argument("--resume", action="store_true", help="continue a stopped run")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in a run folder that holds checkpoints (they are moved into "
        "<run>/previous-<timestamp>/, not deleted)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--from-aitk", metavar="JOB", help="convert an ai-toolkit job (YAML/JSON) and train it"
    )
    p.add_argument(
        "--validate",
        nargs="?",
        const=True,
        metavar="CONFIG",
        help="check a config (or, with --from-aitk, the converted job) and list every problem; "
        "nothing is written or trained",
    )
    mode.add_argument("--init", metavar="OUT", help="write a new run config with good defaults")
    mode.add_argument(
        "--export-aitk",
        nargs=2,
        metavar=("CONFIG", "OUT"),
        help="write CONFIG as an ai-toolkit job",
    )
    p.add_argument(
        "--trigger", help="with --init: the trigger token; with --from-aitk: when the job has none"
    )
    p.add_argument("--name", help="with --init: the LoRA name (default: the trigger)")
    p.add_argument(
        "--dataset",
        action="append",
        metavar="DIR",
        help="with --init: a dataset folder (repeatable)",
    )
    p.add_argument(
        "--preset", metavar="VRAM", help="with --init: 8gb, 12gb, 16gb or 24gb (default: none)"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="with --from-aitk: show the result, write nothing"
    )
    p.add_argument("--plain", action="store_true", help="plain progress lines, no redrawn bar")
    p.add_argument(
        "--force",
        action="store_true",
        help="train even when a dataset has caption lint errors or a NOT READY verdict",
    )
    p.set_defaults(func=run_train)


def _err(text: str) -> None:
    print(text, file=sys.stderr)


def run_train(args: argparse.Namespace) -> int:
    from training.config_errors import ConfigError

    init_only = [f for f, v in (("--name", args.name), ("--dataset", args.dataset),
                                ("--preset", args.preset)) if v]  # fmt: skip
    if init_only and not args.init:
        _err(f"likeness train: {', '.join(init_only)} go with --init")
        return EXIT_CONFIG
    if args.validate and (args.init or args.export_aitk):
        _err("likeness train: --validate goes with CONFIG or --from-aitk JOB")
        return EXIT_CONFIG
    try:
        if args.validate and not args.from_aitk:
            target = args.validate if isinstance(args.validate, str) else args.config
            if not target or (isinstance(args.validate, str) and args.config):
                _err("likeness train: give one CONFIG to --validate")
                return EXIT_CONFIG
            return _validate(Path(target))
        if args.init:
            return _init(args)
        if args.export_aitk:
            return _export(Path(args.export_aitk[0]), Path(args.export_aitk[1]))
        if args.from_aitk:
            if args.config:
                _err("likeness train: give either CONFIG or --from-aitk JOB, not both")
                return EXIT_CONFIG
            return _from_aitk(args)
        if not args.config:
            _err("likeness train: give a CONFIG (or --from-aitk JOB); see likeness train --help")
            return EXIT_CONFIG
        if args.trigger or args.dry_run:
            _err("likeness train: --trigger and --dry-run go with --from-aitk")
            return EXIT_CONFIG
        config_path = Path(args.config)
        cfg = _load_checked(config_path)
        if not (args.resume or args.overwrite) and _refuse_overwrite(cfg, config_path):
            return EXIT_CONFIG
        if not _gate(cfg, force=args.force):
            return EXIT_CONFIG
        return launch(config_path, resume=args.resume, plain=args.plain, overwrite=args.overwrite)
    except ConfigError as exc:
        _err(exc.render())
        return EXIT_CONFIG
    except OSError as exc:  # a file that cannot be written (permissions, full disk, ...)
        _err(f"likeness train: {exc}")
        return 1


def _load_checked(path: Path) -> Any:
    """Load and validate a config, including paths; raises ConfigError with every problem.

    Warnings are left to the trainer, which reports them as events when it starts.
    """
    from training.config import load_config
    from training.config_errors import ConfigError
    from training.config_ops import check_paths
    from training.data import dataset_problems

    cfg = load_config(path)
    problems = check_paths(cfg) + dataset_problems(cfg)
    if problems:
        raise ConfigError(str(path), problems)
    return cfg


def _validate(path: Path) -> int:
    from training.config_ops import config_warnings

    cfg = _load_checked(path)
    print(f"{path}: valid ({cfg.train.steps} steps, rank {cfg.network.rank}, "
          f"resolutions {cfg.resolutions}, run folder {cfg.run_dir})")  # fmt: skip
    warnings = config_warnings(cfg)
    for warning in warnings:
        print(f"warning: {warning}")
    if not warnings:
        print("no warnings")
    return 0


def _init(args: argparse.Namespace) -> int:
    from training.config_ops import config_warnings, save_config
    from training.presets import default_config

    if not args.trigger or not args.dataset:
        _err("likeness train --init OUT needs --trigger TOKEN and --dataset DIR")
        return EXIT_CONFIG
    out = Path(args.init)
    if out.exists():
        _err(f"likeness train: {out} exists; choose another file name")
        return EXIT_CONFIG
    folders = [str(Path(d).expanduser().resolve()) for d in args.dataset]
    cfg = default_config(args.name or args.trigger, args.trigger, folders, preset=args.preset)
    save_config(cfg, out)
    print(f"wrote {out} (runs go to {out.parent / cfg.run_dir})")
    for warning in config_warnings(cfg):
        print(f"warning: {warning}")
    print(f"check it with: likeness train --validate {out}; train with: likeness train {out}")
    return 0


def _export(config: Path, out: Path) -> int:
    from training.aitk import save_aitk
    from training.config import load_config

    cfg = load_config(config)
    notes = save_aitk(cfg, out)
    print(f"wrote ai-toolkit job {out}")
    for note in notes:
        print(f"note: {note}")
    return 0


def _from_aitk(args: argparse.Namespace) -> int:
    import yaml

    from training.aitk import import_aitk
    from training.config_errors import ConfigError
    from training.config_ops import check_paths, config_to_dict, config_warnings, save_config
    from training.errors import RunLockedError

    job = Path(args.from_aitk)
    if isinstance(args.validate, str):
        _err("likeness train: --validate takes no CONFIG with --from-aitk")
        return EXIT_CONFIG
    cfg, report = import_aitk(job, trigger=args.trigger, base_dir=Path.cwd())
    print(report.summary())
    for line in report.lines():
        print(f"  {line}")
    for warning in config_warnings(cfg):
        print(f"note: {warning}")
    if args.validate:
        problems = check_paths(cfg)
        if problems:
            raise ConfigError(str(job), problems)
        print(f"{job}: valid ({cfg.train.steps} steps, rank {cfg.network.rank}, "
              f"resolutions {cfg.resolutions}, run folder {cfg.run_dir}); nothing written")  # fmt: skip
        return 0
    target = cfg.run_dir / "config.yaml"
    if args.dry_run:
        print(f"# would write {target}")
        print(yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True), end="")
        return 0
    problems = check_paths(cfg)
    if problems:
        raise ConfigError(str(job), problems)
    if not (args.resume or args.overwrite) and _refuse_overwrite(cfg, target):
        return EXIT_CONFIG
    if not _gate(cfg, force=args.force):
        return EXIT_CONFIG
    locked = _live_trainer(cfg.run_dir)
    if locked is not None:  # never rewrite the config of a run that is training now
        _err(f"likeness train: {locked}")
        return RunLockedError.exit_status
    if target.exists():
        _keep_previous(target, cfg, is_job=target.resolve() == job.resolve())
    else:
        save_config(cfg, target)
    print(f"wrote {target}")
    return launch(target, resume=args.resume, plain=args.plain, overwrite=args.overwrite)


def _live_trainer(run_dir: Path) -> str | None:
    """What to tell the user when a live trainer holds ``run_dir`` (None: nobody does)."""
    from training.runlock import describe_owner, holder

    owner = holder(run_dir)
    if owner is None:
        return None
    return (
        f"another trainer is using {run_dir} ({describe_owner(owner)}): its config.yaml is "
        f"left as it is; stop it first (write `stop` into {run_dir / 'control'} or end pid "
        f"{owner.get('pid', '?')}), then start again"
    )


def _gate(cfg: Any, *, force: bool) -> bool:
    """The launch gate (``curation.gate``) on every dataset of ``cfg``; False: refused."""
    from curation.gate import check_folder

    refused = False
    for ds in cfg.datasets:
        result = check_folder(str(ds.folder), trigger=cfg.trigger)
        for note in result.notes:
            print(f"note: {ds.folder}: {note}")
        if result.ok:
            continue
        refused = True
        stream = sys.stdout if force else sys.stderr
        head = "training anyway (--force)" if force else "not ready to train"
        print(f"{ds.folder}: {head}:", file=stream)
        for reason in result.reasons:
            print(f"  {reason.line()}", file=stream)
    if refused and not force:
        _err("likeness train: fix these (see `likeness captions lint`), or pass --force")
        return False
    return True


def _refuse_overwrite(cfg: Any, config: Path) -> bool:
    """True (with a message) when the run folder already holds checkpoints of this name.

    Starting over there would mix two runs and let keep-last delete the older checkpoints.
    """
    import re

    pattern = re.compile(rf"^{re.escape(cfg.name)}_(\d{{9}})\.safetensors$")
    steps = []
    if cfg.run_dir.is_dir():
        steps = [int(m.group(1)) for p in cfg.run_dir.iterdir() if (m := pattern.match(p.name))]
    if not steps:
        return False
    _err(
        f"likeness train: {cfg.run_dir} already holds a run of {cfg.name} (checkpoints up to "
        f"step {max(steps)}).\n  continue it:  likeness train {config} --resume\n"
        "  or start another run: change `name` in the config\n"
        f"  or start over there: likeness train {config} --overwrite (the old run is moved "
        "into a previous-<timestamp> folder)"
    )
    return True


def _keep_previous(target: Path, cfg: Any, *, is_job: bool) -> None:
    """Write ``cfg`` to ``target``, keeping a different file that was there under a new name."""
    from training.config_ops import save_config

    fresh = save_config(cfg, target.with_name("config.new.yaml"))
    old = target.read_text(encoding="utf-8", errors="replace")
    if fresh.read_text(encoding="utf-8") != old:
        stem = "aitk_job" if is_job else "config.previous"
        backup, n = target.with_name(f"{stem}.yaml"), 1
        while backup.exists():
            n += 1
            backup = target.with_name(f"{stem}.{n}.yaml")
        target.replace(backup)
        what = "the ai-toolkit job" if is_job else f"the previous {target.name}"
        print(f"note: kept {what} as {backup}")
    fresh.replace(target)


def trainer_command(config: Path, resume: bool, overwrite: bool = False) -> list[str]:
    """The trainer's command line (``LIKENESS_TRAINER_CMD`` replaces ``python -m training``)."""
    import shlex

    prefix = os.environ.get("LIKENESS_TRAINER_CMD")
    base = shlex.split(prefix) if prefix else [sys.executable, "-m", "training"]
    flags = ["--resume"] if resume else (["--overwrite"] if overwrite else [])
    return [*base, "run", str(config), *flags]


def launch(
    config: Path, *, resume: bool = False, plain: bool = False, overwrite: bool = False
) -> int:
    """Run the trainer on ``config`` with a progress view; returns the exit status."""
    from desktop.cli.train_process import TrainerSession
    from desktop.cli.train_view import TrainView

    view = TrainView(sys.stdout, tty=False if plain else None)
    session = TrainerSession(trainer_command(config, resume, overwrite), view)
    code = session.run()
    if view.done is not None and view.done.get("reason") == "stopped":
        print(f"continue with: likeness train {config} --resume")
    return code
