"""The bundled default preview prompts (``resources/prompts/default.yaml``).

Their own module because both the config (filling in ``sample.prompts``) and the presets need
them: the config cannot import the presets, which import the config.
"""

from __future__ import annotations

import functools

from resources import resource_path


@functools.lru_cache(maxsize=1)
def _prompts() -> tuple[str, ...]:
    import yaml

    path = resource_path("prompts", "default.yaml")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    prompts = tuple(str(p) for p in data.get("prompts", []) if str(p).strip())
    if not prompts:
        raise RuntimeError(f"no prompts in {path}")
    return prompts


def default_prompts(trigger: str | None = None) -> list[str]:
    """The bundled preview prompts, with ``[trigger]`` replaced when a trigger is given."""
    prompts = list(_prompts())
    if trigger:
        prompts = [p.replace("[trigger]", trigger) for p in prompts]
    return prompts
