"""Import ai-toolkit job files (YAML or JSON) as Likeness run configs, with an honest report.

The rule: an imported job trains what ai-toolkit would train. Every key of the job is either
mapped to the Likeness setting that does the same, recognised as inert (``train_unet: true``),
or listed in the ``ImportReport`` with its path and why. Where ai-toolkit reads a value
differently from what its name says (Prodigy below lr 0.1 runs at 1.0, ``linear_alpha`` has no
effect for Z-Image, ...), the run follows ai-toolkit and the report says so (``as_aitk``);
where Likeness cannot do the same (NF4 for qfloat8), the report says what it does instead
(``approximated``). Keys missing from the job take ai-toolkit's defaults where they decide
what trains beyond the obvious (optimizer eps and weight decay, Prodigy's flags, caption
dropout, the timestep type); the rest (steps, lr, rank, ...) take Likeness's, and the
important ones are named in the notes.

Settings ai-toolkit cannot express are written by ``export_aitk`` under ``meta.likeness``
(ai-toolkit ignores ``meta``), so import -> export -> import gives the same RunConfig.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from training.aitk.job import Importer, ImportReport, set_path, walk
from training.aitk.mapping import map_job
from training.aitk.tables import P0
from training.config import RunConfig, read_mapping, validate_config
from training.config_errors import ConfigError
from training.config_ops import config_to_dict


def import_aitk(
    path: str | Path, *, trigger: str | None = None, base_dir: Path | None = None
) -> tuple[RunConfig, ImportReport]:
    """Read an ai-toolkit job file (YAML or JSON) into a RunConfig and an ImportReport.

    Relative paths in the job are resolved against ``base_dir`` (ai-toolkit resolves them
    against its working folder); with ``base_dir=None`` they are kept as written.
    ``trigger`` is used when the job has no ``trigger_word``. Raises ConfigError.
    """
    path = Path(path)
    return import_aitk_dict(
        read_mapping(path), source=str(path), trigger=trigger, base_dir=base_dir
    )


def import_aitk_dict(
    job: dict[str, Any],
    *,
    source: str = "ai-toolkit job",
    trigger: str | None = None,
    base_dir: Path | None = None,
) -> tuple[RunConfig, ImportReport]:
    imp = Importer(source, base_dir)
    extras = map_job(imp, job, trigger)
    for node in imp.nodes:
        node.finish()
    order = {p: i for i, p in enumerate(walk(job))}
    for items in (imp.report.unmapped, imp.report.approximated, imp.report.as_aitk):
        items.sort(key=lambda item: order.get(item.path, len(order)))
    for target, value in extras.items():
        try:
            set_path(imp.out, target, value)
        except (TypeError, IndexError, KeyError):
            imp.problem(f"meta.likeness.{target}", "not a Likeness setting")
        imp.origin[target] = f"meta.likeness.{target}"
    if imp.problems and not imp.out.get("datasets"):
        raise ConfigError(source, imp.problems)
    try:
        cfg = validate_config(imp.out, source=source)
    except ConfigError as exc:
        raise ConfigError(source, imp.problems + _explain(exc.problems, imp.origin)) from None
    if imp.problems:
        raise ConfigError(source, imp.problems)
    _note_defaults(cfg, imp)
    return cfg, imp.report


# Settings that change a run a lot: when the job leaves them out, say what Likeness uses
# (ai-toolkit's own defaults differ for some of them, e.g. one 512 px bucket).
KEY_SETTINGS = {
    "network.rank": "network.linear",
    "train.steps": "train.steps",
    "train.lr": "train.lr",
    "train.optimizer": "train.optimizer",
    "save.every": "save.save_every",
    "sample.every": "sample.sample_every",
    "sample.steps": "sample.sample_steps",
    "sample.guidance": "sample.guidance_scale",
}


def _note_defaults(cfg: RunConfig, imp: Importer) -> None:
    data = config_to_dict(cfg)
    for ours, theirs in KEY_SETTINGS.items():
        if ours not in imp.origin:
            section, key = ours.split(".")
            imp.report.notes.append(
                f"{P0}.{theirs} is not set: Likeness uses {key} {data[section][key]!r}"
            )
    if not imp.out.get("sample", {}).get("prompts"):
        imp.report.notes.append(
            f"{P0}.sample has no prompts: Likeness uses its {len(cfg.sample.prompts)} default "
            "prompts (new poses, outfits and places in all three shot tiers)"
        )
    for i, ds in enumerate(cfg.datasets):
        if f"datasets[{i}].resolutions" not in imp.origin:
            imp.report.notes.append(
                f"{P0}.datasets[{i}].resolution is not set: Likeness uses {ds.resolutions}"
            )


def _explain(problems: list[tuple[str, str]], origin: dict[str, str]) -> list[tuple[str, str]]:
    """Point Likeness paths back at the ai-toolkit keys they came from."""
    out = []
    for path, msg in problems:
        best = max(
            (k for k in origin if path == k or path.startswith((k + ".", k + "["))),
            key=len,
            default=None,
        )
        if best is not None:
            out.append((origin[best] + path[len(best) :], f"{msg} (Likeness setting {path})"))
        else:
            out.append((path, msg))
    return out
