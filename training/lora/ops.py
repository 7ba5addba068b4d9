"""The LoRA tools as pure functions on ``LoraFile``: scale, merge, resize (convert is a save in
another format). Each returns a new ``LoraFile`` plus what the CLI / dialog reports, and never
changes its inputs.

Low-rank algebra keeps this fast at Z-Image's real sizes: a merged or resized module's delta
``U @ D`` (out x K, K x in) is factored as ``Qu Ru Rdᵀ Qdᵀ`` with two thin QR decompositions, so
the SVD runs on a K x K core instead of a 3840 x 10240 matrix, with the same result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from training.lora.model import LoraError, LoraFile, LoraModule
from training.lora.weights import Weights


def scale_lora(lora: LoraFile, weights: Weights) -> LoraFile:
    """Every module's scale times ``weights.multiplier(name)``; modules at 0 are dropped."""
    out = lora.copy()
    for name in list(out.modules):
        mult = weights.multiplier(name)
        if mult == 0.0:
            del out.modules[name]
        else:
            out.modules[name].scale *= mult
    if not out.modules:
        raise LoraError("every module was weighted 0: the result would be empty")
    return out


@dataclass
class MergeInput:
    lora: LoraFile
    weight: float = 1.0
    weights: Weights = field(default_factory=Weights)


@dataclass
class Factorisation:
    """What a rank reduction kept: per module, the fraction of the delta's energy
    (sum of squared singular values) that survives."""

    rank: int
    energy: dict[str, float]

    @property
    def mean(self) -> float:
        return sum(self.energy.values()) / max(1, len(self.energy))

    @property
    def worst(self) -> tuple[str, float]:
        return min(self.energy.items(), key=lambda kv: kv[1]) if self.energy else ("", 1.0)

    def to_dict(self) -> dict[str, Any]:
        name, low = self.worst
        return {
            "rank": self.rank,
            "energy_kept_mean": self.mean,
            "energy_kept_min": low,
            "energy_kept_min_module": name,
            "energy_kept": self.energy,
        }


def _factors(parts: list[tuple[Any, Any, float]]):
    """[(down, up, coefficient)] -> (D, U) with U @ D == sum(coefficient * up @ down), fp32."""
    import torch

    downs = [d.float() for d, _, _ in parts]
    ups = [u.float() * c for _, u, c in parts]
    return torch.cat(downs, 0), torch.cat(ups, 1)


def _truncate(down, up, rank: int) -> tuple[Any, Any, float]:
    """Best rank-``rank`` factors of ``up @ down`` (fp32) and the energy fraction kept."""
    import torch

    qu, ru = torch.linalg.qr(up)  # up = qu ru
    qd, rd = torch.linalg.qr(down.T)  # down = rdᵀ qdᵀ
    u, s, vh = torch.linalg.svd(ru @ rd.T)
    total = float((s**2).sum())
    r = min(rank, int(s.shape[0]))
    kept = float((s[:r] ** 2).sum()) / total if total > 0 else 1.0
    root = s[:r].sqrt()
    new_up = (qu @ u[:, :r]) * root
    new_down = root[:, None] * (vh[:r] @ qd.T)
    return new_down, new_up, kept


def merge_loras(
    inputs: list[MergeInput], rank: int | None = None
) -> tuple[LoraFile, Factorisation | None]:
    """Sum the weighted deltas of ``inputs``. Without ``rank`` the factors are concatenated
    (exact; ranks add up); with it each module is re-factorised by SVD to at most ``rank``."""
    if not inputs:
        raise LoraError("nothing to merge")
    if rank is not None and rank < 1:
        raise LoraError("the rank must be at least 1")
    names: list[str] = []
    for item in inputs:
        names += [n for n in item.lora.modules if n not in names]
    modules: dict[str, LoraModule] = {}
    energy: dict[str, float] = {}
    for name in sorted(names):
        parts = []
        for item in inputs:
            mod = item.lora.modules.get(name)
            coef = item.weight * item.weights.multiplier(name) if mod is not None else 0.0
            if mod is not None and coef != 0.0:
                parts.append((mod.down, mod.up, coef * mod.scale))
        if not parts:
            continue
        shapes = {(int(u.shape[0]), int(d.shape[1])) for d, u, _ in parts}
        if len(shapes) > 1:
            raise LoraError(f"{name}: the LoRAs change weights of different shapes {shapes}")
        down, up = _factors(parts)
        if rank is not None and down.shape[0] > rank:
            down, up, energy[name] = _truncate(down, up, rank)
        elif rank is not None:
            energy[name] = 1.0
        modules[name] = LoraModule(down, up, 1.0)
    if not modules:
        raise LoraError("every module was weighted 0: the result would be empty")
    first = inputs[0].lora
    merged = LoraFile(
        modules=modules,
        metadata=dict(first.metadata),
        source_format=first.source_format,
        dtype=first.dtype,
    )
    return merged, (Factorisation(rank, energy) if rank is not None else None)


def resize_lora(lora: LoraFile, rank: int) -> tuple[LoraFile, Factorisation]:
    """Each module's delta re-factorised by SVD to at most ``rank`` (the scale folded in);
    modules already at or below it are kept as they are."""
    if rank < 1:
        raise LoraError("the rank must be at least 1")
    out = lora.copy()
    energy: dict[str, float] = {}
    for name, mod in out.modules.items():
        if mod.rank <= rank:
            energy[name] = 1.0
            continue
        down, up, energy[name] = _truncate(mod.down.float(), mod.up.float() * mod.scale, rank)
        out.modules[name] = LoraModule(down, up, 1.0)
    return out, Factorisation(rank, energy)


def delta_difference(a: LoraModule, b: LoraModule) -> float:
    """Frobenius norm of ``a.delta() - b.delta()`` relative to ``a``'s, without full matrices."""

    def gram(x: LoraModule, y: LoraModule) -> float:  # tr((x.up y.down)ᵀ ...) in float64
        up = (x.up.double().T @ y.up.double()) * (x.scale * y.scale)
        return float((up * (x.down.double() @ y.down.double().T)).sum())

    aa, bb, ab = gram(a, a), gram(b, b), gram(a, b)
    diff = max(aa + bb - 2 * ab, 0.0)
    return math.sqrt(diff) / math.sqrt(aa) if aa > 0 else math.sqrt(diff)


def compare_loras(a: LoraFile, b: LoraFile) -> tuple[float, list[str]]:
    """(largest relative delta difference over the modules both hold, modules only one holds).
    Identical factors are recognised without arithmetic; others go through ``delta_difference``."""
    only = sorted(set(a.modules) ^ set(b.modules))
    worst = 0.0
    for name in sorted(set(a.modules) & set(b.modules)):
        x, y = a.modules[name], b.modules[name]
        same = (
            x.scale == y.scale
            and x.down.shape == y.down.shape
            and x.up.shape == y.up.shape
            and _equal(x.down, y.down)
            and _equal(x.up, y.up)
        )
        if not same:
            worst = max(worst, delta_difference(x, y))
    return worst, only


def _equal(x, y) -> bool:
    import torch

    if x.dtype == y.dtype:
        return torch.equal(x, y)
    return torch.equal(x.float(), y.float())
