"""Section-by-section mapping of an ai-toolkit job onto a Likeness run config.

Used by ``training.aitk.import_aitk``; every key read is marked on its ``_Node`` so that the
importer can report the rest. See ``training/aitk.py`` for the report and the tables.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.aitk import (
    DTYPES,
    FOUR_BIT_QTYPES,
    OPTIMIZERS,
    SCHEDULERS,
    TIMESTEPS,
    TRAINER_TYPES,
    ReportItem,
    _Node,
)
from training.config import BASE_MODEL, DEFAULT_MODEL, DEFAULT_TRAINING_ADAPTER

ADAPTER_REPO = DEFAULT_TRAINING_ADAPTER.rsplit("/", 1)[0]

if TYPE_CHECKING:
    from training.aitk import _Importer

P0 = "config.process[0]"


def map_job(imp: _Importer, job: Any, trigger: str | None) -> dict[str, Any]:
    """Fill ``imp.out``; returns the ``meta.likeness`` extras to apply last."""
    if not isinstance(job, dict):
        imp.problem("", "an ai-toolkit job is a mapping with 'job' and 'config'")
        return {}
    if "job" not in job and "trigger" in job and "datasets" in job:
        imp.problem("", "this is a Likeness run config, not an ai-toolkit job: train it with "
                        "`likeness train FILE`")  # fmt: skip
        return {}
    root = _Node(job, "", "root", imp)
    kind = root.get("job")
    if kind != "extension":
        imp.problem("job", f"must be 'extension' (an ai-toolkit training job), got {kind!r}")
    config = root.child("config", "config")
    meta = root.child("meta", "meta")
    extras: dict[str, Any] = {}
    meta_name = None
    if meta is not None:
        meta_name = meta.get("name")
        meta.get("version")
        likeness = meta.get("likeness")
        if isinstance(likeness, dict):
            extras = dict(likeness)
        elif likeness is not None:
            imp.problem("meta.likeness", "must be a mapping of Likeness settings")
    if config is None:
        imp.problem("config", "required, but missing")
        return extras
    name = config.get("name")
    if isinstance(name, str) and "[name]" in name and isinstance(meta_name, str):
        name = name.replace("[name]", meta_name)
    if name is not None:
        imp.set("name", name, "config.name")
    else:
        imp.problem("config.name", "required, but missing")
    processes = config.get("process")
    if not isinstance(processes, list) or not processes or not isinstance(processes[0], dict):
        imp.problem("config.process", "needs a list with one training process")
        return extras
    for i, extra in enumerate(processes[1:], start=1):
        imp.report.unmapped.append(
            ReportItem(f"config.process[{i}]", extra, "Likeness runs one process per job")
        )
    proc = _Node(processes[0], P0, "process", imp)
    _map_process(imp, proc, trigger)
    return extras


def _map_process(imp: _Importer, proc: _Node, trigger: str | None) -> None:
    ptype = proc.get("type")
    if ptype not in TRAINER_TYPES:
        imp.problem(f"{P0}.type", f"must be a trainer ({', '.join(TRAINER_TYPES)}), got {ptype!r}")
    if proc.has("training_folder"):
        imp.set(
            "training_folder", imp.path_value(proc.get("training_folder")), f"{P0}.training_folder"
        )
    imp.put(proc, "device", "device")
    word = proc.get("trigger_word")
    if trigger:
        imp.set("trigger", trigger)
        if word and word != trigger:
            imp.approx(f"{P0}.trigger_word", word, f"replaced by the trigger given: {trigger!r}")
    elif word:
        imp.set("trigger", word, f"{P0}.trigger_word")
    else:
        imp.problem(
            f"{P0}.trigger_word",
            "Likeness needs a trigger word: add trigger_word to the job or pass --trigger",
        )
    _map_network(imp, proc.child("network", "network"))
    _map_save(imp, proc.child("save", "save"))
    train = proc.child("train", "train")
    _map_datasets(imp, proc, train)
    _map_train(imp, train)
    _map_model(imp, proc.child("model", "model"))
    _map_sample(imp, proc.child("sample", "sample"), train)


def _map_network(imp: _Importer, node: _Node | None) -> None:
    if node is None:
        return
    ntype = node.get("type", "lora")
    if str(ntype).lower() not in ("lora", "locon"):
        imp.problem(f"{node.path}.type", f"Likeness trains LoRA only, got {ntype!r}")
    elif str(ntype).lower() == "locon":
        imp.approx(f"{node.path}.type", ntype, "LoCon -> LoRA (Z-Image has no conv layers)")
    imp.put(node, "linear", "network.rank")
    imp.put(node, "linear_alpha", "network.alpha")
    imp.put(node, "dropout", "network.dropout")
    for key in ("conv", "conv_alpha"):  # meaningless for Z-Image unless set on a LoCon
        if node.has(key) and str(ntype).lower() == "lora":
            node.get(key)


def _map_save(imp: _Importer, node: _Node | None) -> None:
    if node is None:
        return
    imp.put(node, "dtype", "save.dtype", lambda v: DTYPES.get(str(v).lower(), v))
    imp.put(node, "save_every", "save.every")
    imp.put(node, "max_step_saves_to_keep", "save.keep_last")


def _map_datasets(imp: _Importer, proc: _Node, train: _Node | None) -> None:
    items = proc.get("datasets")
    if not isinstance(items, list) or not items:
        imp.problem(f"{P0}.datasets", "needs at least one dataset with a folder_path")
        return
    dropout_seen: list[tuple[str, Any]] = []
    cache_te = train.get("cache_text_embeddings") if train is not None else None
    for i, raw in enumerate(items):
        path = f"{P0}.datasets[{i}]"
        if not isinstance(raw, dict):
            imp.problem(path, "must be a mapping with folder_path")
            continue
        node = _Node(raw, path, "dataset", imp)
        target = f"datasets[{i}]"
        imp.set(target, {}, path)
        if node.has("folder_path"):
            imp.set(
                f"{target}.folder", imp.path_value(node.get("folder_path")), f"{path}.folder_path"
            )
        else:
            node.get("folder_path")
            imp.problem(f"{path}.folder_path", "required, but missing")
        imp.put(node, "num_repeats", f"{target}.repeats")
        imp.put(node, "flip_x", f"{target}.flip_x")
        for key in ("cache_latents_to_disk", "cache_latents"):
            imp.put(node, key, f"{target}.cache_latents")
        if node.has("resolution"):
            res = node.get("resolution")
            res = res if isinstance(res, list) else [res]
            unique = list(dict.fromkeys(res))
            if len(unique) != len(res):
                imp.report.notes.append(f"{path}.resolution: repeated sizes in {res} used once")
            imp.set(f"{target}.resolutions", unique, f"{path}.resolution")
        else:
            node.get("resolution")
        if cache_te is not None:
            imp.set(
                f"{target}.cache_text_embeddings", cache_te, f"{P0}.train.cache_text_embeddings"
            )
        if node.has("caption_dropout_rate"):
            dropout_seen.append((f"{path}.caption_dropout_rate", node.get("caption_dropout_rate")))
    if dropout_seen:
        first_path, first = dropout_seen[0]
        imp.set("train.caption_dropout", first, first_path)
        for where, value in dropout_seen[1:]:
            if value != first:
                imp.approx(where, value, f"one caption dropout for all datasets: {first}")


def _map_train(imp: _Importer, node: _Node | None) -> None:
    if node is None:
        return
    imp.put(node, "batch_size", "train.batch_size")
    imp.put(node, "steps", "train.steps")
    for key in ("gradient_accumulation_steps", "gradient_accumulation"):
        imp.put(node, key, "train.gradient_accumulation")
    imp.put(node, "gradient_checkpointing", "train.gradient_checkpointing")
    if node.has("optimizer"):
        raw = node.get("optimizer")
        mapped, why = OPTIMIZERS.get(str(raw).lower(), ("adamw8bit", f"{raw} -> adamw8bit"))
        if str(raw).lower() not in OPTIMIZERS:
            why = f"Likeness has no {raw!r} optimizer; uses adamw8bit"
        imp.set("train.optimizer", mapped, f"{node.path}.optimizer")
        if why:
            imp.approx(f"{node.path}.optimizer", raw, why)
    imp.put(node, "lr", "train.lr", _number)
    imp.put(node, "weight_decay", "train.weight_decay", _number)
    params = node.child("optimizer_params", "optimizer_params")
    if params is not None:
        imp.put(params, "weight_decay", "train.weight_decay", _number)
        imp.put(params, "betas", "train.optimizer_args.betas")
        imp.put(params, "eps", "train.optimizer_args.eps", _number)
        imp.put(params, "d0", "train.optimizer_args.d0", _number)
    if node.has("lr_scheduler"):
        raw = node.get("lr_scheduler")
        mapped = SCHEDULERS.get(str(raw).lower())
        if mapped is None:
            imp.approx(f"{node.path}.lr_scheduler", raw, "not available in Likeness; uses constant")
            mapped = "constant"
        imp.set("train.scheduler", mapped, f"{node.path}.lr_scheduler")
    for key in ("lr_warmup_steps", "warmup_steps"):
        imp.put(node, key, "train.warmup_steps")
    sched = node.child("lr_scheduler_params", "lr_scheduler_params")
    if sched is not None:
        imp.put(sched, "num_warmup_steps", "train.warmup_steps")
        imp.put(sched, "num_cycles", "train.num_cycles")
    if node.has("timestep_type"):
        raw = node.get("timestep_type")
        mapped = TIMESTEPS.get(str(raw).lower())
        if mapped is None:
            mapped = "shift" if "shift" in str(raw).lower() else "sigmoid"
            imp.approx(
                f"{node.path}.timestep_type", raw, f"not available in Likeness; uses {mapped}"
            )
        imp.set("train.timestep_sampling", mapped, f"{node.path}.timestep_type")
    if node.has("loss_type"):
        raw = node.get("loss_type")
        mapped = str(raw).lower() if str(raw).lower() in ("mse", "huber") else "mse"
        if mapped != str(raw).lower():
            imp.approx(f"{node.path}.loss_type", raw, "not available in Likeness; uses mse")
        imp.set("train.loss", mapped, f"{node.path}.loss_type")
    ema = node.child("ema_config", "ema_config")
    if ema is not None:
        imp.put(ema, "use_ema", "train.ema.enabled")
        imp.put(ema, "ema_decay", "train.ema.decay", _number)
    if node.has("dtype"):
        raw = node.get("dtype")
        mapped = DTYPES.get(str(raw).lower(), raw)
        if mapped == "fp32":
            imp.approx(f"{node.path}.dtype", raw, "Likeness trains in bf16 or fp16; uses bf16")
            mapped = "bf16"
        imp.set("train.precision", mapped, f"{node.path}.dtype")
    imp.put(node, "max_grad_norm", "train.max_grad_norm", _number)
    imp.put(node, "seed", "train.seed")
    imp.put(node, "unload_text_encoder", "model.offload_text_encoder")
    node.get("cache_text_embeddings")  # mapped per dataset in _map_datasets
    dop = node.data.get("diff_output_preservation")
    if not dop:  # the multiplier and class only matter when DOP is on
        node.get("diff_output_preservation_multiplier")
        node.get("diff_output_preservation_class")
    if not node.data.get("blank_prompt_preservation"):
        node.get("blank_prompt_preservation_multiplier")
    if not node.data.get("do_differential_guidance"):
        node.get("differential_guidance_scale")


def _number(value: Any) -> Any:
    """YAML 1.1 reads ``1e-4`` as text; ai-toolkit accepts it, so do we."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _looks_local(name: str) -> bool:
    return (
        name.startswith(("/", "./", "../", "~", "\\"))
        or re.match(r"^[A-Za-z]:[\\/]", name) is not None
        or Path(name).expanduser().exists()
    )


def _map_model(imp: _Importer, node: _Node | None) -> str:
    """Model section; returns the variant."""
    if node is None:
        return "turbo"
    path = node.path
    name = node.get("name_or_path")
    arch = node.get("arch")
    assistant, legacy = node.get("assistant_lora_path"), node.get("adapter_path")
    adapter = assistant or legacy
    if node.has("adapter_path") and node.has("assistant_lora_path"):
        imp.report.notes.append(f"{path}.adapter_path: assistant_lora_path is used instead")
    name_s = str(name or DEFAULT_MODEL)
    low = name_s.lower().replace("_", "-")
    arch_s = str(arch or "").lower()
    if arch is not None and not arch_s.startswith("zimage"):
        imp.problem(f"{path}.arch", f"Likeness trains Z-Image LoRAs only, got {arch!r}")
    if arch is None and "z-image" not in low and "zimage" not in low:
        imp.problem(f"{path}.arch", "missing, and name_or_path does not name a Z-Image model")
    if arch_s in ("zimage:deturbo", "zimage:turbo"):  # an explicit arch wins over the name
        variant = arch_s.split(":")[1]
    elif "de-turbo" in low or "deturbo" in low:
        variant = "deturbo"
    elif "turbo" in low or adapter:
        variant = "turbo"
    else:
        variant = "base"
    imp.set("model.variant", variant, f"{path}.arch")
    if name_s.lower().endswith((".safetensors", ".sft")):
        imp.set("model.source", "single_file", f"{path}.name_or_path")
        imp.set("model.transformer_file", imp.path_value(name_s), f"{path}.name_or_path")
        configs = BASE_MODEL if variant == "base" else DEFAULT_MODEL
        imp.set("model.name_or_path", configs)
        imp.report.notes.append(
            f"{path}.name_or_path: a single file; model configs and tokenizer come from {configs}"
        )
    elif name is not None:
        local = _looks_local(name_s)
        imp.set("model.source", "local" if local else "hub", f"{path}.name_or_path")
        imp.set(
            "model.name_or_path",
            imp.path_value(name_s) if local else name_s,
            f"{path}.name_or_path",
        )
    has_adapter = bool(adapter)
    if has_adapter:
        where = "assistant_lora_path" if node.has("assistant_lora_path") else "adapter_path"
        value = imp.path_value(adapter) if _looks_local(str(adapter)) else adapter
        if str(adapter).strip("/") == ADAPTER_REPO:
            value = DEFAULT_TRAINING_ADAPTER
            imp.approx(f"{path}.{where}", adapter, f"the repo's adapter file: {value}")
        imp.set("model.training_adapter.path", value, f"{path}.{where}")
    # None = automatic (on for Turbo); only say it when the job differs from automatic.
    enabled = None if has_adapter == (variant == "turbo") else has_adapter
    imp.set("model.training_adapter.enabled", enabled, f"{path}.assistant_lora_path")
    if variant == "turbo" and not has_adapter:
        imp.report.notes.append(
            f"{path}: Turbo without a training adapter; long runs break the distillation "
            "(set model.training_adapter.enabled: true to use it)"
        )
    _map_quant(imp, node, "quantize", "qtype", "model.quantize_transformer")
    _map_quant(imp, node, "quantize_te", "qtype_te", "model.quantize_text_encoder")
    if node.has("low_vram"):
        low_vram = node.get("low_vram")
        imp.set("model.offload_vae", low_vram, f"{path}.low_vram")
        if "offload_text_encoder" not in imp.out["model"]:
            imp.set("model.offload_text_encoder", low_vram, f"{path}.low_vram")
    if not node.data.get("layer_offloading"):
        node.get("layer_offloading_transformer_percent")
        node.get("layer_offloading_text_encoder_percent")
    return variant


def _map_quant(imp: _Importer, node: _Node, flag: str, qkey: str, target: str) -> None:
    on = node.get(flag)
    qtype = node.get(qkey)
    if flag not in node.data:
        return
    if not on:
        imp.set(target, "none", f"{node.path}.{flag}")
        return
    imp.set(target, "nf4", f"{node.path}.{flag}")
    q = str(qtype or "qfloat8")
    if q.lower() in FOUR_BIT_QTYPES:
        imp.approx(f"{node.path}.{qkey}", q, "4-bit quanto -> NF4 (bitsandbytes)")
    else:
        imp.approx(
            f"{node.path}.{qkey}" if qtype is not None else f"{node.path}.{flag}",
            q if qtype is not None else on,
            f"{q} -> NF4: Likeness quantises with bitsandbytes NF4 (8-bit hurts Z-Image)",
        )


def _map_sample(imp: _Importer, node: _Node | None, train: _Node | None) -> None:
    for src in (train, node):  # ai-toolkit's UI keeps these in train, older jobs in sample
        if src is None:
            continue
        imp.put(src, "skip_first_sample", "sample.skip_first")
        if src.has("disable_sampling"):
            imp.set(
                "sample.enabled", not src.get("disable_sampling"), f"{src.path}.disable_sampling"
            )
        if src.data.get("force_first_sample"):
            src.get("force_first_sample")
            imp.set("sample.skip_first", False, f"{src.path}.force_first_sample")
            imp.approx(f"{src.path}.force_first_sample", True, "sample.skip_first: false")
    if node is None:
        return
    imp.put(node, "sample_every", "sample.every")
    imp.put(node, "width", "sample.width")
    imp.put(node, "height", "sample.height")
    imp.put(node, "neg", "sample.negative", lambda v: v or "")
    imp.put(node, "seed", "sample.seed")
    imp.put(node, "walk_seed", "sample.walk_seed")
    imp.put(node, "guidance_scale", "sample.guidance", _number)
    imp.put(node, "sample_steps", "sample.steps")
    samples, prompts = node.get("samples"), node.get("prompts")
    texts: list[Any] = []
    if isinstance(samples, list):
        for i, item in enumerate(samples):
            spath = f"{node.path}.samples[{i}]"
            if isinstance(item, dict):
                texts.append(item.get("prompt", ""))
                for key, value in item.items():
                    if key != "prompt":
                        imp.report.unmapped.append(ReportItem(
                            f"{spath}.{key}", value,
                            "per-prompt overrides are not supported; the sample settings apply",
                        ))  # fmt: skip
            else:
                texts.append(item)
        if prompts is not None:
            imp.report.unmapped.append(ReportItem(
                f"{node.path}.prompts", prompts, "samples is used when both are given"
            ))  # fmt: skip
        imp.set("sample.prompts", texts, f"{node.path}.samples")
    elif isinstance(prompts, list):
        imp.set("sample.prompts", list(prompts), f"{node.path}.prompts")
    elif samples is not None or prompts is not None:
        imp.problem(f"{node.path}.samples", "must be a list of {prompt: ...} entries")
