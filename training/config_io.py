"""Reading, writing and checking run configs (re-exported by ``training.config``).

Kept apart from the models so that each file stays readable; it never imports
``training.config`` (which imports it), so there is no import cycle.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.config_errors import ConfigError

if TYPE_CHECKING:
    from training.config import RunConfig

log = logging.getLogger(__name__)


MAX_CONFIG_BYTES = 1 << 20  # a run config is a few KB; 1 MB is far beyond any real one
MAX_CONFIG_DEPTH = 32  # the real configs nest 4 levels deep
MAX_CONFIG_VALUES = 100_000


def read_mapping(path: Path) -> dict[str, Any]:
    """Read a YAML (``yaml.safe_load``) or JSON file into a dict, with a clear ConfigError.
    Files over ``MAX_CONFIG_BYTES`` or nested deeper than ``MAX_CONFIG_DEPTH`` are refused."""
    import yaml

    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(
                str(path),
                [("", f"the file is {size} bytes; a run config is at most {MAX_CONFIG_BYTES}")],
            )
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(str(path), [("", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [("", f"cannot read the file ({exc})")]) from None
    too_deep = ConfigError(
        str(path), [("", f"nested more than {MAX_CONFIG_DEPTH} levels deep; not a run config")]
    )
    if _bracket_depth(text) > MAX_CONFIG_DEPTH:
        raise too_deep
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            data = yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(str(path), [("", f"not valid {_kind(path)}: {exc}")]) from None
    except RecursionError:
        raise too_deep from None
    if not isinstance(data, dict):
        raise ConfigError(
            str(path), [("", f"expected a mapping of settings in this {_kind(path)} file")]
        )
    if _too_big(data):
        raise ConfigError(
            str(path),
            [
                (
                    "",
                    f"nested more than {MAX_CONFIG_DEPTH} levels deep or more than "
                    f"{MAX_CONFIG_VALUES} values (YAML aliases expanded); not a run config",
                )
            ],
        )
    return data


def _bracket_depth(text: str) -> int:
    """The deepest nesting of [ ] / { } in ``text`` (a cheap guard before the parser, whose
    recursion would otherwise end in a RecursionError); brackets in strings count too, which
    only ever over-estimates."""
    depth = deepest = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth = max(0, depth - 1)
    return deepest


def _too_big(value: Any) -> bool:
    """Nested deeper than ``MAX_CONFIG_DEPTH`` (indentation-nested YAML has no brackets) or
    more than ``MAX_CONFIG_VALUES`` values once YAML aliases are expanded (an alias bomb);
    walked iteratively, so it cannot recurse too deep itself."""
    stack, count = [(value, 0)], 0
    while stack:
        item, depth = stack.pop()
        count += 1
        if depth > MAX_CONFIG_DEPTH or count > MAX_CONFIG_VALUES:
            return True
        if isinstance(item, dict):
            stack += [(v, depth + 1) for v in item.values()]
        elif isinstance(item, list):
            stack += [(v, depth + 1) for v in item]
    return False


def _kind(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "YAML"


def resolve_relative_paths(cfg: RunConfig, base: Path) -> RunConfig:
    """A copy of ``cfg`` with every relative path made absolute against ``base``."""
    base = Path(base).resolve()

    def fix(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = Path(p).expanduser()
        return p if p.is_absolute() else base / p

    data = cfg.model_dump()
    data["training_folder"] = fix(cfg.training_folder)
    for ds in data["datasets"]:
        ds["folder"] = fix(ds["folder"])
    model = data["model"]
    for key in ("transformer_file", "text_encoder_file", "vae_file"):
        model[key] = fix(model[key])
    if cfg.model.source == "local":
        model["name_or_path"] = str(fix(Path(cfg.model.name_or_path)))
    adapter = cfg.model.training_adapter.path
    if adapter.startswith((".", "~")) or Path(adapter).suffix and Path(base / adapter).exists():
        model["training_adapter"]["path"] = str(fix(Path(adapter)))
    return type(cfg).model_validate(data)


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
