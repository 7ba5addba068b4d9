"""Benchmark one Z-Image LoRA training step: median seconds per step and peak VRAM.

A real-size ``ZImageTransformer2DModel`` (the diffusers defaults are Z-Image-Turbo: dim 3840,
30 layers, 30 heads, FFN 10240) with random weights gives the true speed and memory of a
training step; no download is needed. Each case runs the trainer's own code: the LoRA from
``training.model.add_lora`` (rank 32 on the anchored target regex), NF4 from
``training.model.quantize_nf4``, the loss from ``training.objective.flow_matching_loss``, gradient
checkpointing, and an 8-bit AdamW step.

    python bench/train_step.py --device cuda                      # 512/768/1024 x bf16/nf4
    python bench/train_step.py --device cuda --res 1024 --quant nf4 --steps 20
    python bench/train_step.py --tiny                             # CPU smoke run, tiny model

Goals (issue 5): 1024x1024 bf16 <= 0.37 s/step on an H100 (compute floor ~0.23 s);
NF4 peak <= 9 GB at 1024x1024.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TINY = {
    "dim": 64,
    "n_layers": 2,
    "n_refiner_layers": 1,
    "n_heads": 2,
    "n_kv_heads": 2,
    "cap_feat_dim": 64,
    "axes_dims": [8, 12, 12],
    "axes_lens": [1024, 128, 128],
}
CAPTION_TOKENS = 128  # a typical caption with the chat template around it


def build_transformer(tiny: bool, device, dtype):
    import torch
    from diffusers import ZImageTransformer2DModel

    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype if dtype != torch.float16 else torch.float32)
    try:
        with torch.device(device):
            model = ZImageTransformer2DModel(**(TINY if tiny else {}))
    finally:
        torch.set_default_dtype(previous)
    return model if dtype != torch.float16 else model.to(dtype)


def run_case(args, res: int, quant: str) -> dict:
    import bitsandbytes as bnb
    import torch

    from training.config import DEFAULT_TARGET_MODULES
    from training.model import add_lora, quantize_nf4
    from training.objective import flow_matching_loss, sample_sigmas

    device = torch.device(args.device)
    cuda = device.type == "cuda"
    dtype = torch.bfloat16 if cuda else torch.float32
    if cuda:
        torch.cuda.empty_cache()
    model = build_transformer(args.tiny, device, dtype)
    model.requires_grad_(False)
    if quant == "nf4":
        quantize_nf4(model, dtype)
    model.to(device)
    network = SimpleNamespace(
        rank=args.rank, alpha=float(args.rank), dropout=0.0, target_modules=DEFAULT_TARGET_MODULES
    )
    params = add_lora(model, network)
    if args.attention:
        model.set_attention_backend(args.attention)  # e.g. "flash", "_flash_3"; default SDPA
    if args.compile:
        model.compile_repeated_blocks(fullgraph=False)
    model.enable_gradient_checkpointing()
    model.train()
    optimizer = bnb.optim.AdamW8bit(params, lr=1e-4, weight_decay=1e-4)

    g = torch.Generator().manual_seed(0)
    cap_dim = model.config.cap_feat_dim
    lat = res // 8
    x0 = torch.randn(args.batch, 16, lat, lat, generator=g).to(device)
    embeds = [
        torch.randn(CAPTION_TOKENS, cap_dim, generator=g).to(device, dtype)
        for _ in range(args.batch)
    ]
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    resident = torch.cuda.memory_allocated(device) / 1e9 if cuda else None

    times = []
    for i in range(args.warmup + args.steps):
        noise = torch.randn(x0.shape, generator=g).to(device)
        sigmas = sample_sigmas("sigmoid", args.batch, g)
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=cuda):
            loss = flow_matching_loss(model, x0, embeds, sigmas, noise)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        if i >= args.warmup:
            times.append(time.perf_counter() - t0)
    result = {
        "resolution": res,
        "quant": quant,
        "attention": args.attention or "sdpa",
        "compiled": args.compile,
        "rank": args.rank,
        "batch": args.batch,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "steps": len(times),
        "peak_vram_gb": torch.cuda.max_memory_allocated(device) / 1e9 if cuda else None,
        "resident_gb": resident,
        "params_b": sum(p.numel() for p in model.parameters()) / 1e9,
        "lora_params_m": sum(p.numel() for p in params) / 1e6,
        "loss": float(loss.detach()),
    }
    del model, optimizer, params
    if cuda:
        torch.cuda.empty_cache()
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--tiny", action="store_true", help="tiny model (smoke test; CPU is fine)")
    p.add_argument("--res", type=int, nargs="+", default=None, help="default 512 768 1024")
    p.add_argument("--quant", nargs="+", default=["none", "nf4"], choices=["none", "nf4"])
    p.add_argument("--rank", type=int, default=32)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--attention", help="diffusers attention backend (flash, _flash_3, ...)")
    p.add_argument("--compile", action="store_true", help="torch.compile the repeated blocks")
    p.add_argument("--out", type=Path, help="also write the results as JSON")
    args = p.parse_args(argv)

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        if not args.tiny:
            print(
                "No CUDA GPU here: the real-size benchmark needs one (about 20 GB at bf16). "
                "Use --tiny --device cpu for a smoke run.",
                file=sys.stderr,
            )
            return 2
        args.device = "cpu"
    if args.device == "cpu" and not args.tiny:
        print(
            "Refusing a 6B-parameter training step on the CPU (it would take hours and ~50 GB "
            "of RAM). Use --tiny for a smoke run, or --device cuda.",
            file=sys.stderr,
        )
        return 2
    resolutions = args.res or ([64, 128] if args.tiny else [512, 768, 1024])
    gpu = torch.cuda.get_device_name(0) if args.device.startswith("cuda") else "cpu"
    print(
        f"# Z-Image LoRA training step on {gpu}, torch {torch.__version__}, "
        f"{'tiny model' if args.tiny else 'real size (random weights)'}"
    )
    print("| res | quant | median s/step | min s/step | peak VRAM GB | resident GB |")
    print("|---|---|---|---|---|---|")
    results = []
    for quant in args.quant:
        for res in resolutions:
            try:
                r = run_case(args, res, quant)
            except torch.OutOfMemoryError:
                r = {"resolution": res, "quant": quant, "error": "out of memory"}
                print(f"| {res} | {quant} | OOM | | | |", flush=True)
                results.append(r)
                continue
            r["device"] = gpu
            results.append(r)
            fmt = lambda v: "-" if v is None else f"{v:.3f}"  # noqa: E731
            print(
                f"| {res} | {quant} | {r['median_s']:.3f} | {r['min_s']:.3f} | "
                f"{fmt(r['peak_vram_gb'])} | {fmt(r['resident_gb'])} |",
                flush=True,
            )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
