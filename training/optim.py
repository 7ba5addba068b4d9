"""Optimizer, learning-rate schedule and EMA of the LoRA weights.

``build_optimizer`` covers AdamW (torch), AdamW8bit / Lion8bit (bitsandbytes), Prodigy
(prodigyopt) and Adafactor (transformers); each backend is imported only when chosen.
``current_lr`` reports Prodigy's effective step size (lr * d) so the step events show what
the optimizer really does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    import torch
    from torch.optim.lr_scheduler import LRScheduler

    from training.config import TrainConfig


def build_optimizer(train: TrainConfig, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
    import torch

    a = train.optimizer_args
    # a two-tuple: the config validates the length
    betas = cast("tuple[float, float]", tuple(a.betas)) if a.betas else None
    kind = train.optimizer
    if kind == "adamw":
        return torch.optim.AdamW(
            params,
            lr=train.lr,
            betas=betas or (0.9, 0.999),
            eps=a.eps or 1e-8,
            weight_decay=train.weight_decay,
        )
    if kind in ("adamw8bit", "lion8bit"):
        import bitsandbytes as bnb

        if kind == "adamw8bit":
            return bnb.optim.AdamW8bit(
                params,
                lr=train.lr,
                betas=betas or (0.9, 0.999),
                eps=a.eps or 1e-8,
                weight_decay=train.weight_decay,
            )
        return bnb.optim.Lion8bit(
            params,
            lr=train.lr,
            betas=betas or (0.9, 0.99),
            # bitsandbytes' signature says int; it takes any number
            weight_decay=train.weight_decay,  # pyright: ignore[reportArgumentType]
        )
    if kind == "prodigy":
        from prodigyopt import Prodigy

        return Prodigy(
            params,
            lr=train.lr,
            betas=betas or (0.9, 0.999),
            eps=a.eps or 1e-8,
            # prodigyopt's default (0) makes pyright infer int; it takes any number
            weight_decay=train.weight_decay,  # pyright: ignore[reportArgumentType]
            d0=a.d0 or 1e-6,
            use_bias_correction=True if a.use_bias_correction is None else a.use_bias_correction,
            safeguard_warmup=True if a.safeguard_warmup is None else a.safeguard_warmup,
        )
    if kind == "adafactor":
        from transformers.optimization import Adafactor

        return Adafactor(
            params,
            lr=train.lr,
            weight_decay=train.weight_decay,
            scale_parameter=False,
            relative_step=False,
            warmup_init=False,
        )
    raise ValueError(f"unknown optimizer {kind!r}")


def build_scheduler(train: TrainConfig, optimizer: torch.optim.Optimizer) -> LRScheduler:
    """The per-step learning-rate schedule; ``linear_lr`` is torch's LinearLR over the run."""
    from diffusers.optimization import get_scheduler

    if train.scheduler == "linear_lr":
        import torch

        return torch.optim.lr_scheduler.LinearLR(
            optimizer,
            start_factor=train.lr_start_factor,
            end_factor=train.lr_end_factor,
            total_iters=train.steps,
        )

    kwargs: dict[str, Any] = {}
    if train.scheduler == "cosine_with_restarts":
        kwargs["num_cycles"] = train.num_cycles
    return get_scheduler(
        train.scheduler,
        optimizer,
        num_warmup_steps=train.warmup_steps,
        num_training_steps=train.steps,
        **kwargs,
    )


def current_lr(optimizer: torch.optim.Optimizer, scheduler: LRScheduler) -> float:
    group = optimizer.param_groups[0]
    lr = scheduler.get_last_lr()[0]
    return float(lr * group["d"]) if "d" in group else float(lr)  # Prodigy's effective step


class EMA:
    """Exponential moving average of the LoRA weights (float32 shadow copies)."""

    def __init__(self, named: dict[str, torch.nn.Parameter], decay: float):
        self.decay = decay
        self.shadow = {n: p.detach().float().clone() for n, p in named.items()}

    def update(self, named: dict[str, torch.nn.Parameter]) -> None:
        import torch

        with torch.no_grad():
            for n, p in named.items():
                self.shadow[n].mul_(self.decay).add_(p.detach().float(), alpha=1 - self.decay)

    @contextlib.contextmanager
    def applied(self, named: dict[str, torch.nn.Parameter]) -> Iterator[None]:
        """Temporarily put the averaged weights into the model."""
        import torch

        backup = {n: p.detach().clone() for n, p in named.items()}
        with torch.no_grad():
            for n, p in named.items():
                p.copy_(self.shadow[n])
        try:
            yield
        finally:
            with torch.no_grad():
                for n, p in named.items():
                    p.copy_(backup[n])
