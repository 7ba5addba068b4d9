"""Write a Likeness run config as an ai-toolkit job.

Everything ai-toolkit can express goes into its own keys. The rest (a custom target-module
regex, the timestep shift, single-file model paths, ...) goes under ``meta.likeness`` as
``{likeness.path: value}``, which ai-toolkit ignores and ``import_aitk`` applies, so that
import -> export -> import gives back the same RunConfig. The extras are found by importing
the plain job again and comparing, so nothing can be forgotten.
"""

from __future__ import annotations

from typing import Any

from training.config import RunConfig, config_to_dict

ARCH = {"turbo": "zimage:turbo", "base": "zimage", "deturbo": "zimage:deturbo"}
TIMESTEP_NAMES = {
    "sigmoid": "sigmoid",
    "uniform": "linear",
    "shift": "shift",
    "weighted": "weighted",
}


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def native_job(cfg: RunConfig) -> dict[str, Any]:
    """The ai-toolkit job for ``cfg``, without the ``meta.likeness`` extras."""
    m, n, s, t, smp = cfg.model, cfg.network, cfg.save, cfg.train, cfg.sample
    network: dict[str, Any] = {
        "type": "lora",
        "linear": n.rank,
        "linear_alpha": _num(n.alpha or n.rank),
    }
    if n.dropout:
        network["dropout"] = n.dropout
    datasets = []
    for ds in cfg.datasets:
        item: dict[str, Any] = {
            "folder_path": str(ds.folder),
            "caption_ext": "txt",
            "caption_dropout_rate": t.caption_dropout,
            "cache_latents_to_disk": ds.cache_latents,
            "resolution": list(ds.resolutions),
            "flip_x": ds.flip_x,
            "flip_y": False,
        }
        if ds.repeats is not None:
            item["num_repeats"] = ds.repeats
        datasets.append(item)
    optimizer_params: dict[str, Any] = {"weight_decay": t.weight_decay}
    args = t.optimizer_args
    if args.betas is not None:
        optimizer_params["betas"] = list(args.betas)
    if args.eps is not None:
        optimizer_params["eps"] = args.eps
    if args.d0 is not None:
        optimizer_params["d0"] = args.d0
    train: dict[str, Any] = {
        "batch_size": t.batch_size,
        "steps": t.steps,
        "gradient_accumulation": t.gradient_accumulation,
        "train_unet": True,
        "train_text_encoder": False,
        "gradient_checkpointing": t.gradient_checkpointing,
        "noise_scheduler": "flowmatch",
        "optimizer": t.optimizer,
        "lr": t.lr,
        "optimizer_params": optimizer_params,
        "lr_scheduler": t.scheduler,
        "timestep_type": TIMESTEP_NAMES[t.timestep_sampling],
        "loss_type": t.loss,
        "ema_config": {"use_ema": t.ema.enabled, "ema_decay": t.ema.decay},
        "dtype": t.precision,
        "max_grad_norm": t.max_grad_norm,
        "unload_text_encoder": m.offload_text_encoder,
        "cache_text_embeddings": any(d.cache_text_embeddings for d in cfg.datasets),
        "skip_first_sample": smp.skip_first,
        "disable_sampling": not smp.enabled,
    }
    sched: dict[str, Any] = {}
    if t.warmup_steps:
        sched["num_warmup_steps"] = t.warmup_steps
    if t.scheduler == "cosine_with_restarts":
        sched["num_cycles"] = t.num_cycles
    if sched:
        train["lr_scheduler_params"] = sched
    model: dict[str, Any] = {"name_or_path": m.name_or_path, "arch": ARCH[m.variant]}
    if m.uses_training_adapter:
        model["assistant_lora_path"] = m.training_adapter.path
    model["quantize"] = m.quantize_transformer == "nf4"
    if model["quantize"]:
        model["qtype"] = "uint4"
    model["quantize_te"] = m.quantize_text_encoder == "nf4"
    if model["quantize_te"]:
        model["qtype_te"] = "uint4"
    model["low_vram"] = m.offload_vae
    sample = {
        "sampler": "flowmatch",
        "sample_every": smp.every,
        "width": smp.width,
        "height": smp.height,
        "samples": [{"prompt": p} for p in smp.prompts],
        "neg": smp.negative,
        "seed": smp.seed,
        "walk_seed": smp.walk_seed,
        "guidance_scale": _num(smp.guidance),
        "sample_steps": smp.steps,
    }
    process = {
        "type": "diffusion_trainer",
        "training_folder": str(cfg.training_folder),
        "device": "cuda:0" if cfg.device == "auto" else cfg.device,
        "trigger_word": cfg.trigger,
        "network": network,
        "save": {"dtype": s.dtype, "save_every": s.every, "max_step_saves_to_keep": s.keep_last},
        "datasets": datasets,
        "train": train,
        "model": model,
        "sample": sample,
    }
    return {
        "job": "extension",
        "config": {"name": cfg.name, "process": [process]},
        "meta": {"name": cfg.name, "version": "1.0"},
    }


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}.{key}" if prefix else key))
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}[{i}]"))
    else:
        out[prefix] = value
    return out


EXTRA_NOTES = {
    "device": "device 'auto' (ai-toolkit gets cuda:0)",
    "model.source": "single-file (ComfyUI) model parts",
    "model.transformer_file": "single-file (ComfyUI) model parts",
    "model.text_encoder_file": "single-file (ComfyUI) model parts",
    "model.vae_file": "single-file (ComfyUI) model parts",
    "model.quantize_transformer": "NF4 quantisation (ai-toolkit gets its own 4-bit type)",
    "network.target_modules": "the target-module regex",
    "train.timestep_shift": "the timestep shift",
    "train.seed": "the training seed",
    "model.revision": "the model's hub revision",
    "model.training_adapter.path": "the training adapter path (not used by this run)",
    "model.training_adapter.enabled": "the training adapter switch",
}


def export_job(cfg: RunConfig) -> tuple[dict[str, Any], list[str]]:
    """``(job, notes)``: the job with ``meta.likeness`` extras, and what ai-toolkit won't use."""
    from training.aitk import import_aitk_dict

    job = native_job(cfg)
    back, _ = import_aitk_dict(job, source="export check")
    want, got = _flatten(config_to_dict(cfg)), _flatten(config_to_dict(back))
    extras = {k: v for k, v in want.items() if got.get(k, object()) != v}
    notes = []
    if extras:
        job["meta"]["likeness"] = extras
        for key in extras:
            what = EXTRA_NOTES.get(key, key)
            notes.append(f"{what}: kept under meta.likeness; ai-toolkit will not use it")
    if cfg.model.quantize_transformer == "nf4" or cfg.model.quantize_text_encoder == "nf4":
        notes.append("NF4 quantisation: written as ai-toolkit's 4-bit 'uint4' (quanto)")
    return job, notes
