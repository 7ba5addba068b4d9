"""Write a Likeness run config as an ai-toolkit job that means the same in ai-toolkit.

Everything ai-toolkit can express goes into its own keys, written only in forms its code
accepts (no warm-up on torch schedules, no ``eps`` beside the one it passes itself, ...).
The rest (a custom target-module regex, a warm-up on cosine, NF4, ...) goes under
``meta.likeness`` as ``{likeness.path: value}``, which ai-toolkit ignores and ``import_aitk``
applies, so that import -> export -> import gives back the same RunConfig; each such setting
is named in the notes, with what ai-toolkit will do instead. The extras are found by importing
the plain job again and comparing, so nothing can be forgotten.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from training.config import RunConfig
from training.config_ops import config_to_dict

ARCH = {"turbo": "zimage:turbo", "base": "zimage", "deturbo": "zimage:deturbo"}
TIMESTEP_NAMES = {
    "sigmoid": "sigmoid",
    "uniform": "linear",
    "shift": "shift",
    "weighted": "weighted",
}


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _scheduler(t: Any) -> tuple[str, dict[str, Any]]:
    """(lr_scheduler, lr_scheduler_params) in the forms ai-toolkit's get_lr_scheduler takes."""
    if t.scheduler == "constant_with_warmup":
        return "constant_with_warmup", {"num_warmup_steps": t.warmup_steps}
    if t.scheduler == "linear":  # down to 0 over the run: LinearLR from 1 to 0
        return "linear", {"start_factor": 1.0, "end_factor": 0.0}
    if t.scheduler == "linear_lr":
        return "linear", {"start_factor": t.lr_start_factor, "end_factor": t.lr_end_factor}
    return t.scheduler, {}  # constant, cosine, cosine_with_restarts: one cycle, no warm-up


NO_CLIPPING = 1e9  # ai-toolkit always clips (but Adafactor); at 0 it would zero every gradient


def _max_grad_norm(t: Any) -> float:
    """Likeness's 0 means no clipping; ai-toolkit clips to the given norm, so: a huge one."""
    return NO_CLIPPING if t.max_grad_norm == 0 and t.optimizer != "adafactor" else t.max_grad_norm


def _network(cfg: RunConfig) -> dict[str, Any]:
    n = cfg.network
    # ai-toolkit trains Z-Image LoRAs with alpha = rank whatever linear_alpha says
    out: dict[str, Any] = {"type": "lora", "linear": n.rank, "linear_alpha": n.rank}
    if n.dropout:
        out["dropout"] = n.dropout
    return out


def _optimizer_params(t: Any) -> dict[str, Any]:
    a = t.optimizer_args
    out: dict[str, Any] = {"weight_decay": t.weight_decay}
    # only keyword arguments the optimizer ai-toolkit builds accepts (Adafactor has no betas)
    if a.betas is not None and t.optimizer != "adafactor":
        out["betas"] = list(a.betas)
    if a.d0 is not None and t.optimizer == "prodigy":
        out["d0"] = a.d0
    if t.optimizer == "prodigy":  # Prodigy's keyword arguments, passed through as is
        out["use_bias_correction"] = a.use_bias_correction is not False
        out["safeguard_warmup"] = a.safeguard_warmup is not False
    return out  # never eps: ai-toolkit passes its own and fails on a second one


def native_job(cfg: RunConfig) -> dict[str, Any]:
    """The ai-toolkit job for ``cfg``, without the ``meta.likeness`` extras."""
    m, s, t, smp = cfg.model, cfg.save, cfg.train, cfg.sample
    trigger_only = t.caption_source == "trigger_only"
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
    scheduler, scheduler_params = _scheduler(t)
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
        "optimizer_params": _optimizer_params(t),
        "lr_scheduler": scheduler,
        "timestep_type": TIMESTEP_NAMES[t.timestep_sampling],
        "loss_type": "mse",  # ai-toolkit has no Huber loss of this kind
        "ema_config": {"use_ema": t.ema.enabled, "ema_decay": t.ema.decay},
        "dtype": t.precision,
        "max_grad_norm": _max_grad_norm(t),
        # ai-toolkit's unload_text_encoder without cached embeddings trains on the trigger alone
        "unload_text_encoder": trigger_only,
        "cache_text_embeddings": not trigger_only
        and any(d.cache_text_embeddings for d in cfg.datasets),
        "skip_first_sample": smp.skip_first,
        "disable_sampling": not smp.enabled,
    }
    if scheduler_params:
        train["lr_scheduler_params"] = scheduler_params
    model: dict[str, Any] = {"name_or_path": m.name_or_path, "arch": ARCH[m.variant]}
    if m.source == "single_file":  # ai-toolkit loads a single-file transformer itself
        model["name_or_path"] = str(m.transformer_file)
        model["extras_name_or_path"] = m.extras_name_or_path or m.name_or_path
    elif m.extras_name_or_path:
        model["extras_name_or_path"] = m.extras_name_or_path
    if m.uses_training_adapter:
        model["assistant_lora_path"] = m.training_adapter.path
    # ai-toolkit has no NF4: quantise with its own default (qfloat8); see the notes
    model["quantize"] = m.quantize_transformer == "nf4"
    if model["quantize"]:
        model["qtype"] = "qfloat8"
    model["quantize_te"] = m.quantize_text_encoder == "nf4"
    if model["quantize_te"]:
        model["qtype_te"] = "qfloat8"
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
        "network": _network(cfg),
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


def _same_meaning(cfg: RunConfig) -> set[str]:
    """Extras that only restore Likeness's own spelling of what ai-toolkit does anyway."""
    t = cfg.train
    same = {
        "sample.add_trigger",  # the written prompts already carry the trigger
        "train.optimizer_args.use_bias_correction",  # written explicitly for Prodigy
        "train.optimizer_args.safeguard_warmup",
    }
    if t.scheduler == "linear":  # the factors are unused; LinearLR from 1 to 0 is the same
        same |= {"train.lr_start_factor", "train.lr_end_factor"}
        # without warm-up nothing differs; with it the scheduler's note says it all
        same.add("train.warmup_steps" if t.warmup_steps else "train.scheduler")
    if not t.caption_dropout:
        same.add("train.caption_dropout_mode")
    if t.max_grad_norm == 0:  # written as a norm no gradient reaches
        same.add("train.max_grad_norm")
    if t.timestep_sampling != "shift":  # the shift is only used by shift sampling
        same.add("train.timestep_shift")
    if t.optimizer == "adafactor":  # unused by Adafactor
        same.add("train.optimizer_args.betas")
    if t.optimizer != "prodigy":  # Prodigy's own settings, unused by the others
        same |= {"train.optimizer_args.d0"}
    if t.optimizer not in ("adamw", "adamw8bit", "prodigy") and t.optimizer_args.eps is None:
        same.add("train.optimizer_args.eps")
    return same


Note = str | Callable[[RunConfig], str]
EXTRA_NOTES: dict[str, Note] = {
    "device": "device 'auto' (ai-toolkit gets cuda:0)",
    "model.source": "single-file (ComfyUI) model parts",
    "model.transformer_file": "single-file (ComfyUI) model parts",
    "model.text_encoder_file": "single-file (ComfyUI) model parts",
    "model.vae_file": "single-file (ComfyUI) model parts",
    "model.offload_text_encoder": "text encoder offloading (memory only; training is the same)",
    "network.target_modules": "the target-module regex",
    "network.alpha": lambda c: (
        f"network alpha {c.network.alpha:g} (ai-toolkit trains Z-Image "
        f"LoRAs with alpha = rank, {c.network.rank}: a different effective learning rate)"
    ),
    "train.timestep_shift": "the timestep shift (ai-toolkit's shift sampling uses 3)",
    "train.optimizer_args.betas": "the optimizer betas",
    "train.optimizer_args.d0": "Prodigy's d0",
    "train.seed": "the training seed",
    "train.lr": lambda c: f"lr {c.train.lr:g} (ai-toolkit runs Prodigy at lr 1.0 below 0.1)",
    "train.loss": "the Huber loss (ai-toolkit trains with MSE)",
    "train.warmup_steps": lambda c: (
        f"{c.train.warmup_steps} warm-up steps (ai-toolkit's "
        f"{c.train.scheduler} schedule takes none: it starts at full lr)"
    ),
    "train.scheduler": lambda c: (
        f"scheduler {c.train.scheduler} with warm-up (ai-toolkit "
        "gets its linear from lr to 0 without warm-up)"
    ),
    "train.num_cycles": lambda c: f"{c.train.num_cycles} cosine cycles (ai-toolkit runs one)",
    "train.optimizer_args.eps": lambda c: (
        f"optimizer eps {c.train.optimizer_args.eps or 1e-8:g} (ai-toolkit always uses 1e-6)"
    ),
    "train.caption_dropout_mode": "dropped captions become empty (ai-toolkit trains them on "
    "the trigger alone)",
    "train.max_grad_norm": "gradient clipping with adafactor (ai-toolkit never clips it)",
    "datasets[].repeats": "repeats from kohya folder names (ai-toolkit repeats each image once "
    "unless num_repeats is set)",
    "datasets[].cache_text_embeddings": "text embeddings cached for some datasets only (storage "
    "only; training is the same)",
    "model.revision": "the model's hub revision",
    "model.training_adapter.path": "the training adapter path (not used by this run)",
    "model.training_adapter.enabled": "the training adapter switch",
}


def export_job(cfg: RunConfig) -> tuple[dict[str, Any], list[str]]:
    """``(job, notes)``: the job with ``meta.likeness`` extras, and what ai-toolkit won't use."""
    from training.aitk.importer import import_aitk_dict

    job = native_job(cfg)
    back, _ = import_aitk_dict(job, source="export check")
    want, got = _flatten(config_to_dict(cfg)), _flatten(config_to_dict(back))
    extras = {k: v for k, v in want.items() if got.get(k, object()) != v}
    notes = []
    if extras:
        job["meta"]["likeness"] = extras
        silent = _same_meaning(cfg)
        for key in extras:
            if key in silent:
                continue
            what = EXTRA_NOTES.get(re.sub(r"\[\d+\]", "[]", key), key)
            what = what(cfg) if callable(what) else what
            notes.append(f"{what}: kept under meta.likeness; ai-toolkit will not use it")
    for part, value in (("transformer", cfg.model.quantize_transformer),
                        ("text encoder", cfg.model.quantize_text_encoder)):  # fmt: skip
        if value == "nf4":
            notes.append(
                f"NF4 quantisation of the {part}: ai-toolkit has no NF4; the job asks for its "
                "qfloat8 (8-bit: more memory, a little more precise; set qtype to uint4 there "
                "for 4-bit)"
            )
    return job, notes


def export_aitk(cfg: RunConfig) -> tuple[dict[str, Any], list[str]]:
    """An ai-toolkit job for ``cfg`` and notes on what ai-toolkit itself will not use."""
    return export_job(cfg)


def save_aitk(cfg: RunConfig, path: str | Path) -> list[str]:
    """Write ``cfg`` as an ai-toolkit job (YAML, or JSON for ``.json``); returns the notes."""
    import json

    import yaml

    from training.checkpoints import atomic_write_text

    job, notes = export_aitk(cfg)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        text = json.dumps(job, indent=2) + "\n"
    else:
        text = "---\n" + yaml.safe_dump(job, sort_keys=False, allow_unicode=True, width=100)
    atomic_write_text(path, text)
    return notes
