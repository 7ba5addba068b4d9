"""The ``train`` section of an ai-toolkit job: optimizer, schedule, timesteps, text encoder.

Each rule follows what ai-toolkit does with the value (``toolkit/optimizer.py``,
``toolkit/scheduler.py``, ``jobs/process/BaseSDTrainProcess.py``, ``SDTrainer``), not what
the key's name suggests; the report names every place where the two differ.
"""

from __future__ import annotations

from typing import Any

from training.aitk.job import Importer, Node
from training.aitk.tables import (
    AITK_EPS_1E6,
    DEFAULT_WEIGHT_DECAY,
    DTYPES,
    OPTIMIZERS,
    TIMESTEPS,
)

AITK_WARMUP_DEFAULT = 1000  # ai-toolkit's constant_with_warmup without num_warmup_steps


def number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` as text; ai-toolkit accepts it, so do we."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def map_train(imp: Importer, node: Node | None) -> None:
    if node is None:
        return
    imp.put(node, "batch_size", "train.batch_size")
    imp.put(node, "steps", "train.steps")
    imp.legacy_accumulation = _map_accumulation(imp, node)
    imp.put(node, "gradient_checkpointing", "train.gradient_checkpointing")
    optimizer = _map_optimizer(imp, node)
    _map_scheduler(imp, node)
    _map_timesteps(imp, node)
    _map_loss(imp, node)
    ema = node.child("ema_config", "ema_config")
    if ema is not None:
        imp.put(ema, "use_ema", "train.ema.enabled")
        imp.put(ema, "ema_decay", "train.ema.decay", number)
    if node.has("dtype"):
        raw = node.get("dtype")
        mapped = DTYPES.get(str(raw).lower(), raw)
        if mapped == "fp32":
            imp.approx(f"{node.path}.dtype", raw, "Likeness trains in bf16 or fp16; uses bf16")
            mapped = "bf16"
        imp.set("train.precision", mapped, f"{node.path}.dtype")
    imp.put(node, "max_grad_norm", "train.max_grad_norm", number)
    if node.has("max_grad_norm") and number(node.data["max_grad_norm"]) == 0:
        if optimizer != "adafactor":
            imp.approx(
                f"{node.path}.max_grad_norm", node.data["max_grad_norm"],
                "ai-toolkit clips gradients to this norm, and 0 zeroes every gradient (the LoRA "
                "never changes); Likeness reads 0 as no clipping",
            )  # fmt: skip
    if optimizer == "adafactor":  # ai-toolkit never clips gradients for Adafactor
        clip = number(node.data.get("max_grad_norm", 1.0))
        imp.set("train.max_grad_norm", 0.0, f"{node.path}.max_grad_norm")
        if node.has("max_grad_norm") and clip:
            imp.as_aitk(
                f"{node.path}.max_grad_norm", clip,
                "ai-toolkit never clips gradients with adafactor; Likeness does not either "
                f"(set train.max_grad_norm: {clip} in Likeness to clip)",
            )  # fmt: skip
    imp.put(node, "seed", "train.seed")
    _map_text_encoder(imp, node)
    if not node.data.get("diff_output_preservation"):  # these only matter when DOP is on
        node.get("diff_output_preservation_multiplier")
        node.get("diff_output_preservation_class")
    if not node.data.get("blank_prompt_preservation"):
        node.get("blank_prompt_preservation_multiplier")
    if not node.data.get("do_differential_guidance"):
        node.get("differential_guidance_scale")


def _map_accumulation(imp: Importer, node: Node) -> int:
    """``gradient_accumulation`` maps as is; returns N of legacy ``_steps`` (or 0)."""
    imp.put(node, "gradient_accumulation", "train.gradient_accumulation")
    legacy = node.get("gradient_accumulation_steps")
    if legacy is None or legacy == 1:
        return 0
    path = f"{node.path}.gradient_accumulation_steps"
    if node.data.get("gradient_accumulation", 1) != 1:
        imp.approx(path, legacy, "ai-toolkit stops with an error when gradient_accumulation is "
                                 "set too; Likeness uses gradient_accumulation")  # fmt: skip
        return 0
    if not isinstance(legacy, int) or legacy < 1:
        imp.approx(path, legacy, "ai-toolkit accumulates over a whole epoch; Likeness updates "
                                 "after every batch (set train.gradient_accumulation to average "
                                 "several)")  # fmt: skip
        return 0
    return legacy


def finish_train(imp: Importer, node: Node | None) -> None:
    """Legacy ``gradient_accumulation_steps: N``, once save and sample cadences are known.

    ai-toolkit counts every batch as a step, clears the gradient before each one and updates
    the LoRA at every Nth step: ``steps / N`` updates of one batch each, the schedule, saves
    and samples (and the warm-up) counted in batches. Likeness trains those updates as its
    steps.
    """
    n = imp.legacy_accumulation
    if node is None or not n:
        return
    path = f"{node.path}.gradient_accumulation_steps"
    steps = imp.value("train.steps")
    parts = []
    for target, what in (("train.steps", "steps"), ("train.warmup_steps", "warm-up"),
                         ("save.every", "save.every"), ("sample.every", "sample.every")):  # fmt: skip
        value = imp.value(target)
        if isinstance(value, int) and value > 0:
            imp.set(target, max(1, value // n), path)
            parts.append(f"{what}: {max(1, value // n)}")
    updates = f"its {steps} steps are {max(1, steps // n)}" if isinstance(steps, int) else "its "
    updates += " updates" if isinstance(steps, int) else "steps are updates"
    imp.as_aitk(
        path, n,
        f"ai-toolkit counts each batch as a step and clears the gradient before each one, so "
        f"only every {n}th batch updates the LoRA: {updates} of one batch each. Likeness "
        f"trains the same, with these divided by {n}: {', '.join(parts) or 'none set'}; to average {n} "
        f"batches per update instead, set train.gradient_accumulation: {n} and multiply them "
        "back",
    )  # fmt: skip


def _optimizer_key(raw: Any) -> str:
    low = str(raw).lower()
    if low.startswith("prodigy8bit"):
        return "prodigy8bit"
    return "prodigy" if low.startswith("prodigy") else low


def _map_optimizer(imp: Importer, node: Node) -> str | None:
    """Optimizer, lr and optimizer_params as ai-toolkit builds them; returns Likeness's name."""
    imp.put(node, "lr", "train.lr", number)
    params = node.child("optimizer_params", "optimizer_params")
    if not node.has("optimizer"):
        node.get("optimizer")
        if params is not None:
            imp.put(params, "weight_decay", "train.weight_decay", number)
        return None
    raw = node.get("optimizer")
    where = f"{node.path}.optimizer"
    key = _optimizer_key(raw)
    mapped, why = OPTIMIZERS.get(key, (None, None))
    if mapped is None and key.startswith("dadaptation"):  # lr-free like Prodigy, its successor
        mapped, why = "prodigy", f"Likeness has no {raw!r} optimizer; uses Prodigy (also lr-free)"
    elif mapped is None:
        mapped, why = "adamw8bit", f"Likeness has no {raw!r} optimizer; uses adamw8bit"
        lr = number(node.data.get("lr"))
        if isinstance(lr, (int, float)) and lr > 0.01:  # an lr meant for an lr-free optimizer
            imp.set("train.lr", 1e-4, f"{node.path}.lr")
            why += f" at lr 1e-4 (lr {lr:g} would diverge with it)"
    imp.set("train.optimizer", mapped, where)
    p = params.data if params is not None else {}
    ppath = params.path if params is not None else f"{node.path}.optimizer_params"
    decay = number(p.get("weight_decay", DEFAULT_WEIGHT_DECAY.get(key, 0.0)))
    if params is not None:
        params.get("weight_decay")
    imp.set("train.weight_decay", decay, f"{ppath}.weight_decay")
    if why and not (key in ("adam", "adam8bit") and not decay):  # without decay Adam == AdamW
        imp.approx(where, raw, why)
    if params is not None:
        imp.put(params, "betas", "train.optimizer_args.betas")
        imp.put(params, "d0", "train.optimizer_args.d0", number)
    if key in AITK_EPS_1E6 or key == "prodigy8bit":
        if "eps" in p:
            imp.approx(
                f"{ppath}.eps", p["eps"],
                "ai-toolkit passes its own eps (1e-6) and stops with an error when the job "
                "gives one too; Likeness uses this value",
            )  # fmt: skip
            imp.put(params, "eps", "train.optimizer_args.eps", number)  # type: ignore[arg-type]
        else:
            imp.set("train.optimizer_args.eps", 1e-6, where)
    elif params is not None:
        imp.put(params, "eps", "train.optimizer_args.eps", number)
    if mapped == "prodigy":
        _map_prodigy(imp, node, params)
    return mapped


def _map_prodigy(imp: Importer, node: Node, params: Node | None) -> None:
    """Prodigy as ai-toolkit builds it: lr 1.0 below 0.1, no bias correction or safeguard."""
    for key in ("use_bias_correction", "safeguard_warmup"):
        value = params.get(key) if params is not None and params.has(key) else False
        imp.set(f"train.optimizer_args.{key}", bool(value), f"{node.path}.optimizer_params.{key}")
    lr = number(node.data.get("lr", 1e-6))  # ai-toolkit's default lr is 1e-6
    if isinstance(lr, (int, float)) and lr < 0.1:
        imp.set("train.lr", 1.0, f"{node.path}.lr")
        imp.as_aitk(
            f"{node.path}.lr", lr,
            "ai-toolkit runs Prodigy at lr 1.0 whenever lr is below 0.1 (Prodigy finds the step "
            f"size itself; lr multiplies it); Likeness uses 1.0 too (set train.lr: {lr} in "
            "Likeness to scale Prodigy's step by it)",
        )  # fmt: skip


def _map_scheduler(imp: Importer, node: Node) -> None:
    raw = node.get("lr_scheduler")
    name = "constant" if raw is None else str(raw).lower()
    params = node.child("lr_scheduler_params", "lr_scheduler_params")
    where = f"{node.path}.lr_scheduler"
    ppath = f"{node.path}.lr_scheduler_params"
    p = params.data if params is not None else {}
    warm = p.get("num_warmup_steps")
    crash = "ai-toolkit's {} schedule (torch's {}) stops with an error on this key"
    if name == "constant_with_warmup":
        if params is not None:
            params.get("num_warmup_steps")
        if warm is None:
            warm = AITK_WARMUP_DEFAULT
            imp.as_aitk(where, raw, f"ai-toolkit warms up over {warm} steps when "
                                   "lr_scheduler_params.num_warmup_steps is not set; "
                                   "Likeness does too")  # fmt: skip
        imp.set("train.warmup_steps", warm, f"{ppath}.num_warmup_steps")
        steps = imp.value("train.steps")
        if isinstance(steps, int) and isinstance(warm, int) and warm >= steps:
            imp.set("train.warmup_steps", max(1, steps - 1), f"{ppath}.num_warmup_steps")
            imp.approx(f"{ppath}.num_warmup_steps", warm,
                       f"longer than the run: ai-toolkit never reaches lr; Likeness warms up "
                       f"over {max(1, steps - 1)} steps")  # fmt: skip
    elif name in ("constant", "cosine", "cosine_with_restarts"):
        torch_name = {"constant": "ConstantLR", "cosine": "CosineAnnealingLR",
                      "cosine_with_restarts": "CosineAnnealingWarmRestarts"}[name]  # fmt: skip
        if warm is not None:
            params.get("num_warmup_steps")  # type: ignore[union-attr]
            imp.set("train.warmup_steps", warm, f"{ppath}.num_warmup_steps")
            imp.approx(
                f"{ppath}.num_warmup_steps",
                warm,
                crash.format(name, torch_name) + "; Likeness warms up as written",
            )
        if name == "cosine_with_restarts" and "num_cycles" in p:
            params.get("num_cycles")  # type: ignore[union-attr]
            imp.set("train.num_cycles", p["num_cycles"], f"{ppath}.num_cycles")
            imp.approx(f"{ppath}.num_cycles", p["num_cycles"],
                       crash.format(name, torch_name) + " and otherwise runs one cycle over "
                       "train.steps; Likeness runs the cycles as written")  # fmt: skip
        if name == "constant" and p.get("factor", 1) != 1:
            params.get("factor")  # type: ignore[union-attr]
            lr = imp.value("train.lr", 1e-4) * number(p["factor"])
            imp.set("train.lr", lr, f"{ppath}.factor")
            imp.as_aitk(f"{ppath}.factor", p["factor"],
                        f"ai-toolkit's constant schedule multiplies lr by it for the whole run; "
                        f"Likeness uses lr {lr:g}")  # fmt: skip
    elif name == "linear":
        # torch's LinearLR over the run: lr x start_factor (1/3) rising to lr x end_factor (1)
        name = "linear_lr"
        start = number(params.get("start_factor", 1 / 3)) if params else 1 / 3
        end = number(params.get("end_factor", 1.0)) if params else 1.0
        imp.set("train.lr_start_factor", start, f"{ppath}.start_factor")
        imp.set("train.lr_end_factor", end, f"{ppath}.end_factor")
        imp.as_aitk(where, raw,
                    f"ai-toolkit's linear is torch's LinearLR: the rate goes in a straight line "
                    f"from lr x {start:.4g} to lr x {end:.4g} over the run; Likeness does the "
                    "same (scheduler linear_lr); Likeness's own 'linear' warms up and then "
                    "decays to 0")  # fmt: skip
        if warm is not None:
            params.get("num_warmup_steps")  # type: ignore[union-attr]
            imp.approx(
                f"{ppath}.num_warmup_steps",
                warm,
                crash.format("linear", "LinearLR") + "; linear_lr has no warm-up",
            )
    else:
        imp.approx(where, raw, "not available in Likeness; uses constant")
        name = "constant"
    if raw is not None or name != "constant":
        imp.set("train.scheduler", name, where)


def _map_timesteps(imp: Importer, node: Node) -> None:
    raw = node.get("timestep_type", "sigmoid")  # ai-toolkit's default
    mapped = TIMESTEPS.get(str(raw).lower())
    if mapped is None:
        mapped = "shift" if "shift" in str(raw).lower() else "sigmoid"
        imp.approx(f"{node.path}.timestep_type", raw, f"not available in Likeness; uses {mapped}")
    imp.set("train.timestep_sampling", mapped, f"{node.path}.timestep_type")
    if mapped == "shift":  # Z-Image's training scheduler in ai-toolkit: shift 3, not dynamic
        imp.set("train.timestep_shift", 3.0, f"{node.path}.timestep_type")


def _map_loss(imp: Importer, node: Node) -> None:
    if not node.has("loss_type"):
        node.get("loss_type")
        return
    raw = node.get("loss_type")
    where = f"{node.path}.loss_type"
    if str(raw).lower() == "huber":  # not one of ai-toolkit's losses: it falls back to MSE
        imp.as_aitk(
            where,
            raw,
            "ai-toolkit has no 'huber' loss and trains with MSE; Likeness "
            "does too (set train.loss: huber for Likeness's Huber loss)",
        )
    elif str(raw).lower() != "mse":
        imp.approx(where, raw, "not available in Likeness; uses mse")
    imp.set("train.loss", "mse", where)


def _map_text_encoder(imp: Importer, node: Node) -> None:
    """``unload_text_encoder``: without cached embeddings ai-toolkit trains on the trigger."""
    node.get("cache_text_embeddings")  # mapped per dataset in mapping._map_datasets
    if not node.has("unload_text_encoder"):
        node.get("unload_text_encoder")
        return
    where = f"{node.path}.unload_text_encoder"
    unload = node.get("unload_text_encoder")
    if not unload:
        return
    imp.set("model.offload_text_encoder", True, where)
    datasets = imp.out.get("datasets") or []
    if any(isinstance(d, dict) and d.get("cache_text_embeddings") for d in datasets):
        return  # cached caption embeddings: the captions train, the encoder is unloaded
    imp.set("train.caption_source", "trigger_only", where)
    imp.as_aitk(
        where, unload,
        "without cached text embeddings ai-toolkit encodes only the trigger word (and the empty "
        "caption) and trains every image on the trigger alone, captions unused; Likeness does "
        "the same (train.caption_source: trigger_only; set it to captions to train on the "
        "captions)",
    )  # fmt: skip


__all__ = ["finish_train", "map_train", "number"]
