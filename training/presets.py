"""VRAM presets (8 / 12 / 16 / 24+ GB); the default sample prompts come from ``prompts``.

A preset is a partial run config in ``resources/presets/<name>.yaml`` under ``settings``; its
``dataset`` part applies to every dataset. Presets go on top of the defaults (or of a given
config); anything the user sets afterwards wins.
"""

from __future__ import annotations

import copy
import functools
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from resources import resource_path
from training.config import RunConfig, validate_config
from training.config_errors import ConfigError
from training.prompts import default_prompts

__all__ = ["PRESET_NAMES", "Preset", "apply_preset", "default_config", "default_prompts"]

log = logging.getLogger(__name__)

PRESET_NAMES = ("8gb", "12gb", "16gb", "24gb")


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    description: str
    settings: dict[str, Any]


def normalise_preset_name(name: str) -> str:
    """``8``, ``8GB``, ``8 gb``, ``24+``, ``24gb+`` -> ``8gb`` / ``24gb``."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:gb)?\s*\+?\s*", str(name).lower())
    key = f"{m.group(1)}gb" if m else str(name).lower()
    if key not in PRESET_NAMES:
        raise ConfigError(
            "preset",
            [("", f"unknown VRAM preset {name!r}; choose one of {', '.join(PRESET_NAMES)}")],
        )
    return key


@functools.cache
def _read_preset(key: str) -> Preset:
    import yaml

    path = resource_path("presets", f"{key}.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Preset(
        name=key,
        label=str(data.get("label", key)),
        description=str(data.get("description", "")),
        settings=data.get("settings") or {},
    )


def load_preset(name: str) -> Preset:
    return _read_preset(normalise_preset_name(name))


def list_presets() -> list[Preset]:
    return [load_preset(n) for n in PRESET_NAMES]


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def apply_preset_to_dict(data: dict[str, Any], name: str) -> dict[str, Any]:
    """``data`` (a raw run-config mapping) with the preset's settings on top."""
    settings = copy.deepcopy(load_preset(name).settings)
    dataset = settings.pop("dataset", {})
    merged = _deep_merge(data, settings)
    merged["datasets"] = [_deep_merge(ds, dataset) for ds in merged.get("datasets", [])]
    return merged


def apply_preset(cfg: RunConfig, name: str) -> RunConfig:
    """A copy of ``cfg`` with the preset's settings on top."""
    data = apply_preset_to_dict(cfg.model_dump(), name)
    return validate_config(data, source=f"preset {name}")


def default_config(
    name: str,
    trigger: str,
    dataset_folders: list[str | Path] | str | Path,
    *,
    preset: str | None = None,
    **sections: Any,
) -> RunConfig:
    """A run config with the guides' defaults (optionally a VRAM preset) for these datasets.

    ``sections`` are extra settings merged last, e.g. ``train={"steps": 2000}``.
    """
    if isinstance(dataset_folders, (str, Path)):
        dataset_folders = [dataset_folders]
    data: dict[str, Any] = {
        "name": name,
        "trigger": trigger,
        "datasets": [{"folder": str(f)} for f in dataset_folders],
    }
    if preset:
        data = apply_preset_to_dict(data, preset)
    data = _deep_merge(data, sections)
    return validate_config(data, source="default config")
