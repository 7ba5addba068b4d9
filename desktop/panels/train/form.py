"""The new-run form's model, without Qt: defaults from what the app knows, every setting of
``RunConfig`` as an editable field (generated from the config model: one source of truth),
live validation with the trainer's own ``validate_config``, and the config written.

The form holds one nested mapping, exactly the YAML ``likeness train CONFIG`` takes; fields
are addressed by path (``train.lr``, ``datasets[0].repeats``).
"""

from __future__ import annotations

import copy
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from training.config import RunConfig, validate_config
from training.config_docs import field_help
from training.config_errors import ConfigError
from training.config_ops import config_to_dict

# shown in the basic part of the form (or edited by it), not again under Advanced
BASIC_PATHS = ("name", "trigger", "train.steps", "save.every", "sample.every", "sample.prompts")
HIDDEN_PATHS = ("schema_version", "datasets[0].folder")


@dataclass(frozen=True)
class FieldSpec:
    path: str
    kind: str  # "bool" | "choice" | "text"
    choices: tuple[Any, ...] = ()
    help: str = ""
    optional: bool = False


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    args = typing.get_args(annotation)
    if args and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else annotation), True
    return annotation, False


def _literal_choices(annotation: Any) -> tuple[Any, ...]:
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)
    return ()


def field_specs(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[FieldSpec]:
    """Every leaf setting of ``model``, in declaration order (lists of sections: item 0)."""
    out: list[FieldSpec] = []
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation, optional = _unwrap(info.annotation)
        origin = typing.get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            out.extend(field_specs(annotation, f"{path}."))
            continue
        if origin is list:
            (item,) = typing.get_args(annotation) or (None,)
            if isinstance(item, type) and issubclass(item, BaseModel):
                out.extend(field_specs(item, f"{path}[0]."))
                continue
        help_text = field_help(re.sub(r"\[\d+\]", "[]", path)) or ""
        choices = _literal_choices(annotation)
        if annotation is bool and optional:  # null = automatic
            kind, choices = "choice", (None, True, False)
        elif annotation is bool:
            kind = "bool"
        elif choices:
            kind = "choice"
        else:
            kind = "text"
        out.append(FieldSpec(path, kind, choices, help_text, optional))
    return out


def advanced_specs() -> list[FieldSpec]:
    return [s for s in field_specs() if s.path not in BASIC_PATHS and s.path not in HIDDEN_PATHS]


_PART = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")


def get_path(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for key, index in _PART.findall(path):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
        if index:
            node = node[int(index)] if isinstance(node, list) and len(node) > int(index) else None
    return node


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    parts = _PART.findall(path)
    node: Any = data
    for i, (key, index) in enumerate(parts):
        last = i == len(parts) - 1
        if index:
            lst = node.setdefault(key, [])
            while len(lst) <= int(index):
                lst.append({})
            if last:
                lst[int(index)] = value
            else:
                node = lst[int(index)]
        elif last:
            node[key] = value
        else:
            node = node.setdefault(key, {})


def parse_text(text: str) -> Any:
    """A field's text as YAML scalar/list (``1e-4``, ``null``, ``[0.9, 0.99]``), else the text."""
    import yaml

    stripped = text.strip()
    if stripped == "":
        return None
    try:
        return yaml.safe_load(stripped)
    except yaml.YAMLError:
        return stripped


def show_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show_value(v) for v in value) + "]"
    return str(value)


@dataclass
class RunForm:
    """One new run's settings; ``errors`` maps a field path to its message ("" = the whole
    config)."""

    data: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)
    config: RunConfig | None = None

    def get(self, path: str) -> Any:
        return get_path(self.data, path)

    def set(self, path: str, value: Any) -> dict[str, str]:
        set_path(self.data, path, value)
        return self.validate()

    @property
    def prompts(self) -> list[str]:
        return list(self.get("sample.prompts") or [])

    def validate(self) -> dict[str, str]:
        try:
            self.config = validate_config(copy.deepcopy(self.data), source="new run")
            self.errors = {}
        except ConfigError as exc:
            self.config = None
            self.errors = {}
            for path, message in exc.problems:
                self.errors.setdefault(path, message)
        return self.errors

    def error_for(self, path: str) -> str | None:
        """The message of ``path`` or of a section that contains it."""
        for key, message in self.errors.items():
            if key == path or (key and path.startswith(key + ".")):
                return message
        return None

    def yaml_text(self) -> str:
        """The config as ``likeness train CONFIG`` reads it (validated first)."""
        from training.config_docs import commented_yaml

        if self.validate() or self.config is None:
            raise ConfigError("new run", list(self.errors.items()))
        return commented_yaml(config_to_dict(self.config))

    def write(self, path: Path) -> Path:
        from training.config_ops import save_config

        if self.validate() or self.config is None:
            raise ConfigError("new run", list(self.errors.items()))
        return save_config(self.config, path)

    @classmethod
    def from_config(cls, cfg: RunConfig) -> RunForm:
        form = cls(config_to_dict(cfg))
        form.validate()
        return form
