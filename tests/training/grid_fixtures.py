"""A run folder for grid tests: the tiny model's config.yaml plus LoRA checkpoints written in
the trainer's own format (``comfy_lora_state_dict``), with random non-zero weights."""

from __future__ import annotations

from pathlib import Path

from tests.training.tiny_zimage import tiny_config


def write_lora(path: Path, model_dir: Path, seed: int, rank: int = 4, step: int = 0) -> Path:
    import torch
    from diffusers import ZImageTransformer2DModel

    from training.checkpoints import atomic_save_safetensors, comfy_lora_state_dict
    from training.config import NetworkConfig
    from training.model import add_lora, user_lora_state

    transformer = ZImageTransformer2DModel.from_pretrained(str(model_dir), subfolder="transformer")
    add_lora(transformer, NetworkConfig(rank=rank, alpha=rank))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in transformer.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    sd = comfy_lora_state_dict(user_lora_state(transformer), rank, rank, torch.float32)
    return atomic_save_safetensors(sd, path, {"likeness.step": str(step)})


def make_run(tmp_path: Path, model_dir: Path, steps=(2, 4)) -> Path:
    """``<tmp>/runs/tiny`` with config.yaml and ``tiny_<step>.safetensors`` checkpoints."""
    from training.config import RunConfig
    from training.config_ops import save_config

    cfg = RunConfig.model_validate(
        tiny_config(tmp_path, model_dir, sample={"prompts": ["a photo of t0ken"], "steps": 2})
    )
    run_dir = cfg.run_dir
    run_dir.mkdir(parents=True)
    save_config(cfg, run_dir / "config.yaml")
    for i, step in enumerate(steps):
        write_lora(run_dir / f"tiny_{step:09d}.safetensors", model_dir, seed=i + 1, step=step)
    return run_dir
