"""``inspect``: what a LoRA file holds, for the CLI (text / JSON) and the dialog's chart.

The per-block "norm" is the Frobenius norm of the block's weight deltas taken together
(sqrt of the sum of each module's squared ``||up @ down * scale||``), computed from the
factors so a real-size file is inspected in about a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from training.lora.io import history
from training.lora.model import (
    COMPONENTS,
    LoraFile,
    block_sort_key,
    component_sort_key,
    split_name,
)

# Metadata keys shown as training facts, in this order (Likeness, kohya / musubi, ai-toolkit).
_FACTS = (
    ("trigger", ("likeness.trigger", "ss_trigger", "trigger_word", "trigger")),
    ("base_model", ("likeness.base_model", "ss_sd_model_name", "ss_base_model_version")),
    ("variant", ("likeness.variant",)),
    ("steps", ("likeness.step", "ss_steps", "ss_max_train_steps")),
    ("lr", ("likeness.lr", "ss_learning_rate")),
    ("resolutions", ("likeness.resolutions", "ss_resolution")),
    ("dataset_hash", ("likeness.dataset_hash",)),
    ("trainer", ("likeness.app_version", "ss_network_module", "software")),
    ("name", ("ss_output_name", "name")),
)


@dataclass
class LoraReport:
    path: str
    format: str
    dtype: str
    ranks: list[int]
    alphas: list[float]
    module_count: int
    blocks: dict[str, list[str]]  # block -> components present
    block_norms: dict[str, float]
    component_norms: dict[str, float]
    facts: dict[str, str]
    metadata_keys: list[str]
    history: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def lines(self) -> list[str]:
        out = [
            f"{self.path}",
            f"  format      {self.format} ({self.dtype}), {self.module_count} modules "
            f"in {len(self.blocks)} blocks",
            f"  rank        {', '.join(map(str, self.ranks))}",
            f"  alpha       {', '.join(f'{a:g}' for a in self.alphas)}",
        ]
        for key, value in self.facts.items():
            out.append(f"  {key:<11} {value}")
        comps = _component_summary(self.blocks)
        out.append(f"  components  {comps}")
        for note in self.notes:
            out.append(f"  note        {note}")
        for entry in self.history:
            what = entry.get("operation", "?")
            out.append(f"  history     {entry.get('time', '')} {what}")
        top = max(self.block_norms.values(), default=0.0) or 1.0
        out.append("  delta norm per block:")
        for block, norm in self.block_norms.items():
            bar = "#" * round(30 * norm / top)
            out.append(f"    {block:<18} {norm:9.4f} {bar}")
        return out


def _component_summary(blocks: dict[str, list[str]]) -> str:
    counts: dict[str, int] = {}
    for comps in blocks.values():
        for c in comps:
            counts[c] = counts.get(c, 0) + 1
    ordered = sorted(counts, key=component_sort_key)
    return ", ".join(f"{c} x{counts[c]}" for c in ordered)


def inspect_lora(lora: LoraFile) -> LoraReport:
    blocks: dict[str, list[str]] = {}
    sq_block: dict[str, float] = {}
    sq_comp: dict[str, float] = {}
    alphas: set[float] = set()
    for name, mod in lora.modules.items():
        block, comp = split_name(name)
        blocks.setdefault(block, []).append(comp)
        norm = mod.delta_norm()
        sq_block[block] = sq_block.get(block, 0.0) + norm**2
        sq_comp[comp] = sq_comp.get(comp, 0.0) + norm**2
        alphas.add(round(mod.scale * mod.rank, 4))
    order = sorted(blocks, key=block_sort_key)
    meta = lora.metadata
    facts = {}
    for label, keys in _FACTS:
        value = next((meta[k] for k in keys if meta.get(k)), None)
        if value is not None:
            facts[label] = _short(value)
    notes = list(lora.notes)
    unknown = sorted({split_name(n)[1] for n in lora.modules} - set(COMPONENTS))
    if unknown:
        notes.append(f"components outside the usual set: {', '.join(unknown)}")
    return LoraReport(
        path=lora.source_path,
        format=lora.source_format,
        dtype=lora.dtype,
        ranks=lora.ranks(),
        alphas=sorted(alphas),
        module_count=len(lora.modules),
        blocks={b: sorted(blocks[b], key=component_sort_key) for b in order},
        block_norms={b: sq_block[b] ** 0.5 for b in order},
        component_norms={c: sq_comp[c] ** 0.5 for c in sorted(sq_comp, key=component_sort_key)},
        facts=facts,
        metadata_keys=sorted(meta),
        history=history(lora),
        notes=notes,
    )


def _short(value: str, limit: int = 80) -> str:
    text = value
    if text.startswith(("{", "[")):
        try:
            text = json.dumps(json.loads(text), separators=(",", ":"))
        except json.JSONDecodeError:
            pass
    return text if len(text) <= limit else text[: limit - 3] + "..."
