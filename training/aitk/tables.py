"""The fixed vocabulary of ai-toolkit jobs: why a key is not mapped, inert values, name tables.

Checked against ai-toolkit's own source (``toolkit/config_modules.py``, ``toolkit/optimizer.py``,
``toolkit/scheduler.py``, the Z-Image extension and the trainer); ``docs/train-cli.md`` has
the full table of keys and how each maps.
"""

from __future__ import annotations

from typing import Any

P0 = "config.process[0]"
ANY = object()  # an inert key whose value never matters for a Z-Image image LoRA
TRAINER_TYPES = ("sd_trainer", "diffusion_trainer", "ui_trainer")
ARCHS = ("zimage", "zimage:turbo", "zimage:deturbo")

# Keys Likeness does not map, and why (shown in the report).
REASONS = {
    "sqlite_db_path": "ai-toolkit UI bookkeeping, not a training setting",
    "performance_log_every": "ai-toolkit UI bookkeeping; Likeness reports every step",
    "logging": "Likeness logs to the run folder and reports every step itself",
    "monitoring": "ai-toolkit UI monitoring; Likeness reports VRAM with every step",
    "push_to_hub": "Likeness does not upload to the Hugging Face hub",
    "hf_repo_id": "Likeness does not upload to the Hugging Face hub",
    "hf_private": "Likeness does not upload to the Hugging Face hub",
    "save_format": "Likeness always writes ComfyUI-ready .safetensors",
    "caption_ext": "Likeness reads .txt caption sidecars",
    "shuffle_tokens": "Likeness keeps caption order so the trigger stays first",
    "token_dropout_rate": "Likeness keeps caption order so the trigger stays first",
    "keep_tokens": "Likeness keeps caption order so the trigger stays first",
    "random_triggers": "random extra trigger words are not supported",
    "is_reg": "regularisation datasets are not supported",
    "network_weight": "per-dataset LoRA weights are not supported",
    "default_caption": "Likeness trains captioned images; write captions in the caption editor",
    "mask_path": "masked training is not supported",
    "control_path": "control images are not used by Z-Image character LoRAs",
    "controls": "control images are not used by Z-Image character LoRAs",
    "flip_y": "vertical flips are not supported (upside-down faces are never a prompt target)",
    "num_frames": "video settings do not apply to Z-Image",
    "conv": "Z-Image has no convolution layers to train",
    "conv_alpha": "Z-Image has no convolution layers to train",
    "network_kwargs": "layer filters are set with network.target_modules (a regex) in Likeness",
    "noise_offset": "noise offset is not used with flow matching",
    "do_differential_guidance": "differential guidance is not implemented in Likeness",
    "differential_guidance_scale": "differential guidance is not implemented in Likeness",
    "diff_output_preservation": "differential output preservation is not implemented",
    "diff_output_preservation_multiplier": "differential output preservation is not implemented",
    "diff_output_preservation_class": "differential output preservation is not implemented",
    "blank_prompt_preservation": "blank prompt preservation is not implemented",
    "blank_prompt_preservation_multiplier": "blank prompt preservation is not implemented",
    "auto_scale_batch_size": "Likeness keeps the batch size you set and reports out-of-memory",
    "content_or_style": "content/style timestep bias is not supported; train.timestep_sampling "
    "decides",
    "timestep_bias": "timestep bias is not supported; train.timestep_sampling decides",
    "linear_timesteps": "ai-toolkit's bell-shaped loss weighting of linear timesteps is not "
    "implemented (timestep_type: weighted is)",
    "linear_timesteps2": "ai-toolkit's half-bell loss weighting of linear timesteps is not "
    "implemented (timestep_type: weighted is)",
    "min_denoising_steps": "a timestep range is not supported; every timestep trains",
    "max_denoising_steps": "a timestep range is not supported; every timestep trains",
    "train_unet": "Likeness always trains the transformer LoRA",
    "train_text_encoder": "Likeness trains only the transformer LoRA, never the text encoder",
    "noise_scheduler": "Likeness trains with the flow-matching objective of Z-Image",
    "sampler": "Likeness samples with Z-Image's flow-match Euler scheduler",
    "layer_offloading": "Likeness offloads the text encoder and VAE, not transformer layers; "
    "use NF4 quantisation to save memory",
    "layer_offloading_transformer_percent": "transformer layer offloading is not supported",
    "layer_offloading_text_encoder_percent": "transformer layer offloading is not supported",
    "model_kwargs": "extra model arguments are not supported",
    "compile": "Likeness does not torch.compile the transformer (only speed differs)",
    "sample_start_step": "Likeness samples every sample.every steps from the start "
    "(sample.skip_first skips step 0 only)",
    "force_first_sample": "Likeness samples at step 0 only when sample.skip_first is off",
    "lokr_full_rank": "only used by LoKr; Likeness trains LoRA",
    "lokr_factor": "only used by LoKr; Likeness trains LoRA",
    # keys people write that ai-toolkit does not read (so they change nothing there either)
    "weight_decay": "not read by ai-toolkit (it takes optimizer_params.weight_decay); "
    "no effect there either",
    "lr_warmup_steps": "not read by ai-toolkit (warm-up is lr_scheduler_params."
    "num_warmup_steps, for constant_with_warmup only); no effect there either",
    "warmup_steps": "not read by ai-toolkit (warm-up is lr_scheduler_params."
    "num_warmup_steps, for constant_with_warmup only); no effect there either",
    "max_iterations": "ai-toolkit's schedules run over train.steps; Likeness's too",
    "total_iters": "ai-toolkit replaces it with train.steps; Likeness's schedules run over "
    "train.steps too",
    "eta_min": "schedules end at 0 in Likeness",
    "T_mult": "cosine_with_restarts runs one cycle over train.steps in ai-toolkit; "
    "Likeness's cosine does the same",
}
UNKNOWN_REASON = "not an ai-toolkit setting Likeness knows"

# Keys whose value (if one of these) means exactly what Likeness does anyway.
INERT: dict[str, dict[str, tuple[Any, ...] | object]] = {
    "process": {},
    "network": {
        "lokr_full_rank": ANY,
        "lokr_factor": ANY,
        "network_kwargs": ({}, {"ignore_if_contains": []}),
    },
    "save": {"push_to_hub": (False,), "save_format": ("safetensors", "diffusers")},
    "dataset": {
        "caption_ext": ("txt", ".txt"),
        "shuffle_tokens": (False,),
        "token_dropout_rate": (0, 0.0),
        "keep_tokens": (0,),
        "random_triggers": ([],),
        "is_reg": (False,),
        "network_weight": (1,),
        "default_caption": ("", None),
        "mask_path": (None, ""),
        "mask_min_value": ANY,
        "control_path": (None, ""),
        "controls": ([],),
        "shrink_video_to_frames": ANY,
        "num_frames": (1,),
        "do_i2v": ANY,
        "flip_y": (False,),
        # in-memory latents: Likeness always keeps the latents in memory while training
        "cache_latents": ANY,
    },
    "train": {
        "train_unet": (True,),
        "train_text_encoder": (False,),
        "noise_scheduler": ("flowmatch",),
        "bypass_guidance_embedding": ANY,  # Z-Image has no guidance embedding
        "switch_boundary_every": ANY,  # two-transformer models only
        "content_or_style": ("balanced",),
        "timestep_bias": ("balanced",),
        "linear_timesteps": (False,),
        "linear_timesteps2": (False,),
        "min_denoising_steps": (0,),
        "max_denoising_steps": (999, 1000),
        "auto_scale_batch_size": (False,),
        "do_differential_guidance": (False,),
        "diff_output_preservation": (False,),
        "blank_prompt_preservation": (False,),
        "noise_offset": (0,),
        "force_first_sample": (False,),
    },
    "model": {"model_kwargs": ({},), "layer_offloading": (False,), "compile": (False,)},
    "sample": {
        "sampler": ("flowmatch",),
        "num_frames": (1,),
        "fps": ANY,
        "force_first_sample": (False,),
        "sample_start_step": (0,),
    },
    "lr_scheduler_params": {"max_iterations": ANY, "eta_min": (0,), "T_mult": (1,)},
}

# ai-toolkit optimizer name -> (Likeness optimizer, why it differs or None). ai-toolkit matches
# "prodigy8bit*" and then "prodigy*" by prefix (so prodigyopt and prodigy_schedulefree are
# plain Prodigy); the rest by exact name.
OPTIMIZERS = {
    "adamw8bit": ("adamw8bit", None),
    "adamw8": ("adamw8bit", "ai-toolkit's own 8-bit AdamW -> bitsandbytes AdamW8bit"),
    "adam8bit": ("adamw8bit", "8-bit Adam (L2 weight decay) -> 8-bit AdamW (decoupled)"),
    "adam8": ("adamw8bit", "ai-toolkit's own 8-bit Adam -> bitsandbytes AdamW8bit"),
    "adamw": ("adamw", None),
    "adam": ("adamw", "Adam (L2 weight decay) -> AdamW (decoupled weight decay)"),
    "prodigy": ("prodigy", None),
    "prodigy8bit": ("prodigy", "8-bit Prodigy -> Prodigy (full-precision state)"),
    "lion8bit": ("lion8bit", None),
    "lion": ("lion8bit", "Lion -> 8-bit Lion"),
    "adafactor": ("adafactor", None),
}
# Adam-type optimizers that ai-toolkit builds with eps=1e-6 (and fails if the job gives eps).
AITK_EPS_1E6 = ("adamw8bit", "adamw8", "adam8bit", "adam8", "adamw", "adam", "prodigy")
# weight decay when optimizer_params has none: each optimizer's own default
DEFAULT_WEIGHT_DECAY = {"adamw": 0.01, "adamw8bit": 0.01}

TIMESTEPS = {"sigmoid": "sigmoid", "linear": "uniform", "shift": "shift", "weighted": "weighted"}
DTYPES = {
    "bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "half": "fp16",
    "fp32": "fp32", "float32": "fp32", "float": "fp32",
}  # fmt: skip
FOUR_BIT_QTYPES = ("uint4", "qint4", "int4", "nf4", "fp4", "nvfp4")
LOW_BIT_QTYPES = ("uint3", "uint2", "qint2", "uint1")
