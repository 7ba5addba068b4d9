"""Preview samples during training: the sample prompts (trigger first) at fixed or walked
seeds with Turbo settings, written to ``samples/<step>/<index>_<seed>.png`` plus
``samples/<step>/manifest.json``.

The prompts were encoded while the text encoder was loaded (``TextCache``), so sampling needs
only the transformer and the VAE. When the training adapter is merged into the weights, it is
applied at weight -1 for previews, so they show what the LoRA does on plain Turbo.

Guidance follows the ai-toolkit convention users know (1 = no classifier-free guidance);
diffusers' Z-Image pipeline counts from 0, so it gets ``guidance - 1``.
"""

from __future__ import annotations

import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.fileio import atomic_write_bytes, atomic_write_text, sub_dir
from training.model import TRAINING_ADAPTER, USER_ADAPTER

log = logging.getLogger(__name__)


@dataclass
class SamplePlan:
    prompts: list[str]
    embeds: list[Any]  # one [L, D] tensor per prompt
    negative: Any  # [L, D] tensor (the negative prompt, or the empty caption)
    width: int
    height: int
    steps: int
    guidance: float
    seed: int
    walk_seed: bool

    def seed_for(self, index: int) -> int:
        return self.seed + index if self.walk_seed else self.seed


def render_samples(
    plan: SamplePlan,
    *,
    transformer: Any,
    vae: Any,
    scheduler: Any,
    device: Any,
    step: int,
    run_dir: Path,
    has_training_adapter: bool,
    on_saved=None,
    decode_device: Any = None,
) -> list[Path]:
    """Render every prompt; ``on_saved(index, seed, prompt, path)`` after each image.

    The transformer denoises on ``device``; the VAE is moved to ``decode_device`` (default
    ``device``) only for each decode and then put back where it was (``model.offload_vae``).
    """
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, ZImagePipeline

    out_dir = sub_dir(sub_dir(run_dir, "samples"), str(step))
    was_training = transformer.training
    vae_home = next(vae.parameters()).device
    decode_on = torch.device(decode_device if decode_device is not None else device)
    transformer.eval()
    if has_training_adapter:
        transformer.set_adapters([USER_ADAPTER, TRAINING_ADAPTER], [1.0, -1.0])
    pipe = ZImagePipeline(
        scheduler=FlowMatchEulerDiscreteScheduler.from_config(scheduler.config),
        vae=vae,
        text_encoder=None,
        tokenizer=None,
        transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    guidance = max(0.0, plan.guidance - 1.0)
    model_dtype = next(p for p in transformer.parameters() if p.is_floating_point()).dtype
    paths: list[Path] = []
    manifest: list[dict[str, Any]] = []
    try:
        for index, (prompt, embed) in enumerate(zip(plan.prompts, plan.embeds, strict=True)):
            seed = plan.seed_for(index)
            generator = torch.Generator("cpu").manual_seed(seed)
            kwargs: dict[str, Any] = {}
            if guidance > 0:
                kwargs["negative_prompt_embeds"] = [plan.negative.to(device, model_dtype)]
            with torch.no_grad():
                latents = pipe(
                    prompt_embeds=[embed.to(device, model_dtype)],
                    height=plan.height,
                    width=plan.width,
                    num_inference_steps=plan.steps,
                    guidance_scale=guidance,
                    generator=generator,
                    output_type="latent",
                    **kwargs,
                ).images
                image, decoded_on = _decode(pipe, vae, latents, decode_on, vae_home)
            path = out_dir / f"{index}_{seed}.png"
            png = io.BytesIO()
            image.save(png, format="PNG")
            atomic_write_bytes(path, png.getbuffer())  # never through a symlink
            paths.append(path)
            manifest.append(
                {
                    "index": index,
                    "seed": seed,
                    "prompt": prompt,
                    "file": path.name,
                    "vae_device": decoded_on,
                }
            )
            if on_saved is not None:
                on_saved(index, seed, prompt, path)
    finally:
        if has_training_adapter:
            transformer.set_adapters([USER_ADAPTER], [1.0])
            for n, p in transformer.named_parameters():
                p.requires_grad_(f".{USER_ADAPTER}." in n and "lora_" in n)
        transformer.train(was_training)
        vae.to(vae_home)
    _write_manifest(out_dir, step, plan, manifest, has_training_adapter)
    return paths


def _decode(pipe: Any, vae: Any, latents: Any, on: Any, home: Any) -> tuple[Any, str]:
    """Latents -> PIL image with the VAE on ``on`` for the decode only; returns it and where
    the decode ran."""
    import torch

    vae.to(on)
    try:
        where = str(next(vae.parameters()).device)
        latents = latents.to(on, next(vae.parameters()).dtype)
        latents = latents / vae.config.scaling_factor + (vae.config.shift_factor or 0.0)
        with torch.no_grad():
            image = vae.decode(latents, return_dict=False)[0]
        return pipe.image_processor.postprocess(image, output_type="pil")[0], where
    finally:
        vae.to(home)


def _write_manifest(out_dir: Path, step: int, plan: SamplePlan, items: list, adapter: bool) -> None:
    data = {
        "step": step,
        "width": plan.width,
        "height": plan.height,
        "steps": plan.steps,
        "guidance": plan.guidance,
        "training_adapter_weight": -1.0 if adapter else None,
        "items": items,
    }
    atomic_write_text(out_dir / "manifest.json", json.dumps(data, indent=2, ensure_ascii=False))
