"""Per-module multipliers: a global strength, layer-range rules and component rules.

``Weights(strength=0.8, layers=[("0-9", 0.5)], components=[("adaLN", 0)])`` gives every
module the product of the strength, the last layer rule that matches its block and the last
component rule that matches its component. Named presets live in
``resources/lora/presets.yaml`` (data, not code).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from training.lora.model import (
    NUM_LAYERS,
    LoraError,
    component_matches,
    resolve_component,
    split_name,
)

_RANGE = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")
_KINDS: dict[str, tuple[str, ...]] = {
    "layers": ("layers",),
    "noise_refiner": ("noise_refiner",),
    "context_refiner": ("context_refiner",),
    "refiners": ("noise_refiner", "context_refiner"),
}
_PRESET_KEYS = {"description", "strength", "layers", "components"}


def parse_selector(text: str) -> Callable[[str], bool]:
    """A layer selector -> predicate over block names (``layers.7``); LoraError if malformed."""
    sel = text.strip()
    m = _RANGE.match(sel)
    if m:
        lo = int(m.group(1))
        hi = int(m.group(2) if m.group(2) is not None else lo)
        if hi < lo:
            raise LoraError(f"layer range {text!r} runs backwards")
        return lambda block: block.startswith("layers.") and lo <= int(block.split(".")[1]) <= hi
    if sel in _KINDS:
        kinds = _KINDS[sel]
        return lambda block: block.split(".")[0] in kinds
    kind, _, index = sel.partition(".")
    if kind in ("noise_refiner", "context_refiner", "layers") and index.isdigit():
        target = f"{kind}.{int(index)}"
        return lambda block: block == target
    raise LoraError(
        f"unknown layer selector {text!r}: use N, N-M (0-{NUM_LAYERS - 1}), layers, "
        "noise_refiner, context_refiner, refiners or noise_refiner.N"
    )


def parse_assignment(text: str) -> tuple[str, float]:
    """``"0-9=0.5"`` -> ("0-9", 0.5); LoraError when it is not ``WHAT=NUMBER``."""
    what, sep, value = text.rpartition("=")
    if not sep or not what.strip():
        raise LoraError(f"{text!r}: expected WHAT=MULTIPLIER, e.g. 0-9=0.5 or adaLN=0")
    try:
        number = float(value)
    except ValueError:
        raise LoraError(f"{text!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise LoraError(f"{text!r}: the multiplier must be a finite number")
    return what.strip(), number


@dataclass
class Weights:
    strength: float = 1.0
    layers: list[tuple[str, float]] = field(default_factory=list)
    components: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not math.isfinite(self.strength):
            raise LoraError("the strength must be a finite number")
        self._layer_rules = [(parse_selector(s), float(v)) for s, v in self.layers]
        self._comp_rules = [(resolve_component(p), float(v)) for p, v in self.components]

    def multiplier(self, name: str) -> float:
        block, component = split_name(name)
        layer = next((v for pred, v in reversed(self._layer_rules) if pred(block)), 1.0)
        comp = next(
            (v for pat, v in reversed(self._comp_rules) if component_matches(component, pat)),
            1.0,
        )
        return self.strength * layer * comp

    def is_identity(self) -> bool:
        return self.strength == 1.0 and not self.layers and not self.components

    def unmatched(self, names: list[str]) -> list[str]:
        """Rules that match none of ``names`` (most likely a typo the user should hear of)."""
        blocks = {split_name(n)[0] for n in names}
        comps = {split_name(n)[1] for n in names}
        out = [
            f"layers {text}"
            for (text, _), (pred, _) in zip(self.layers, self._layer_rules, strict=True)
            if not any(pred(b) for b in blocks)
        ]
        out += [
            f"component {text}"
            for (text, _), (pat, _) in zip(self.components, self._comp_rules, strict=True)
            if not any(component_matches(c, pat) for c in comps)
        ]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "strength": self.strength,
            "layers": [list(r) for r in self.layers],
            "components": [list(r) for r in self.components],
        }

    def then(self, other: Weights) -> Weights:
        """These rules followed by ``other``'s (which win where both match); strengths multiply."""
        return Weights(
            self.strength * other.strength,
            [*self.layers, *other.layers],
            [*self.components, *other.components],
        )


def load_presets() -> dict[str, dict[str, Any]]:
    """name -> {"description", "weights": Weights} from the bundled presets file."""
    import yaml

    from resources import resource_path

    raw = yaml.safe_load(resource_path("lora", "presets.yaml").read_text(encoding="utf-8"))
    out: dict[str, dict[str, Any]] = {}
    for name, spec in (raw or {}).get("presets", {}).items():
        extra = set(spec) - _PRESET_KEYS
        if extra:
            raise LoraError(f"preset {name}: unknown keys {sorted(extra)}")
        weights = Weights(
            float(spec.get("strength", 1.0)),
            [(str(k), float(v)) for k, v in (spec.get("layers") or {}).items()],
            [(str(k), float(v)) for k, v in (spec.get("components") or {}).items()],
        )
        out[name] = {"description": str(spec.get("description", "")), "weights": weights}
    return out


def preset_weights(name: str) -> Weights:
    presets = load_presets()
    if name not in presets:
        raise LoraError(f"unknown preset {name!r}: one of {', '.join(sorted(presets))}")
    return presets[name]["weights"]
