"""Caption benchmarks: stripper and lint throughput (CPU), Florence-2 images/s (GPU or CPU).

    python bench/caption.py --part stripper lint            # CPU text work
    python bench/caption.py --part florence --size base --device cuda --batch-size 32
    python bench/caption.py --part florence --size tiny --device cpu  # smoke check

Florence-2 runs at the real base / large sizes (DaViT vision tower + BART-base / -large text
model, 768x768 input, 577 image tokens) with random weights: speed does not depend on the
weights, only on sizes, so no download is needed. Generation is forced to ``--new-tokens``
tokens (``min_new_tokens``) so random weights cannot stop early. Results print as JSON lines.
Figures are medians of ``--runs`` runs; CPU-side parts report both wall and process CPU time
(on a shared machine the CPU time is the fairer figure).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

FLORENCE_PROSE = (
    "The image shows a young woman with long dark hair and brown eyes. She is wearing a white "
    "button-up shirt and gold earrings. She is standing with her arms crossed in front of a "
    "white wall. The overall mood of the image is calm."
)
SAMPLES = [
    FLORENCE_PROSE,
    "The image shows a woman sitting at a wooden table in a cafe. She has long blonde hair that "
    "falls over her shoulders and is wearing a black leather jacket over a grey t-shirt. She is "
    "holding a cup of coffee and looking out the window. The lighting is soft and natural.",
    "1girl, solo, brown eyes, long hair, white shirt, earrings, smile, simple background",
    "l3yla, a slim 25-year-old latina woman, laughing, wearing a green bikini, on a beach",
    "A woman with long brown hair wearing a white shirt.",
    "l3yla, head tipped back, looking up, eyes closed, wearing a white tank top, blue sky",
]

SIZES = {
    # name: (vision embed dims, depths, heads, groups, projection, text d_model, layers, heads, ffn)
    "tiny": ((8, 16, 16, 32), (1, 1, 1, 1), (1, 1, 2, 2), (1, 1, 2, 2), 32, 32, 1, 2, 64),
    "base": (
        (128, 256, 512, 1024),
        (1, 1, 9, 1),
        (4, 8, 16, 32),
        (4, 8, 16, 32),
        768,
        768,
        6,
        12,
        3072,
    ),  # fmt: skip
    "large": (
        (256, 512, 1024, 2048),
        (1, 1, 9, 1),
        (8, 16, 32, 64),
        (8, 16, 32, 64),
        1024,
        1024,
        12,
        16,
        4096,
    ),  # fmt: skip
}


def _timed(fn, runs: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(runs):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls), statistics.median(cpus)


def bench_stripper(n: int, runs: int) -> dict:
    from curation.captions import clean_caption
    from curation.captions.vocabulary import load_vocabulary

    vocab = load_vocabulary()
    texts = [SAMPLES[i % len(SAMPLES)] for i in range(n)]
    clean_caption(texts[0], "l3yla", vocab=vocab)

    def go():
        for t in texts:
            clean_caption(t, "l3yla", shot="medium", vocab=vocab)

    wall, cpu = _timed(go, runs)
    return {"bench": "stripper", "captions": n, "per_s_wall": n / wall, "per_s_cpu": n / cpu}


def synthetic_captions(n: int, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    pose = ["standing with arms crossed", "sitting on a bench", "leaning against a wall"]
    expr = ["smiling", "neutral expression", "laughing", "serious expression", "sad expression"]
    outfit = ["a navy blue pantsuit", "a white button-up shirt", "a red dress", "a grey hoodie"]
    acc = ["gold hoop earrings", "a silver necklace", "round glasses", ""]
    bg = ["white studio background", "city street at night", "a sunny beach", "a cozy cafe"]
    out = {}
    for i in range(n):
        parts = [
            rng.choice(["a close-up photo of l3yla", "a medium shot photo of l3yla"]),
            rng.choice(pose),
            rng.choice(expr),
            "wearing " + rng.choice(outfit),
            rng.choice(acc),
            rng.choice(bg),
        ]
        if i % 7 == 0:
            parts.insert(1, "brown eyes")
        if i % 11 == 0:
            parts.insert(1, "a slim young woman with long dark hair")
        out[f"img{i:05d}.png"] = ", ".join(p for p in parts if p)
    return out


def bench_lint(n: int, runs: int) -> dict:
    from curation.captions.lint import ImageFacts, LintConfig, lint_dataset
    from curation.captions.vocabulary import load_vocabulary

    caps = synthetic_captions(n)
    facts = {rel: ImageFacts(detected=("earring",)) for rel in caps}
    config = LintConfig(trigger="l3yla", max_words=40, vocab=load_vocabulary())
    lint_dataset(dict(list(caps.items())[:50]), config, facts)
    wall, cpu = _timed(lambda: lint_dataset(caps, config, facts), runs)
    return {"bench": "lint", "captions": n, "seconds_wall": wall, "seconds_cpu": cpu}


def florence_model(size: str, dtype, device: str):
    import torch
    from transformers import (
        BartConfig,
        Florence2Config,
        Florence2ForConditionalGeneration,
        Florence2VisionConfig,
    )

    emb, depths, heads, groups, proj, d_model, layers, theads, ffn = SIZES[size]
    text = BartConfig(
        vocab_size=51289,
        d_model=d_model,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=theads,
        decoder_attention_heads=theads,
        encoder_ffn_dim=ffn,
        decoder_ffn_dim=ffn,
        max_position_embeddings=1024,
    )
    vision = Florence2VisionConfig(
        embed_dim=list(emb),
        depths=list(depths),
        num_heads=list(heads),
        num_groups=list(groups),
        projection_dim=proj,
        window_size=12 if size != "tiny" else 2,
        drop_path_rate=0.0,
    )
    config = Florence2Config(
        text_config=text.to_dict(), vision_config=vision.to_dict(), image_token_id=51288
    )
    torch.manual_seed(0)
    model = Florence2ForConditionalGeneration(config).to(device=device, dtype=dtype).eval()
    return model


def bench_florence(size, device, batch, new_tokens, beams, runs, image_size) -> dict:
    import torch

    from curation.captioners.florence2 import pick_device, pick_dtype

    device = pick_device(device)
    dtype = pick_dtype(device)
    image_size = image_size or (64 if size == "tiny" else 768)
    model = florence_model(size, dtype, device)
    n_img_tokens = (image_size // 32) ** 2 + 1
    prompt = torch.randint(10, 50000, (batch, 12))
    image_tokens = torch.full((batch, n_img_tokens), 51288)
    input_ids = torch.cat([image_tokens, prompt], dim=1).to(device)
    pixels = torch.randn(batch, 3, image_size, image_size, device=device, dtype=dtype)
    kwargs = dict(
        input_ids=input_ids,
        pixel_values=pixels,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        num_beams=beams,
        do_sample=False,
    )

    def go():
        with torch.inference_mode():
            model.generate(**kwargs)
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    go()  # warm-up (kernels, allocator)
    wall, cpu = _timed(go, runs)
    params = sum(p.numel() for p in model.parameters())
    return {
        "bench": "florence2",
        "size": size,
        "params_m": round(params / 1e6, 1),
        "device": device,
        "dtype": str(dtype).replace("torch.", ""),
        "batch": batch,
        "new_tokens": new_tokens,
        "beams": beams,
        "image_size": image_size,
        "images_per_s": batch / wall,
        "seconds_per_batch": wall,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", nargs="+", default=["stripper", "lint"],
                    choices=["stripper", "lint", "florence"])  # fmt: skip
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--stripper-captions", type=int, default=2000)
    ap.add_argument("--lint-captions", type=int, default=5000)
    ap.add_argument("--size", default="base", choices=list(SIZES))
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--beams", type=int, default=3)
    ap.add_argument("--image-size", type=int, default=None)
    args = ap.parse_args(argv)
    for part in args.part:
        if part == "stripper":
            res = bench_stripper(args.stripper_captions, args.runs)
        elif part == "lint":
            res = bench_lint(args.lint_captions, args.runs)
        else:
            res = bench_florence(
                args.size,
                args.device,
                args.batch_size,
                args.new_tokens,
                args.beams,
                args.runs,
                args.image_size,
            )
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
