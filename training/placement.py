"""Where the text encoder and the VAE live and run (``model.offload_*``).

The transformer is loaded only after every caption and latent is cached, so the text
encoder and the VAE never share VRAM with it while caching. The offload settings decide the
rest:

* ``offload_text_encoder: true`` encodes the captions (and sample prompts) on the CPU: no
  VRAM at all for the 4B-parameter text encoder, at the price of a slower one-time caption
  cache. An NF4 text encoder (``quantize_text_encoder: nf4``) can only run on the GPU, so it
  runs there, alone. ``false`` encodes on the GPU (fast). Either way the text encoder is freed
  before the transformer loads.
* The VAE encodes the latent cache on the GPU, before the transformer loads. With
  ``offload_vae: true`` it then waits on the CPU and is moved to the GPU only for the decode
  of each preview (the transformer denoises with no VAE in VRAM) and back right after;
  ``false`` keeps it on the GPU for the whole run (previews decode a little faster). Without
  previews it always goes back to the CPU.

Every placement is announced in a ``status`` event with ``component`` and ``device`` fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from training.config import RunConfig


@dataclass(frozen=True)
class Placement:
    """Device names (``"cpu"``, ``"cuda:0"``) for each use of the text encoder and VAE."""

    text_encoder: str  # where the captions are encoded
    vae_cache: str  # where the latents are encoded
    vae_idle: str  # where the VAE waits while the transformer trains
    vae_decode: str  # where preview latents are decoded

    @property
    def vae_moves_for_decode(self) -> bool:
        return self.vae_idle != self.vae_decode


def plan_placement(
    cfg: RunConfig, device: torch.device | str, *, text_encoder_nf4: bool
) -> Placement:
    """The placement for a run on ``device`` (a ``torch.device`` or its name)."""
    dev = str(device)
    on_cpu = dev.startswith("cpu")
    m = cfg.model
    if on_cpu:
        return Placement("cpu", "cpu", "cpu", "cpu")
    text = dev if (text_encoder_nf4 or not m.offload_text_encoder) else "cpu"
    idle = "cpu" if (m.offload_vae or not cfg.sample.enabled) else dev
    return Placement(text_encoder=text, vae_cache=dev, vae_idle=idle, vae_decode=dev)


def device_of(module: torch.nn.Module) -> str:
    """The device of a module's first parameter (``"cpu"`` for a module without any)."""
    for p in module.parameters():
        return str(p.device)
    return "cpu"
