"""The training objective: timestep sampling, per-micro-batch draws and the flow-matching loss.

Flow matching, as Z-Image was trained:

    s ~ timestep sampling (logit-normal by default), noise ~ N(0, 1)
    (timestep sampling 'weighted' also weights each sample's loss by s, as ai-toolkit does)
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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from training.config import TrainConfig
    from training.data import Example, LatentCache, TextCache


def sample_sigmas(
    kind: str, n: int, generator: torch.Generator | None, shift: float = 3.0
) -> torch.Tensor:
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
        # ai-toolkit's scheme: one of its 1000 training timesteps t = 1000, 999, ..., 2 drawn
        # uniformly (its index draw never picks the last, t = 1), s = t / 1000; the loss is
        # then weighted per timestep (``loss_weights``).
        s = (1000 - torch.randint(0, 999, (n,), generator=generator)).float() / 1000
    else:
        raise ValueError(f"unknown timestep sampling {kind!r}")
    return s.clamp(1e-4, 1 - 1e-4)


# Loss weight against the noise level s for timestep_sampling 'weighted': a degree-10
# Chebyshev series on s in [0, 1] fitted to ai-toolkit's measured per-timestep weights (mean 1,
# highest, 1.5, near s = 0.88, lowest, 0.45, near s = 0). Re-derive and check the fit with
# bench/aitk_timestep_weights.py; max deviation from the table 0.031, rms 0.0054.
WEIGHTED_CHEBYSHEV = (
    0.959168, 0.423867, -0.085749, -0.121666, -0.161204, -0.027714,
    -0.045629, -0.016539, -0.000047, -0.011209, 0.004699,
)  # fmt: skip


def weighted_loss_weights(sigmas: Any) -> Any:
    """The 'weighted' scheme's loss weight for noise levels ``sigmas`` (tensor or list)."""
    if isinstance(sigmas, list):
        return [weighted_loss_weights(float(v)) for v in sigmas]
    x = 2 * sigmas - 1
    t_prev, t_cur = 1.0 + 0 * x, x
    total = WEIGHTED_CHEBYSHEV[0] * t_prev + WEIGHTED_CHEBYSHEV[1] * t_cur
    for c in WEIGHTED_CHEBYSHEV[2:]:
        t_prev, t_cur = t_cur, 2 * x * t_cur - t_prev
        total = total + c * t_cur
    return total


def loss_weights(kind: str, sigmas: torch.Tensor) -> torch.Tensor | None:
    """Per-sample loss weights for a timestep sampling, or None (all 1)."""
    return weighted_loss_weights(sigmas) if kind == "weighted" else None


def step_seed(seed: int, step: int, micro: int, rank: int) -> int:
    """A seed for one micro-batch's draws, so a resumed run draws exactly the same numbers."""
    import numpy as np

    return int(np.random.SeedSequence([seed, step, micro, rank]).generate_state(1)[0])


def flow_matching_loss(
    transformer: torch.nn.Module,
    x0: torch.Tensor,
    embeds: list[torch.Tensor],
    sigmas: torch.Tensor,
    noise: torch.Tensor,
    loss_kind: str = "mse",
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """The loss for one micro-batch; x0/noise [B, C, H, W] float32, sigmas [B].

    ``weights`` [B] (or None) scales each sample's elementwise loss before the mean.
    """
    return flow_matching_sample_losses(
        transformer, x0, embeds, sigmas, noise, loss_kind, weights
    ).mean()


def flow_matching_sample_losses(
    transformer: torch.nn.Module,
    x0: torch.Tensor,
    embeds: list[torch.Tensor],
    sigmas: torch.Tensor,
    noise: torch.Tensor,
    loss_kind: str = "mse",
    weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Each sample's loss [B] (mean over its elements): the micro-batch loss is their mean.

    The samples of a micro-batch share one bucket (same shape), so the mean of the per-sample
    means is the elementwise mean; the per-image loss report (``Step.items``) uses these values.
    """
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
        loss = 2.0 * F.huber_loss(pred, target, delta=1.0, reduction="none")  # ~MSE when small
    else:
        loss = F.mse_loss(pred, target, reduction="none")
    if weights is not None:
        loss = loss * weights.to(loss.device, torch.float32).view(-1, 1, 1, 1)
    return loss.mean(dim=tuple(range(1, loss.dim())))


def draw_micro_batch(
    idx: Sequence[int],
    batch: Sequence[Example],
    generator: torch.Generator,
    *,
    train: TrainConfig,
    texts: TextCache,
    latents: LatentCache,
    empty: torch.Tensor,  # the embedding a dropped caption becomes
    flips_on: set[int],
    device: torch.device,
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
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
