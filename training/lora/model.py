"""The one in-memory form every LoRA tool works on, whatever file format it came from.

A LoRA is a set of modules named the way diffusers' ``ZImageTransformer2DModel`` names its
linear layers (``layers.7.attention.to_q``, ``noise_refiner.0.feed_forward.w2``,
``layers.29.adaLN_modulation.0``). Each module has ``down`` (rank x in), ``up`` (out x rank) and
``scale`` (alpha / rank times any multiplier applied since), so its weight delta is
``up @ down * scale``. Fused ComfyUI ``attention.qkv`` modules are split into ``to_q`` / ``to_k``
/ ``to_v`` on reading (``training.lora.formats``) and fused again only when writing that format.

No torch at import time: tensors are created by the functions that read or compute them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# Z-Image-Turbo's transformer (domain.md): 30 layers + 2 noise-refiner + 2 context-refiner blocks.
DIM = 3840
FFN_DIM = 10240
ADALN_IN = 256
NUM_LAYERS = 30
NUM_REFINERS = 2
BLOCK_KINDS = ("layers", "noise_refiner", "context_refiner")

# Components of one block (diffusers names), in display order, with their (out, in) shapes.
COMPONENTS: dict[str, tuple[int, int]] = {
    "adaLN_modulation.0": (4 * DIM, ADALN_IN),
    "attention.to_q": (DIM, DIM),
    "attention.to_k": (DIM, DIM),
    "attention.to_v": (DIM, DIM),
    "attention.to_out.0": (DIM, DIM),
    "feed_forward.w1": (FFN_DIM, DIM),
    "feed_forward.w2": (DIM, FFN_DIM),
    "feed_forward.w3": (FFN_DIM, DIM),
}
QKV = ("attention.to_q", "attention.to_k", "attention.to_v")

# Short names users type (``--component adaLN=0``); anything else is a dotted component prefix.
COMPONENT_ALIASES = {
    "adaln": "adaLN_modulation",
    "modulation": "adaLN_modulation",
    "q": "attention.to_q",
    "k": "attention.to_k",
    "v": "attention.to_v",
    "out": "attention.to_out",
    "attn": "attention",
    "ffn": "feed_forward",
    "mlp": "feed_forward",
}

_NAME = re.compile(r"^(layers|noise_refiner|context_refiner)\.(\d+)\.(.+)$")


class LoraError(Exception):
    """A LoRA file that cannot be read or written, with a message a user can act on."""


@dataclass
class LoraModule:
    down: torch.Tensor  # (rank, in)
    up: torch.Tensor  # (out, rank)
    scale: float = 1.0

    @property
    def rank(self) -> int:
        return int(self.down.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """(out, in) of the weight this module changes."""
        return int(self.up.shape[0]), int(self.down.shape[1])

    def delta(self) -> torch.Tensor:
        """The full weight delta ``up @ down * scale`` in fp32."""
        return (self.up.float() @ self.down.float()) * self.scale

    def delta_norm(self) -> float:
        """Frobenius norm of ``delta()`` without building it: sqrt(tr((UᵀU)(DDᵀ))) * |scale|."""
        up, down = self.up.float(), self.down.float()
        gram = (up.T @ up) * (down @ down.T)
        return float(gram.sum().clamp_min(0).sqrt()) * abs(self.scale)


@dataclass
class LoraFile:
    """Modules keyed by diffusers name, the file's metadata, where it came from."""

    modules: dict[str, LoraModule]
    metadata: dict[str, str] = field(default_factory=dict)
    source_format: str = ""
    source_path: str = ""
    dtype: str = "bf16"  # the dtype most of its tensors were stored in ("bf16" | "fp16" | "fp32")
    notes: list[str] = field(default_factory=list)

    def ranks(self) -> list[int]:
        return sorted({m.rank for m in self.modules.values()})

    def blocks(self) -> list[str]:
        """Block names (``layers.0``, ``noise_refiner.1``...) in model order."""
        seen = {split_name(n)[0] for n in self.modules}
        return sorted(seen, key=block_sort_key)

    def copy(self) -> LoraFile:
        return LoraFile(
            modules={
                k: LoraModule(m.down.clone(), m.up.clone(), m.scale)
                for k, m in self.modules.items()
            },
            metadata=dict(self.metadata),
            source_format=self.source_format,
            source_path=self.source_path,
            dtype=self.dtype,
            notes=list(self.notes),
        )


def split_name(name: str) -> tuple[str, str]:
    """``layers.7.attention.to_q`` -> (``layers.7``, ``attention.to_q``)."""
    m = _NAME.match(name)
    if not m:
        raise LoraError(f"not a Z-Image transformer module: {name}")
    kind, index, component = m.groups()
    return f"{kind}.{int(index)}", component


def block_sort_key(block: str) -> tuple[int, int]:
    kind, _, index = block.partition(".")
    order = {"noise_refiner": 0, "context_refiner": 1, "layers": 2}
    return order.get(kind, 3), int(index or 0)


def component_sort_key(component: str) -> int:
    names = list(COMPONENTS)
    return names.index(component) if component in names else len(names)


def resolve_component(pattern: str) -> str:
    """A user's component name (``adaLN``, ``v``, ``attention.to_v``) as a dotted prefix."""
    pattern = pattern.strip()
    return COMPONENT_ALIASES.get(pattern.lower(), pattern)


def component_matches(component: str, pattern: str) -> bool:
    """True when ``pattern`` (already resolved) names ``component`` or a dotted prefix of it."""
    return component == pattern or component.startswith(pattern + ".")


def dtype_name(dtype: torch.dtype) -> str:
    text = str(dtype).replace("torch.", "")
    return {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}.get(text, text)


def torch_dtype(name: str) -> torch.dtype:
    import torch

    table = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
    if name not in table:
        raise LoraError(f"unknown dtype {name!r}: use bf16, fp16 or fp32")
    return table[name]
