"""One-line help for every run-config setting, and YAML output that carries it as comments.

``FIELD_HELP`` is keyed by the setting's path, with ``[]`` for list items
(``datasets[].folder``). The GUI uses ``field_help(path)`` for tooltips; ``save_config``
writes the help above each key so a config file explains itself. A test checks that every
setting has its line.
"""

from __future__ import annotations

import re
from typing import Any

FIELD_HELP: dict[str, str] = {
    "schema_version": "config format version (written by Likeness; do not edit)",
    "name": "LoRA name: file names are <name>_<step>.safetensors; the run folder is "
    "<training_folder>/<name>",
    "trigger": "the token that binds the identity (fresh, 4-6 characters, e.g. l3yla)",
    "training_folder": "where run folders go (relative paths are relative to this file)",
    "device": "auto, cpu, mps, cuda or cuda:N",
    "model": "the base model",
    "model.extras_name_or_path": "tokenizer, text encoder, VAE and scheduler from this hub id "
    "or folder (null = name_or_path; De-Turbo takes them from Z-Image-Turbo)",
    "model.source": "hub (Hugging Face id), local (diffusers folder) or single_file (ComfyUI files)",
    "model.name_or_path": "Hugging Face id or diffusers folder (configs and tokenizer for "
    "single_file)",
    "model.revision": "hub revision (branch, tag or commit); null = the default",
    "model.transformer_file": "single_file: the ComfyUI diffusion-model .safetensors",
    "model.text_encoder_file": "single_file: the Qwen3 text encoder .safetensors (null = from "
    "name_or_path)",
    "model.vae_file": "single_file: the VAE .safetensors (null = from name_or_path)",
    "model.variant": "turbo, base or deturbo (a Turbo LoRA only works on Turbo)",
    "model.training_adapter": "the LoRA that de-distils Turbo while training",
    "model.training_adapter.path": "local .safetensors, hub repo id, or <owner>/<repo>/<file>",
    "model.training_adapter.enabled": "null = automatic (on for turbo), true or false",
    "model.quantize_transformer": "none or nf4 (4-bit frozen transformer: far less VRAM)",
    "model.quantize_text_encoder": "none or nf4",
    "model.offload_text_encoder": "encode captions on the CPU (no VRAM, slower one-time "
    "caching); an NF4 text encoder runs on the GPU alone. Freed before the transformer loads",
    "model.offload_vae": "the VAE waits on the CPU and visits the GPU only to cache latents "
    "(before the transformer loads) and to decode each preview; false keeps it on the GPU",
    "network": "the LoRA being trained",
    "network.rank": "LoRA rank: 16-32 for a character; 64+ tends to overfit",
    "network.alpha": "scale = alpha / rank; usually equal to the rank",
    "network.dropout": "LoRA dropout (0-0.1); a little helps against identity bleeding",
    "network.target_modules": "regex of the transformer modules that get a LoRA",
    "save": "checkpoints",
    "save.dtype": "bf16, fp16 or fp32",
    "save.every": "save a checkpoint every N steps (250-500)",
    "save.keep_last": "how many step checkpoints to keep (keep >= 10 to compare early ones)",
    "train": "the optimisation",
    "train.batch_size": "images per step (1; 2 on 24 GB+)",
    "train.gradient_accumulation": "micro-batches per optimizer step",
    "train.steps": "optimizer steps (~10 x images x repeats; 1500-3000)",
    "train.optimizer": "adamw, adamw8bit, prodigy, lion8bit or adafactor",
    "train.optimizer_args": "extra optimizer arguments (null = the optimizer's default)",
    "train.optimizer_args.betas": "Adam/Lion betas, e.g. [0.9, 0.999]",
    "train.optimizer_args.eps": "Adam epsilon",
    "train.optimizer_args.d0": "Prodigy's initial step size estimate",
    "train.optimizer_args.use_bias_correction": "Prodigy's bias correction (null = on; "
    "ai-toolkit: off)",
    "train.optimizer_args.safeguard_warmup": "Prodigy's safeguard warm-up (null = on; "
    "ai-toolkit: off)",
    "train.lr": "learning rate (1e-4 for AdamW; 1.0 for Prodigy)",
    "train.weight_decay": "weight decay (1e-4)",
    "train.scheduler": "constant, constant_with_warmup, cosine, cosine_with_restarts, linear "
    "(warm-up, then down to 0) or linear_lr (lr_start_factor to lr_end_factor; ai-toolkit's "
    "linear)",
    "train.lr_start_factor": "linear_lr: the rate starts at lr x this (ai-toolkit: 1/3)",
    "train.lr_end_factor": "linear_lr: the rate ends at lr x this (ai-toolkit: 1)",
    "train.warmup_steps": "steps of linear warm-up",
    "train.num_cycles": "restarts for cosine_with_restarts",
    "train.timestep_sampling": "sigmoid (logit-normal), uniform, shift or weighted (uniform "
    "with ai-toolkit's loss weights per timestep)",
    "train.timestep_shift": "shift for timestep_sampling: shift",
    "train.loss": "mse or huber",
    "train.ema": "exponential moving average of the LoRA weights",
    "train.ema.enabled": "keep an EMA copy (saved instead of the raw weights)",
    "train.ema.decay": "EMA decay per step",
    "train.caption_dropout": "chance to drop a caption (0.05-0.1)",
    "train.caption_dropout_mode": "a dropped caption becomes: empty, or trigger (the trigger "
    "alone, as ai-toolkit does)",
    "train.caption_source": "captions, or trigger_only (every image trains on the trigger "
    "alone: ai-toolkit's unload_text_encoder without cached embeddings)",
    "train.max_grad_norm": "gradient clipping norm (0 = off)",
    "train.seed": "random seed (same seed and data = same run)",
    "train.precision": "bf16 (RTX 30 and newer) or fp16 (older cards)",
    "train.gradient_checkpointing": "recompute activations: much less VRAM, ~20% slower",
    "datasets": "dataset folders (Likeness datasets or any folder of images with .txt captions)",
    "datasets[].folder": "the dataset folder",
    "datasets[].repeats": "times each image is seen per epoch; null = kohya folder names "
    "(10_name) or 1",
    "datasets[].flip_x": "horizontal flips (off for characters: faces are asymmetric)",
    "datasets[].resolutions": "bucket resolutions (512, 768, 1024); the biggest VRAM factor",
    "datasets[].cache_latents": "keep the encoded images on disk for later runs; false = "
    "encoded once per run and kept in memory only, not written to disk",
    "datasets[].cache_text_embeddings": "keep caption embeddings on disk for later runs; "
    "false = encoded once per run and kept in memory only (the text encoder is freed either way)",
    "sample": "preview images during training",
    "sample.enabled": "render previews",
    "sample.every": "render previews every N steps (= save.every)",
    "sample.prompts": "preview prompts ([trigger] is replaced; missing triggers are prepended)",
    "sample.negative": "negative prompt (unused at guidance <= 1)",
    "sample.steps": "sampling steps (8 for Turbo)",
    "sample.guidance": "guidance scale (0-1 for Turbo)",
    "sample.seed": "seed of the first prompt",
    "sample.walk_seed": "prompt i uses seed + i",
    "sample.add_trigger": "prepend the trigger to prompts without it (ai-toolkit: only "
    "[trigger] is replaced)",
    "sample.skip_first": "no previews at step 0",
    "sample.width": "preview width (multiple of 16)",
    "sample.height": "preview height (multiple of 16)",
}


def field_help(path: str) -> str | None:
    """Help for a setting path; list indices may be given (``datasets[2].folder``)."""
    return FIELD_HELP.get(re.sub(r"\[\d+\]", "[]", path))


def _scalar_lines(key: str, value: Any) -> list[str]:
    import yaml

    flow = isinstance(value, list) and all(isinstance(v, (int, float)) for v in value)
    text = yaml.safe_dump(
        {key: value},
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=None if flow else False,
    )
    return text.rstrip("\n").split("\n")


def _emit(data: dict[str, Any], indent: int, path: str, out: list[str]) -> None:
    pad = " " * indent
    for key, value in data.items():
        here = f"{path}.{key}" if path else key
        help_text = FIELD_HELP.get(here)
        if help_text:
            out.append(f"{pad}# {help_text}")
        if isinstance(value, dict) and value:
            out.append(f"{pad}{key}:")
            _emit(value, indent + 2, here, out)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            out.append(f"{pad}{key}:")
            for item in value:
                block: list[str] = []
                _emit(item, indent + 2, f"{here}[]", block)
                first = next(i for i, ln in enumerate(block) if not ln.lstrip().startswith("#"))
                line = block[first]
                block[first] = f"{pad}- {line[indent + 2 :]}"
                out.extend(block)
        else:
            out.extend(pad + ln for ln in _scalar_lines(key, value))


def commented_yaml(data: dict[str, Any], header: str = "") -> str:
    """YAML for a config dict with each setting's help as a comment above it."""
    out = [f"# {line}" for line in header.splitlines()] if header else []
    _emit(data, 0, "", out)
    return "\n".join(out) + "\n"
