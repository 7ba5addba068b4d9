"""The training objective: timestep sampling, per-micro-batch draws and the flow-matching loss.

Flow matching, as Z-Image was trained:

    s ~ timestep sampling (logit-normal by default), noise ~ N(0, 1)
    x_t = (1 - s) * x0 + s * noise          x0: normalised VAE latents
    the transformer takes t = 1 - s and predicts -(noise - x0)
    loss = MSE(-output, noise - x0) in float32

Every random draw of a micro-batch (caption dropout, flips, timesteps, noise) comes from a CPU
``torch.Generator`` seeded by ``step_seed`` from (seed, step, micro-batch, rank), and
``draw_micro_batch`` makes those draws in one fixed order, so a resumed run draws exactly the
same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def sample_sigmas(kind: str, n: int, generator: Any, shift: float = 3.0) -> Any:
    """Noise levels s in (0, 1) for a batch: sigmoid (logit-normal), uniform, shift, weighted."""
    import torch

    if kind == "sigmoid":
        s = torch.sigmoid(torch.randn(n, generator=generator))
    elif kind == "uniform":
        s = torch.rand(n, generator=generator)
    elif kind == "shift":
        u = torch.rand(n, generator=generator)
        s = shift * u / (1 + (shift - 1) * u)
    elif kind == "weighted":
        # 1000 levels of the shifted inference schedule, drawn with a bell-shaped table
        # centred mid-schedule (the "weighted" timestep type of the Turbo presets).
        grid = (torch.arange(1000, dtype=torch.float32) + 0.5) / 1000
        levels = shift * grid / (1 + (shift - 1) * grid)
        weights = torch.exp(-0.5 * ((grid - 0.5) / 0.25) ** 2)
        s = levels[torch.multinomial(weights, n, replacement=True, generator=generator)]
    else:
        raise ValueError(f"unknown timestep sampling {kind!r}")
    return s.clamp(1e-4, 1 - 1e-4)


def step_seed(seed: int, step: int, micro: int, rank: int) -> int:
    """A seed for one micro-batch's draws, so a resumed run draws exactly the same numbers."""
    import numpy as np

    return int(np.random.SeedSequence([seed, step, micro, rank]).generate_state(1)[0])


def flow_matching_loss(
    transformer: Any, x0: Any, embeds: list, sigmas: Any, noise: Any, loss_kind: str = "mse"
) -> Any:
    """The loss for one micro-batch; x0/noise [B, C, H, W] float32, sigmas [B]."""
    import torch
    import torch.nn.functional as F

    dtype = next(p for p in transformer.parameters() if p.is_floating_point()).dtype
    s = sigmas.view(-1, 1, 1, 1).to(x0.device)
    x_t = (1.0 - s) * x0 + s * noise
    timesteps = (1.0 - sigmas).to(x0.device, torch.float32)
    model_in = [x.unsqueeze(1).to(dtype) for x in x_t]  # [C, F=1, H, W] per sample
    out = transformer(
        model_in, timesteps, [e.to(x0.device, dtype) for e in embeds], return_dict=False
    )[0]
    pred = -torch.stack([o.squeeze(1) for o in out]).float()
    target = (noise - x0).float()
    if loss_kind == "huber":
        return 2.0 * F.huber_loss(pred, target, delta=1.0)  # == MSE for small errors
    return F.mse_loss(pred, target)


def draw_micro_batch(
    idx: Sequence[int],
    batch: Sequence[Any],
    generator: Any,
    *,
    train: Any,
    texts: Any,
    latents: Any,
    empty: Any,
    flips_on: set[int],
    device: Any,
) -> tuple[list, Any, Any, Any]:
    """The inputs of one micro-batch: (embeds, x0, sigmas, noise).

    ``idx`` are the examples' indices (for ``flips_on``), ``batch`` the examples; ``generator``
    is already seeded for this micro-batch. The draws come in a fixed order: per sample
    (caption dropout, flip), then the timesteps, then the noise.
    """
    import torch

    embeds, x0 = [], []
    for i, ex in zip(idx, batch, strict=True):
        drop = torch.rand(1, generator=generator).item() < train.caption_dropout
        flip = i in flips_on and torch.rand(1, generator=generator).item() < 0.5
        embeds.append(empty if drop else texts.get(ex.caption))
        x0.append(latents.get(ex, flip))
    x0 = torch.stack(x0).to(device, torch.float32)
    sigmas = sample_sigmas(train.timestep_sampling, len(batch), generator, train.timestep_shift)
    noise = torch.randn(x0.shape, generator=generator).to(device)
    return embeds, x0, sigmas, noise
