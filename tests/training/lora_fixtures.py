"""Random Z-Image LoRAs built in the test, at the real key layout and (by default) real sizes:
30 layers, dim 3840, FFN 10240, adaLN input 256, rank 32 (a 170 MB bf16 file)."""

from __future__ import annotations

from training.lora.model import ADALN_IN, DIM, FFN_DIM, NUM_LAYERS, LoraFile, LoraModule

LAYER_COMPONENTS = (
    "adaLN_modulation.0",
    "attention.to_q",
    "attention.to_k",
    "attention.to_v",
    "attention.to_out.0",
    "feed_forward.w1",
    "feed_forward.w2",
    "feed_forward.w3",
)


def shapes(dim: int, ffn: int, adaln_in: int) -> dict[str, tuple[int, int]]:
    return {
        "adaLN_modulation.0": (4 * dim, adaln_in),
        "attention.to_q": (dim, dim),
        "attention.to_k": (dim, dim),
        "attention.to_v": (dim, dim),
        "attention.to_out.0": (dim, dim),
        "feed_forward.w1": (ffn, dim),
        "feed_forward.w2": (dim, ffn),
        "feed_forward.w3": (ffn, dim),
    }


def random_lora(
    *,
    layers: int = NUM_LAYERS,
    dim: int = DIM,
    ffn: int = FFN_DIM,
    adaln_in: int = ADALN_IN,
    rank: int = 32,
    scale: float = 1.0,
    refiners: bool = False,
    modulation: bool = True,
    dtype: str = "bf16",
    seed: int = 0,
) -> LoraFile:
    """Modules with the magnitudes a trained LoRA has (down ~ 1/sqrt(in), up ~ 1e-3)."""
    import torch

    from training.lora.model import torch_dtype

    gen = torch.Generator().manual_seed(seed)
    table = shapes(dim, ffn, adaln_in)
    blocks = [f"layers.{i}" for i in range(layers)]
    if refiners:
        blocks += ["noise_refiner.0", "noise_refiner.1", "context_refiner.0", "context_refiner.1"]
    modules = {}
    for block in blocks:
        for comp in LAYER_COMPONENTS:
            if comp.startswith("adaLN") and (not modulation or block.startswith("context")):
                continue  # the context refiner has no modulation in Z-Image
            out_f, in_f = table[comp]
            down = torch.randn(rank, in_f, generator=gen) / in_f**0.5
            up = torch.randn(out_f, rank, generator=gen) * 1e-3
            modules[f"{block}.{comp}"] = LoraModule(
                down.to(torch_dtype(dtype)), up.to(torch_dtype(dtype)), scale
            )
    meta = {"likeness.trigger": "l3yla", "likeness.rank": str(rank)}
    return LoraFile(modules, meta, "likeness", "", dtype)


def small_lora(**kw) -> LoraFile:
    """The real key layout at 1/30 of the widths (for tests whose code path does not depend
    on the sizes: key names, weights, metadata)."""
    kw.setdefault("dim", 128)
    kw.setdefault("ffn", 256)
    kw.setdefault("adaln_in", 32)
    kw.setdefault("rank", 8)
    kw.setdefault("layers", 30)
    return random_lora(**kw)
