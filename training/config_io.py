"""Reading a run config file safely: size, depth and value limits (``read_mapping``).

Knows nothing of ``RunConfig``: ``training.config`` validates what this reads, and
``training.config_ops`` writes and checks a ``RunConfig``. Neither is imported here.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from training.config_errors import ConfigError

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
