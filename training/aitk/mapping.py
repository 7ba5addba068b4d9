"""Section-by-section mapping of an ai-toolkit job onto a Likeness run config.

Used by ``training.aitk.importer``; every key read is marked on its ``Node`` so that the
importer can report the rest. The ``train`` section is in ``mapping_train``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from training.aitk.job import Importer, Node, ReportItem
from training.aitk.mapping_train import finish_train, map_train, number
from training.aitk.tables import (
    ARCHS,
    DTYPES,
    FOUR_BIT_QTYPES,
    LOW_BIT_QTYPES,
    P0,
    TRAINER_TYPES,
)
from training.config import BASE_MODEL, DEFAULT_MODEL, DEFAULT_TRAINING_ADAPTER

ADAPTER_REPO = DEFAULT_TRAINING_ADAPTER.rsplit("/", 1)[0]


def map_job(imp: Importer, job: Any, trigger: str | None) -> dict[str, Any]:
    """Fill ``imp.out``; returns the ``meta.likeness`` extras to apply last."""
    if not isinstance(job, dict):
        imp.problem("", "an ai-toolkit job is a mapping with 'job' and 'config'")
        return {}
    if "job" not in job and "trigger" in job and "datasets" in job:
        imp.problem("", "this is a Likeness run config, not an ai-toolkit job: train it with "
                        "`likeness train FILE`")  # fmt: skip
        return {}
    root = Node(job, "", "root", imp)
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
    proc = Node(processes[0], P0, "process", imp)
    _map_process(imp, proc, trigger)
    return extras


def _map_process(imp: Importer, proc: Node, trigger: str | None) -> None:
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
    map_train(imp, train)
    _map_model(imp, proc.child("model", "model"))
    _map_sample(imp, proc.child("sample", "sample"), train)
    finish_train(imp, train)


def _map_network(imp: Importer, node: Node | None) -> None:
    if node is None:
        return
    ntype = node.get("type", "lora")
    if str(ntype).lower() not in ("lora", "locon"):
        imp.problem(f"{node.path}.type", f"Likeness trains LoRA only, got {ntype!r}")
    elif str(ntype).lower() == "locon":
        imp.approx(f"{node.path}.type", ntype, "LoCon -> LoRA (Z-Image has no conv layers)")
    imp.put(node, "linear", "network.rank")
    # ai-toolkit trains transformer LoRAs (Z-Image included) peft-style: alpha = rank, and
    # linear_alpha has no effect. Likeness leaves alpha unset, which means the same.
    alpha, rank = node.get("linear_alpha"), node.data.get("linear", 32)
    if alpha is not None and alpha != rank:
        imp.as_aitk(
            f"{node.path}.linear_alpha", alpha,
            f"ai-toolkit trains Z-Image LoRAs with alpha = rank ({rank}), so this has no effect "
            f"there; Likeness uses alpha {rank} too (set network.alpha: {alpha} in Likeness to "
            f"scale by alpha/rank)",
        )  # fmt: skip
    imp.put(node, "dropout", "network.dropout")
    for key in ("conv", "conv_alpha"):  # meaningless for Z-Image unless set on a LoCon
        if node.has(key) and str(ntype).lower() == "lora":
            node.get(key)


def _map_save(imp: Importer, node: Node | None) -> None:
    if node is None:
        return
    imp.put(node, "dtype", "save.dtype", lambda v: DTYPES.get(str(v).lower(), v))
    imp.put(node, "save_every", "save.every")
    imp.put(node, "max_step_saves_to_keep", "save.keep_last")


def _map_datasets(imp: Importer, proc: Node, train: Node | None) -> None:
    items = proc.get("datasets")
    if not isinstance(items, list) or not items:
        imp.problem(f"{P0}.datasets", "needs at least one dataset with a folder_path")
        return
    dropout_seen: list[tuple[str, Any]] = []
    cache_te = bool(train.get("cache_text_embeddings")) if train is not None else False
    for i, raw in enumerate(items):
        path = f"{P0}.datasets[{i}]"
        if not isinstance(raw, dict):
            imp.problem(path, "must be a mapping with folder_path")
            continue
        node = Node(raw, path, "dataset", imp)
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
        if not node.has("num_repeats"):  # ai-toolkit: 1, it reads no kohya folder names
            imp.set(f"{target}.repeats", 1, f"{path}.num_repeats")
        imp.put(node, "flip_x", f"{target}.flip_x")
        # ai-toolkit: cache_latents keeps them in memory (Likeness always does), _to_disk on
        # disk (Likeness's cache_latents); without either it encodes every step (same result)
        imp.put(node, "cache_latents_to_disk", f"{target}.cache_latents")
        if not node.has("cache_latents_to_disk"):
            imp.set(f"{target}.cache_latents", False, f"{path}.cache_latents_to_disk")
        if node.has("resolution"):
            res = node.get("resolution")
            res = res if isinstance(res, list) else [res]
            unique = list(dict.fromkeys(res))
            if len(unique) != len(res):
                imp.report.notes.append(f"{path}.resolution: repeated sizes in {res} used once")
            imp.set(f"{target}.resolutions", unique, f"{path}.resolution")
        else:
            node.get("resolution")
        # train.cache_text_embeddings turns it on for every dataset; without it ai-toolkit
        # encodes captions every step, which trains the same as Likeness's in-memory cache
        own = bool(node.get("cache_text_embeddings"))
        where = f"{path}.cache_text_embeddings" if own else f"{P0}.train.cache_text_embeddings"
        imp.set(f"{target}.cache_text_embeddings", cache_te or own, where)
        # ai-toolkit's default is no caption dropout
        rate = node.get("caption_dropout_rate", 0.0)
        dropout_seen.append((f"{path}.caption_dropout_rate", rate))
    # ai-toolkit: a dropped caption becomes the trigger word alone (also for cached embeddings)
    imp.set("train.caption_dropout_mode", "trigger")
    if dropout_seen:
        first_path, first = dropout_seen[0]
        imp.set("train.caption_dropout", first, first_path)
        for where, value in dropout_seen[1:]:
            if value != first:
                imp.approx(where, value, f"one caption dropout for all datasets: {first}")


def _looks_local(name: str) -> bool:
    return (
        name.startswith(("/", "./", "../", "~", "\\"))
        or re.match(r"^[A-Za-z]:[\\/]", name) is not None
        or Path(name).expanduser().exists()
    )


def _map_model(imp: Importer, node: Node | None) -> str:
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
    if arch is not None and arch_s not in ARCHS:
        imp.problem(
            f"{path}.arch",
            f"Likeness trains Z-Image LoRAs only ({', '.join(ARCHS)}), got {arch!r}",
        )
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
        extras = node.get("extras_name_or_path")
        if extras and extras != name:  # ai-toolkit takes configs and tokenizer from here
            configs = imp.path_value(extras) if _looks_local(str(extras)) else extras
        imp.set("model.name_or_path", configs, f"{path}.extras_name_or_path")
        imp.report.notes.append(
            f"{path}.name_or_path: a single file; model configs and tokenizer come from {configs}"
        )
    elif name is not None:
        _map_extras(imp, node, name_s)
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


def _map_extras(imp: Importer, node: Node, name: str) -> None:
    """``extras_name_or_path``: where the text encoder, VAE and tokenizer come from (De-Turbo)."""
    extras = node.get("extras_name_or_path")
    if not extras or extras == name:
        return
    value = imp.path_value(extras) if _looks_local(str(extras)) else extras
    imp.set("model.extras_name_or_path", value, f"{node.path}.extras_name_or_path")


def _map_quant(imp: Importer, node: Node, flag: str, qkey: str, target: str) -> None:
    on = node.get(flag)
    qtype = node.get(qkey)
    if flag not in node.data:
        return
    if not on:
        imp.set(target, "none", f"{node.path}.{flag}")
        return
    imp.set(target, "nf4", f"{node.path}.{flag}")
    where = f"{node.path}.{qkey}" if qtype is not None else f"{node.path}.{flag}"
    value = qtype if qtype is not None else on
    q, _, ara = str(qtype or "qfloat8").partition("|")  # "uint4|<accuracy recovery adapter>"
    off = f"set model.{target.split('.')[1]}: none to train at full precision"
    if q.lower() in FOUR_BIT_QTYPES:
        why = f"4-bit {q} -> NF4 (bitsandbytes 4-bit): a different 4-bit format"
    elif q.lower() in LOW_BIT_QTYPES:
        why = (
            f"{q} -> NF4: Likeness has no 3- or 2-bit quantisation; NF4 (4-bit) needs a "
            "little more memory"
        )
    else:
        why = (
            f"{q} (8-bit) -> NF4: Likeness has no 8-bit quantisation; NF4 (4-bit) needs "
            "less memory and is a little less precise"
        )
    if ara:
        why += f"; the accuracy recovery adapter {ara} is not used"
    imp.approx(where, value, f"{why} ({off})")


def _map_sample(imp: Importer, node: Node | None, train: Node | None) -> None:
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
    imp.put(node, "guidance_scale", "sample.guidance", number)
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
    elif isinstance(prompts, list):
        texts = list(prompts)
    elif samples is not None or prompts is not None:
        imp.problem(f"{node.path}.samples", "must be a list of {prompt: ...} entries")
        return
    else:
        return
    where = f"{node.path}.samples" if isinstance(samples, list) else f"{node.path}.prompts"
    # ai-toolkit replaces [trigger] and [name] with the trigger and never adds it
    texts = [t.replace("[name]", "[trigger]") if isinstance(t, str) else t for t in texts]
    imp.set("sample.prompts", texts, where)
    imp.set("sample.add_trigger", False, where)
