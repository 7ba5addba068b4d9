"""Turn pydantic validation errors into plain messages, one per bad field, with its path.

``train.lr: must be > 0, got -1``; ``train.optimzer: unknown setting — did you mean
'optimizer'?``. Used by ``training.config`` and ``training.aitk``.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from training.errors import ConfigInvalidError

# ai-toolkit (and kohya) names people type by habit -> our name, for better suggestions.
HABIT_NAMES = {
    "linear": "rank",
    "network_dim": "rank",
    "linear_alpha": "alpha",
    "network_alpha": "alpha",
    "save_every": "every",
    "sample_every": "every",
    "max_step_saves_to_keep": "keep_last",
    "num_repeats": "repeats",
    "resolution": "resolutions",
    "folder_path": "folder",
    "guidance_scale": "guidance",
    "sample_steps": "steps",
    "trigger_word": "trigger",
    "gradient_accumulation_steps": "gradient_accumulation",
    "lr_scheduler": "scheduler",
    "timestep_type": "timestep_sampling",
    "loss_type": "loss",
    "caption_dropout_rate": "caption_dropout",
    "train_batch_size": "batch_size",
    "learning_rate": "lr",
    "mixed_precision": "precision",
    "ema_config": "ema",
    "use_ema": "enabled",
    "ema_decay": "decay",
    "quantize": "quantize_transformer",
    "quantize_te": "quantize_text_encoder",
    "assistant_lora_path": "training_adapter",
    "num_warmup_steps": "warmup_steps",
    "lr_warmup_steps": "warmup_steps",
    "samples": "prompts",
    "neg": "negative",
    "skip_first_sample": "skip_first",
    "output_dir": "training_folder",
    "flip": "flip_x",
}

PATTERN_HINTS = {
    "name": "use letters, digits, '.', '_' or '-' (it becomes file names), starting with a "
    "letter or digit, at most 100 characters",
    "device": "use auto, cpu, mps, cuda or cuda:N",
}


class ConfigError(ConfigInvalidError, ValueError):
    """An invalid run config. ``problems`` holds (path, message) for every bad field."""

    def __init__(self, source: str, problems: list[tuple[str, str]]):
        self.source = source
        self.problems = problems
        super().__init__(self.render(), details=self.lines())

    def lines(self) -> list[str]:
        return [f"{path}: {msg}" if path else msg for path, msg in self.problems]

    def render(self) -> str:
        n = len(self.problems)
        head = f"{self.source}: {n} problem{'s' if n != 1 else ''}"
        return head + "".join(f"\n  {line}" for line in self.lines())


def loc_to_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin is not None or isinstance(annotation, types.UnionType):
        for arg in typing.get_args(annotation):
            found.extend(_models_in(arg))
    return found


def model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The config section class that a location points into (for suggestions)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        models = _models_in(field.annotation)
        model = models[0] if models else None
    return model


def field_paths(root: type[BaseModel], prefix: str = "") -> list[str]:
    """Every setting path under ``root`` (``datasets[].folder`` for list items)."""
    out: list[str] = []
    for name, info in root.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        is_list = typing.get_origin(info.annotation) is list
        for sub in _models_in(info.annotation):
            out += field_paths(sub, f"{path}[]." if is_list else f"{path}.")
    return out


def suggest(word: str, choices: list[str]) -> str | None:
    if word in HABIT_NAMES and HABIT_NAMES[word] in choices:
        return HABIT_NAMES[word]
    lowered = {c.lower(): c for c in choices}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _message(err: dict[str, Any], root: type[BaseModel]) -> tuple[str, str]:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    value = err.get("input")
    path = loc_to_path(loc)
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        parent = model_at(root, loc[:-1])
        fields = list(parent.model_fields) if parent else []
        elsewhere = [p for p in field_paths(root) if p.rsplit(".", 1)[-1] == key]
        if key not in fields and elsewhere:
            where = " or ".join(elsewhere[:2])
            return path, f"unknown setting in this section — it belongs at {where}"
        hint = suggest(key, fields)
        if hint:
            return path, f"unknown setting — did you mean '{hint}'?"
        known = ", ".join(fields)
        return (
            path,
            f"unknown setting (this section takes: {known})" if known else "unknown setting",
        )
    if kind == "missing":
        return path, "required, but missing"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<"}.get(kind, "<=")
        bound = next(iter(ctx.values()), "?")
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return path, f"must be {op} {bound}, got {_show(value)}"
    if kind == "literal_error":
        expected = ctx.get("expected", "")
        options = re.findall(r"'([^']*)'|(\d+)", expected)
        choices = [a or b for a, b in options]
        msg = f"must be one of {', '.join(repr(c) for c in choices)}; got {_show(value)}"
        if isinstance(value, str):
            hint = suggest(value, choices)
            if hint and hint != value:
                msg += f" — did you mean '{hint}'?"
        return path, msg
    if kind == "string_pattern_mismatch":
        hint = PATTERN_HINTS.get(str(loc[-1]) if loc else "", "has an unexpected form")
        return path, f"{hint}; got {_show(value)}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return path, f"must be a whole number, got {_show(value)}"
    if kind == "int_parsing_size":
        return path, f"is far too large, got {_show(value)}"
    if kind in ("float_parsing", "float_type"):
        return path, f"must be a number, got {_show(value)}"
    if kind in ("bool_parsing", "bool_type"):
        return path, f"must be true or false, got {_show(value)}"
    if kind in ("string_type", "path_type"):
        return path, f"must be text, got {_show(value)}"
    if kind in ("list_type", "tuple_type"):
        return path, f"must be a list, got {_show(value)}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return path, f"must be a section of settings (a mapping), got {_show(value)}"
    if kind == "too_short":
        if isinstance(value, str):
            return path, "must not be empty"
        return path, f"needs at least {ctx.get('min_length', 1)} item(s)"
    if kind == "too_long":
        return path, f"too long (at most {ctx.get('max_length')})"
    if kind == "value_error":
        msg = str(err.get("msg", "")).removeprefix("Value error, ")
        # Section validators say "field: message"; attach the field to the section's path.
        m = re.match(r"^([A-Za-z_][\w.]*(?:\[\d+\])?(?:\.[\w]+)*): (.*)$", msg, re.S)
        if m:
            sub = m.group(1)
            return (f"{path}.{sub}" if path else sub), m.group(2)
        return path, msg
    return path, str(err.get("msg", kind))


def format_validation_error(exc: ValidationError, root: type[BaseModel]) -> list[tuple[str, str]]:
    """Every error in ``exc`` as (path, plain message), in document order, without repeats."""
    out: list[tuple[str, str]] = []
    for err in exc.errors(include_url=False):
        item = _message(dict(err), root)
        if item not in out:
            out.append(item)
    return out
