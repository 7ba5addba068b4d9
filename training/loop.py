"""The training loop, top to bottom: data -> model -> caches -> LoRA -> optimizer -> steps.

The objective (flow matching, as Z-Image was trained) and the per-micro-batch random draws live
in ``training.objective``; the optimizer, LR schedule and EMA in ``training.optim``.

Every random draw of a micro-batch (caption dropout, flips, timesteps, noise) comes from a CPU
``torch.Generator`` seeded from (seed, step, micro-batch, rank); the batch order comes from
(seed, epoch). With the RNG states (LoRA dropout) and the position in the epoch saved beside
each checkpoint, ``--resume`` continues bit-for-bit where it stopped.

It runs unchanged under ``accelerate launch`` (DDP over several GPUs): the model and
optimizer go through ``Accelerator.prepare``; only the main process writes files and events.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training import checkpoints as ckpt
from training.data import (
    EpochPlan,
    LatentCache,
    TextCache,
    cache_root,
    collect_examples,
    dataset_hash,
)
from training.errors import DatasetInvalidError, ResumeError
from training.events import EventSink, StepMeter
from training.model import (
    describe_device,
    load_components,
    load_transformer,
    lora_named_parameters,
    prepare_transformer,
    resolve_device,
    training_adapter_state,
    user_lora_state,
)
from training.objective import (
    draw_micro_batch,
    flow_matching_sample_losses,
    loss_weights,
    step_seed,
)
from training.optim import EMA, build_optimizer, build_scheduler, current_lr
from training.placement import device_of, plan_placement
from training.sampling import SamplePlan, render_samples
from training.train_state import restore as restore_state

if TYPE_CHECKING:
    from training.config import RunConfig

log = logging.getLogger(__name__)


@dataclass
class RunContext:
    run_dir: Path
    sink: EventSink
    poll_commands: Callable[[], list[str]] = lambda: []
    resume: bool = False
    app_version: str = "0"


@dataclass
class TrainResult:
    step: int
    reason: str  # "finished" | "stopped"
    final_path: Path | None = None
    checkpoints: list[Path] = field(default_factory=list)


# ---- the run -------------------------------------------------------------------------------


def train(cfg: RunConfig, ctx: RunContext) -> TrainResult:  # noqa: C901 - one readable loop
    import torch
    from accelerate import Accelerator
    from accelerate.utils import broadcast_object_list, set_seed

    t = cfg.train
    run_dir, name = ctx.run_dir, cfg.name

    # -- device, precision, accelerate
    device, device_warning = resolve_device(cfg.device)
    on_cpu = device.type == "cpu"
    weight_dtype = (
        torch.float32 if on_cpu else (torch.bfloat16 if t.precision == "bf16" else torch.float16)
    )
    accelerator = Accelerator(
        mixed_precision="no" if on_cpu else t.precision, cpu=on_cpu, device_placement=False
    )
    if accelerator.num_processes > 1:
        device = accelerator.device
    main = accelerator.is_main_process
    sink = ctx.sink if main else EventSink(None)
    start_step, resume = 0, ctx.resume
    if resume:
        found = ckpt.peek_resume_step(run_dir, name)
        if found is None and not ckpt.previous_run_files(run_dir, name):
            raise ResumeError(
                f"--resume: no saved training state in {run_dir / ckpt.STATE_DIR}; start without --resume"
            )
        if found is None:  # checkpoints whose state was never written (e.g. a full disk)
            resume = False
            sink.warning(
                f"--resume: no complete training state in {run_dir / ckpt.STATE_DIR}; "
                "training starts again from step 0",
                code="other",
            )
        start_step = found or 0
    sink.started(
        name=name,
        run_dir=str(run_dir.resolve()),
        device=describe_device(device),
        total_steps=t.steps,
        start_step=start_step,
        resumed=resume,
    )
    if device_warning:
        sink.warning(device_warning, code="no_gpu")
    set_seed(t.seed)

    # -- data
    sink.status("reading the dataset")
    examples = collect_examples(cfg, sink)
    data_hash = dataset_hash(examples)

    # -- model components (CPU first), then the caches
    sink.status(f"loading the model ({cfg.model.name_or_path})")
    te_nf4 = cfg.model.quantize_text_encoder == "nf4" and not on_cpu
    if cfg.model.quantize_text_encoder == "nf4" and on_cpu:
        sink.warning(
            "text encoder NF4 needs a GPU; it is loaded unquantised", code="nf4_unavailable"
        )
    # fp16 overflows in the VAE; it is small, so it runs in float32 for fp16 runs
    vae_dtype = torch.float32 if weight_dtype == torch.float16 else weight_dtype
    comps = load_components(
        cfg,
        weight_dtype,
        text_encoder_nf4=te_nf4,
        with_transformer=False,
        vae_dtype=vae_dtype,
        device=device,
    )
    adapter = None
    if cfg.model.uses_training_adapter:
        sink.status("loading the training adapter")
        adapter = training_adapter_state(cfg.model.training_adapter.path)

    placement = plan_placement(cfg, device, text_encoder_nf4=te_nf4)
    if not te_nf4:
        comps.text_encoder.to(placement.text_encoder)
    te_device = device_of(comps.text_encoder)
    sink.status("encoding captions", component="text_encoder", device=te_device)
    any_cache_text = any(d.cache_text_embeddings for d in cfg.datasets)
    text_root = cache_root("text") if any_cache_text else None
    texts = TextCache(comps.text_encoder, comps.tokenizer, torch.device(te_device), text_root)
    prompts = list(cfg.sample.prompts) if cfg.sample.enabled else []
    dropped = cfg.trigger if t.caption_dropout_mode == "trigger" else ""  # a dropped caption
    texts.warm(
        [ex.caption for ex in examples] + ["", dropped] + prompts + [cfg.sample.negative], sink
    )
    del comps.text_encoder
    texts.text_encoder = None
    gc.collect()
    if not on_cpu:
        torch.cuda.empty_cache()

    comps.vae.to(placement.vae_cache)
    sink.status("caching latents", component="vae", device=device_of(comps.vae))
    any_cache_lat = any(d.cache_latents for d in cfg.datasets)
    lat_root = cache_root("latents") if any_cache_lat else None
    latents = LatentCache(comps.vae, torch.device(placement.vae_cache), lat_root)
    bad = set(latents.warm(examples, any(d.flip_x for d in cfg.datasets), sink, keep=True))
    examples = [ex for i, ex in enumerate(examples) if i not in bad]
    if not examples:
        raise DatasetInvalidError("no dataset image could be read; see the warnings above")
    comps.vae.to(placement.vae_idle)
    sink.status("the VAE waits while training", component="vae", device=device_of(comps.vae))

    # -- transformer + LoRA + optimizer
    sink.status("loading the transformer")
    comps.transformer, comps.description = load_transformer(cfg, weight_dtype)
    sink.status("preparing the transformer")
    params = prepare_transformer(comps, cfg, device, weight_dtype, adapter)
    transformer = comps.transformer
    named = lora_named_parameters(transformer)
    optimizer = build_optimizer(t, params)
    scheduler = build_scheduler(t, optimizer)
    ema = EMA(named, t.ema.decay) if t.ema.enabled else None
    generator = torch.Generator("cpu")  # reseeded per micro-batch (step_seed)
    plan = EpochPlan(examples, t.batch_size, t.seed)
    step, epoch, pos = 0, 0, 0

    def state_dict() -> dict[str, Any]:
        return {
            "step": step,
            "epoch": epoch,
            "pos": pos,
            "lora": {n: p.detach().float().cpu() for n, p in named.items()},
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "ema": dict(ema.shadow) if ema else None,
            "rng": ckpt.capture_rng(),
            "compat": ckpt.compat_of(cfg, data_hash),
        }

    if resume:
        path = ckpt.latest_state(run_dir, name)
        if path is None:  # peek_resume_step found it above; only a concurrent delete gets here
            raise ResumeError(f"--resume: the training state in {run_dir / ckpt.STATE_DIR} is gone")
        state = ckpt.load_state(path, run_dir, name)
        for problem in ckpt.check_compat(state.get("compat") or {}, ckpt.compat_of(cfg, data_hash)):
            sink.warning(problem, code="other")
        step, epoch, pos = restore_state(
            state,
            path,
            step=start_step,
            named=named,
            optimizer=optimizer,
            scheduler=scheduler,
            ema=ema,
            run_dir=run_dir,
            name=name,
        )
        del state

    transformer, optimizer = accelerator.prepare(transformer, optimizer)
    model = accelerator.unwrap_model(transformer)
    batches = plan.batches(epoch)
    empty = texts.get(dropped)
    flips_on = {i for i, ex in enumerate(examples) if ex.flip_x}

    sample_plan = None
    if cfg.sample.enabled:
        s = cfg.sample
        sample_plan = SamplePlan(
            prompts=prompts,
            embeds=[texts.get(p) for p in prompts],
            negative=texts.get(s.negative),
            width=s.width,
            height=s.height,
            steps=s.steps,
            guidance=s.guidance,
            seed=s.seed,
            walk_seed=s.walk_seed,
        )
    result = TrainResult(step=step, reason="finished")
    # a resumed step whose LoRA file was never written (full disk) is saved again below
    lora_there = (run_dir / f"{ckpt.checkpoint_name(name, step)}.safetensors").is_file()
    last_saved = step if resume and lora_there else -1

    def save(final: bool = False) -> None:
        nonlocal last_saved
        if main:
            with ema.applied(named) if ema else contextlib.nullcontext():
                tensors = ckpt.comfy_lora_state_dict(
                    user_lora_state(model),
                    cfg.network.rank,
                    cfg.network.alpha,  # pyright: ignore[reportArgumentType] - set on validation
                    {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[
                        cfg.save.dtype
                    ],
                )
            meta = ckpt.lora_metadata(
                cfg=cfg,
                step=step,
                dataset_hash=data_hash,
                base_model=comps.description,
                app_version=ctx.app_version,
            )
            if last_saved != step:
                # the state first: a LoRA file never stands for a step that cannot be resumed
                state_path = ckpt.save_state(run_dir, name, step, state_dict())
                path = ckpt.save_lora(run_dir, ckpt.checkpoint_name(name, step), tensors, meta)
                ckpt.prune(run_dir, name, cfg.save.keep_last)
                result.checkpoints.append(path)
                sink.emit(
                    "checkpoint_saved",
                    step=step,
                    path=str(path.resolve()),
                    state_path=str(state_path.resolve()),
                )
                last_saved = step
            if final:
                path = ckpt.save_lora(run_dir, name, tensors, meta)
                result.final_path = path
                sink.emit("checkpoint_saved", step=step, path=str(path.resolve()), state_path=None)
        accelerator.wait_for_everyone()

    def sample() -> None:
        if sample_plan is None or not main:
            accelerator.wait_for_everyone()
            return
        n, where = len(sample_plan.prompts), placement.vae_decode
        sink.status(f"rendering {n} samples at step {step}", component="vae", device=where)
        with ema.applied(named) if ema else contextlib.nullcontext():
            render_samples(
                sample_plan,
                transformer=model,
                vae=comps.vae,
                scheduler=comps.scheduler,
                device=device,
                step=step,
                run_dir=run_dir,
                decode_device=placement.vae_decode,
                has_training_adapter=adapter is not None,
                on_saved=lambda i, seed, prompt, p: sink.emit(
                    "sample_saved",
                    step=step,
                    index=i,
                    seed=seed,
                    prompt=prompt,
                    path=str(p.resolve()),
                ),
            )
        accelerator.wait_for_everyone()

    if resume and last_saved != step:
        save()
    if step == 0 and cfg.sample.enabled and not cfg.sample.skip_first:
        sample()

    def take_commands() -> set[str]:
        commands = ctx.poll_commands() if main else []
        if accelerator.num_processes > 1:
            box = [commands]
            broadcast_object_list(box)
            commands = box[0]
        wants = set()
        for raw in commands:
            if raw == "sample" and sample_plan is None:
                sink.warning("sample: sampling is off in this run (sample.enabled: false)")
            elif raw in ("stop", "save", "sample"):
                wants.add(raw)
            else:
                sink.warning(
                    f"unknown command {raw!r}: use stop, save or sample", code="command_unknown"
                )
        return wants

    early = take_commands()  # e.g. a stop sent while the model was loading
    if "sample" in early:
        sample()
    if "stop" in early and step < t.steps:
        if "save" in early or step > 0:
            save()
        result.reason = "stopped"
        sink.emit("done", step=step, reason="stopped", final_path=None)
        return result

    sink.status("training")
    meter = StepMeter(t.steps, step)
    if not on_cpu:
        torch.cuda.reset_peak_memory_stats(device)
    while step < t.steps:
        losses, per_sample, item_ids, item_t = [], [], [], []
        for micro in range(t.gradient_accumulation):
            # every rank takes its own batch of the same seed-determined epoch order
            ranks, rank = accelerator.num_processes, accelerator.process_index
            if pos + ranks > len(batches):
                epoch, pos = epoch + 1, 0
                batches = plan.batches(epoch)
                if ranks > len(batches):
                    raise DatasetInvalidError(
                        f"{len(batches)} batches per epoch cannot feed {ranks} GPUs: "
                        "lower the batch size or add images"
                    )
            idx = batches[pos + rank]
            batch = [examples[i] for i in idx]
            pos += ranks
            # the step's random draws depend only on (seed, step, micro-batch, rank)
            generator.manual_seed(step_seed(t.seed, step, micro, rank))
            # draws in a fixed order: per sample (dropout, flip), then timesteps, then noise
            embeds, x0, sigmas, noise = draw_micro_batch(
                idx,
                batch,
                generator,
                train=t,
                texts=texts,
                latents=latents,
                empty=empty,
                flips_on=flips_on,
                device=device,
            )
            sync = micro == t.gradient_accumulation - 1
            with contextlib.nullcontext() if sync else accelerator.no_sync(transformer):
                with accelerator.autocast():
                    weights = loss_weights(t.timestep_sampling, sigmas)
                    sample_losses = flow_matching_sample_losses(
                        transformer, x0, embeds, sigmas, noise, t.loss, weights
                    )
                    loss = sample_losses.mean()
                accelerator.backward(loss / t.gradient_accumulation)
            losses.append(loss.detach().float())  # no host sync per micro-batch
            per_sample.append(sample_losses.detach().float())
            item_ids.extend(ex.rel for ex in batch)
            item_t.extend(sigmas.tolist())  # CPU tensor: no device sync
        if t.max_grad_norm > 0:
            accelerator.clip_grad_norm_(params, t.max_grad_norm)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if ema:
            ema.update(named)
        step += 1
        result.step = step

        it_s, eta = meter.tick(step)
        vram = None
        if not on_cpu:
            vram = torch.cuda.max_memory_allocated(device) / 1e9
            torch.cuda.reset_peak_memory_stats(device)
        # one host sync per step, for the logged loss and the per-image losses
        values = torch.cat([torch.stack(losses), *per_sample]).tolist()
        loss_value = sum(values[: len(losses)]) / len(losses)
        items = [
            {"image": rel, "loss": v, "t": s}
            for rel, v, s in zip(item_ids, values[len(losses) :], item_t, strict=True)
        ]
        if not math.isfinite(loss_value):
            sink.warning(
                f"the loss is {loss_value} at step {step}: lower the learning rate", code="other"
            )
        sink.emit(
            "step",
            step=step,
            loss=loss_value,
            lr=current_lr(optimizer, scheduler),
            it_s=it_s,
            eta_s=eta,
            vram_gb=vram,
            items=items,
        )

        wants = take_commands()
        if step % cfg.save.every == 0 or "save" in wants or "stop" in wants:
            if step < t.steps or "stop" in wants:
                save()
        if cfg.sample.enabled and (step % cfg.sample.every == 0 or "sample" in wants):
            sample()
        meter.reset_clock()
        if "stop" in wants and step < t.steps:
            result.reason = "stopped"
            sink.emit("done", step=step, reason="stopped", final_path=None)
            return result

    save(final=True)
    sink.emit(
        "done",
        step=step,
        reason="finished",
        final_path=str(result.final_path.resolve()) if result.final_path else None,
    )
    return result
