"""File-to-file LoRA tools: read, apply one operation, write with its history entry. The CLI
(``likeness lora ...``) and the LoRA dialog both call these, so a file made either way records
the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.lora.io import load_lora, save_lora
from training.lora.model import LoraError, LoraFile
from training.lora.ops import (
    Factorisation,
    MergeInput,
    compare_loras,
    merge_loras,
    resize_lora,
    scale_lora,
)
from training.lora.weights import Weights


@dataclass
class ToolResult:
    out: Path
    lora: LoraFile  # what was written (before the dtype / layout of the file)
    source: LoraFile | None = None  # the (first) input
    energy: Factorisation | None = None
    notes: list[str] = field(default_factory=list)
    max_difference: float = 0.0  # convert: largest relative delta difference after re-reading
    missing: list[str] = field(default_factory=list)  # convert: modules lost on the way

    @property
    def identical(self) -> bool:
        """convert: every module's delta came back (within bf16 rounding)."""
        return not self.missing and self.max_difference <= 1e-2


def _unmatched(weights: Weights, names: list[str]) -> list[str]:
    return [f"{rule} matches no module of this LoRA" for rule in weights.unmatched(names)]


def scale_file(
    src: str | Path,
    out: str | Path,
    weights: Weights,
    *,
    fmt: str | None = None,
    dtype: str | None = None,
    overwrite: bool = False,
) -> ToolResult:
    lora = load_lora(src)
    notes = _unmatched(weights, list(lora.modules))
    result = scale_lora(lora, weights)
    op = {"operation": "scale", "source": Path(src).name, "weights": weights.to_dict()}
    path = save_lora(result, out, fmt=fmt, dtype=dtype, operation=op, overwrite=overwrite)
    return ToolResult(path, result, lora, notes=notes)


def merge_files(
    inputs: list[tuple[str | Path, float]],
    out: str | Path,
    weights: Weights | None = None,
    *,
    rank: int | None = None,
    fmt: str | None = None,
    dtype: str | None = None,
    overwrite: bool = False,
) -> ToolResult:
    """``inputs`` = [(path, weight)]; ``weights`` (per layer / component) apply to every input."""
    if len(inputs) < 2:
        raise LoraError("merge needs at least two LoRAs")
    weights = weights or Weights()
    items = [MergeInput(load_lora(p), w, weights) for p, w in inputs]
    names = sorted({n for item in items for n in item.lora.modules})
    merged, energy = merge_loras(items, rank=rank)
    op = {
        "operation": "merge",
        "inputs": [{"file": Path(p).name, "weight": w} for p, w in inputs],
        "rank": rank,
        "weights": weights.to_dict(),
    }
    path = save_lora(
        merged,
        out,
        fmt=fmt,
        dtype=dtype,
        operation=op,
        inputs=[p for p, _ in inputs],
        overwrite=overwrite,
    )
    return ToolResult(path, merged, items[0].lora, energy, _unmatched(weights, names))


def resize_file(
    src: str | Path,
    out: str | Path,
    rank: int,
    *,
    fmt: str | None = None,
    dtype: str | None = None,
    overwrite: bool = False,
) -> ToolResult:
    lora = load_lora(src)
    result, energy = resize_lora(lora, rank)
    op = {"operation": "resize", "source": Path(src).name, "rank": rank}
    path = save_lora(result, out, fmt=fmt, dtype=dtype, operation=op, overwrite=overwrite)
    return ToolResult(path, result, lora, energy)


def convert_file(
    src: str | Path,
    out: str | Path,
    fmt: str,
    *,
    dtype: str | None = None,
    overwrite: bool = False,
) -> ToolResult:
    """Write ``src`` in ``fmt``, then read the output back and compare every module's delta."""
    lora = load_lora(src)
    op = {"operation": "convert", "source": Path(src).name, "from": lora.source_format}
    path = save_lora(lora, out, fmt=fmt, dtype=dtype, operation=op, overwrite=overwrite)
    worst, only = compare_loras(lora, load_lora(path))
    return ToolResult(path, lora, lora, max_difference=worst, missing=only)


def describe(result: ToolResult) -> dict[str, Any]:
    """The JSON the CLI prints for a result."""
    data: dict[str, Any] = {
        "out": str(result.out),
        "ranks": result.lora.ranks(),
        "modules": len(result.lora.modules),
        "notes": result.notes,
    }
    if result.source is not None:
        data["from_format"] = result.source.source_format
        data["from_ranks"] = result.source.ranks()
        data["dropped"] = len(set(result.source.modules) - set(result.lora.modules))
    if result.energy is not None:
        data["energy"] = result.energy.to_dict()
    return data
