"""Writing and checking a ``RunConfig``: ``save_config``, ``config_to_dict``,
``config_warnings``, ``check_paths``.

Apart from ``training.config`` (the models and ``load_config``) so that each file stays
readable; this module imports the config, never the other way round (no import cycle).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from training.config import RunConfig


def config_to_dict(cfg: RunConfig) -> dict[str, Any]:
    """Plain, JSON/YAML-safe dict of every setting (paths as strings)."""
    return cfg.model_dump(mode="json")


def save_config(cfg: RunConfig, path: str | Path) -> Path:
    """Write ``cfg`` as YAML (or JSON for a ``.json`` path) atomically; returns the path."""
    from training.config_docs import commented_yaml
    from training.fileio import atomic_write_text

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = config_to_dict(cfg)
    if path.suffix.lower() == ".json":
        text = json.dumps(data, indent=2) + "\n"
    else:
        text = commented_yaml(
            data,
            header="Likeness training run config. Check: likeness train --validate FILE; "
            "train: likeness train FILE",
        )
    return atomic_write_text(path, text)


def config_warnings(cfg: RunConfig) -> list[str]:
    """Settings that are valid but probably not what the user wants (shown, never fatal)."""
    out: list[str] = []
    t = cfg.train
    if t.optimizer == "prodigy" and t.lr < 0.1:
        out.append(f"train.lr: Prodigy adapts the step size itself and expects lr 1.0, got {t.lr}")
    if t.optimizer != "prodigy" and t.lr > 1e-2:
        out.append(f"train.lr: {t.lr} is very high for {t.optimizer}; LoRAs train at ~1e-4")
    if cfg.network.rank >= 64:
        out.append(f"network.rank: {cfg.network.rank} tends to overfit a character; try 16-32")
    if not 4 <= len(cfg.trigger) <= 8 or " " in cfg.trigger:
        out.append(
            f"trigger: {cfg.trigger!r}: a fresh 4-6 character token (like 'l3yla') binds best"
        )
    if cfg.train.caption_dropout > 0.2:
        out.append("train.caption_dropout: above 0.2 rarely helps; 0.05-0.1 is typical")
    if t.caption_source == "trigger_only":
        out.append(
            "train.caption_source: trigger_only: every image trains on the trigger alone and "
            "the captions are not used; set it to captions to train on them"
        )
    if any(d.flip_x for d in cfg.datasets):
        out.append("datasets.flip_x: flipping teaches that asymmetric features are noise")
    if (
        cfg.model.variant == "turbo"
        and cfg.train.steps > 5000
        and not cfg.model.uses_training_adapter
    ):
        out.append("train.steps: long Turbo runs without the training adapter break distillation")
    if cfg.model.variant != "turbo" and cfg.model.training_adapter.enabled:
        out.append("model.training_adapter: meant for Turbo; De-Turbo does not need it")
    if cfg.sample.guidance > 1.0 and cfg.model.variant == "turbo":
        out.append("sample.guidance: Turbo samples at guidance 0-1; more degrades the previews")
    if cfg.save.every > t.steps:
        out.append(
            f"save.every: {cfg.save.every} is more than train.steps ({t.steps}); only the final "
            "LoRA is saved, with nothing to compare it to"
        )
    if cfg.sample.enabled and cfg.sample.every > t.steps:
        out.append(f"sample.every: {cfg.sample.every} is more than train.steps; no previews")
    if cfg.save.every != cfg.sample.every and cfg.sample.enabled:
        out.append("sample.every: differs from save.every, so some checkpoints have no previews")
    return out


def check_paths(cfg: RunConfig) -> list[tuple[str, str]]:
    """Paths in ``cfg`` that do not exist on this machine (the run would fail on them)."""
    problems: list[tuple[str, str]] = []
    for i, ds in enumerate(cfg.datasets):
        if not Path(ds.folder).is_dir():
            problems.append((f"datasets[{i}].folder", f"folder not found: {ds.folder}"))
    m = cfg.model
    if m.source == "local" and not Path(m.name_or_path).is_dir():
        problems.append(("model.name_or_path", f"diffusers folder not found: {m.name_or_path}"))
    for key in ("transformer_file", "text_encoder_file", "vae_file"):
        value = getattr(m, key)
        if value is not None and not Path(value).is_file():
            problems.append((f"model.{key}", f"file not found: {value}"))
    adapter = m.training_adapter.path
    if m.uses_training_adapter and Path(adapter).is_absolute() and not Path(adapter).is_file():
        problems.append(("model.training_adapter.path", f"file not found: {adapter}"))
    folder = Path(cfg.training_folder)
    if folder.exists() and not folder.is_dir():
        problems.append(("training_folder", f"is a file, not a folder: {folder}"))
    return problems
