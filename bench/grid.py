"""Benchmark the checkpoint grid: seconds per image and the cost of a checkpoint swap.

A real-size ``ZImageTransformer2DModel`` (the diffusers defaults are Z-Image-Turbo: dim 3840,
30 layers) and a real-size 16-channel VAE (the Flux layout Z-Image uses), both with random
weights, rendered through the grid's own ``Engine`` (``training.grid.render``): 8 steps,
guidance 1 (no CFG), 1024x1024, prompt embeddings of 128 tokens. The LoRA files are rank 32
on the trainer's target modules with the real key layout (``diffusion_model.layers.N...``); the
first is injected, the next ones are hot-swapped into the same adapter slot, as in a grid.

    python bench/grid.py --device cuda                 # 1024x1024, 8 steps, 6 images, 4 swaps
    python bench/grid.py --tiny --device cpu           # smoke run on a tiny model

Goals (issue 15): <= 1.0 s per image on an H100 (compute floor ~0.5 s); a swap < 1 s.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TINY_TRANSFORMER = {
    "dim": 64,
    "n_layers": 2,
    "n_refiner_layers": 1,
    "n_heads": 2,
    "n_kv_heads": 2,
    "cap_feat_dim": 64,
    "axes_dims": [8, 12, 12],
    "axes_lens": [1024, 128, 128],
}
REAL_VAE = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2}
TINY_VAE = {"block_out_channels": (8, 16, 16, 16), "layers_per_block": 1, "norm_num_groups": 8}
CAPTION_TOKENS = 128


def build(tiny: bool, device, dtype):
    import torch
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        ZImagePipeline,
        ZImageTransformer2DModel,
    )

    with torch.device(device):
        transformer = ZImageTransformer2DModel(**(TINY_TRANSFORMER if tiny else {})).to(dtype)
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            latent_channels=16,
            scaling_factor=0.3611,
            shift_factor=0.1159,
            use_quant_conv=False,
            use_post_quant_conv=False,
            **(TINY_VAE if tiny else REAL_VAE),
        ).to(dtype)
    transformer.eval().requires_grad_(False)
    vae.eval().requires_grad_(False)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    pipe = ZImagePipeline(
        scheduler=scheduler, vae=vae, text_encoder=None, tokenizer=None, transformer=transformer
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe, transformer


def write_lora(transformer, path: Path, rank: int, seed: int) -> Path:
    """A LoRA file with the trainer's key layout for every target module."""
    import torch
    from safetensors.torch import save_file

    from training.config import DEFAULT_TARGET_MODULES

    pattern = re.compile(DEFAULT_TARGET_MODULES)
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for name, module in transformer.named_modules():
        if isinstance(module, torch.nn.Linear) and pattern.fullmatch(name):
            a = torch.randn(rank, module.in_features, generator=g) * 0.01
            b = torch.randn(module.out_features, rank, generator=g) * 0.01
            sd[f"diffusion_model.{name}.lora_A.weight"] = a.to(torch.bfloat16)
            sd[f"diffusion_model.{name}.lora_B.weight"] = b.to(torch.bfloat16)
    if not sd:
        raise SystemExit("the target regex matched no layer")
    save_file(sd, str(path))
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="tiny model (smoke test; CPU is fine)")
    p.add_argument("--res", type=int, default=None, help="default 1024 (tiny: 128)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--images", type=int, default=6)
    p.add_argument("--swaps", type=int, default=4)
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--out", type=Path, help="also write the results as JSON")
    args = p.parse_args(argv)

    import torch

    from training.grid.plan import GridPrompt, GridRow, GridSpec
    from training.grid.render import Engine

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        if not args.tiny:
            print("No CUDA GPU here: use --tiny --device cpu for a smoke run.", file=sys.stderr)
            return 2
        args.device = "cpu"
    if args.device == "cpu" and not args.tiny:
        print("Refusing a 6B-parameter grid on the CPU; use --tiny.", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    res = args.res or (128 if args.tiny else 1024)
    pipe, transformer = build(args.tiny, device, dtype)
    cap = transformer.config.cap_feat_dim
    g = torch.Generator().manual_seed(0)
    embed = torch.randn(CAPTION_TOKENS, cap, generator=g)
    engine = Engine(pipe, transformer, device, dtype, [embed], embed)
    spec = GridSpec(rows=[], prompts=[GridPrompt("x", res, res)], strengths=[1.0], seeds=[0])
    spec.steps, spec.guidance = args.steps, 1.0
    with tempfile.TemporaryDirectory() as tmp:
        files = [
            write_lora(transformer, Path(tmp) / f"c{i}.safetensors", args.rank, i) for i in range(2)
        ]
        rows = [GridRow(f"c{i}", f, "checkpoint", i) for i, f in enumerate(files)]
        first_load = engine.use_row(rows[0])
        engine.render(spec.prompts[0], 0, 0, 1.0, spec)  # warm-up
        times = []
        for i in range(args.images):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            engine.render(spec.prompts[0], 0, i, 1.0, spec)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        swaps = [engine.use_row(rows[(i + 1) % 2]) for i in range(args.swaps)]
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu"
    result = {
        "device": gpu,
        "model": "tiny" if args.tiny else "real size (random weights)",
        "resolution": res,
        "steps": args.steps,
        "rank": args.rank,
        "median_s_per_image": statistics.median(times),
        "images_per_s": 1.0 / statistics.median(times),
        "first_lora_load_s": first_load,
        "median_swap_s": statistics.median(swaps),
        "peak_vram_gb": torch.cuda.max_memory_allocated(device) / 1e9
        if device.type == "cuda"
        else None,
    }
    print(f"# checkpoint grid on {gpu}, torch {torch.__version__}, {result['model']}")
    print("| res | steps | s/image | images/s | first LoRA load s | swap s |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {res} | {args.steps} | {result['median_s_per_image']:.3f} | "
        f"{result['images_per_s']:.2f} | {first_load:.3f} | {result['median_swap_s']:.3f} |"
    )
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
