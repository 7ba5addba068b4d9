"""Import ai-toolkit job files (YAML or JSON) as Likeness run configs, with an honest report.

Every key of the job is either mapped to a Likeness setting, recognised as having the same
effect as what Likeness does anyway (``train_unet: true``, ``noise_scheduler: flowmatch``), or
listed in the ``ImportReport`` with its path and why it was not mapped. Values that had to be
changed to fit (float8 quantisation -> NF4, ``adam`` -> ``adamw``) are listed as approximated.
Nothing is dropped silently. Keys missing from the job take Likeness's defaults.

Settings ai-toolkit cannot express are written by ``export_aitk`` under ``meta.likeness``
(ai-toolkit ignores ``meta``), so import -> export -> import gives the same RunConfig.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.config import RunConfig, read_mapping, validate_config
from training.config_errors import ConfigError

log = logging.getLogger(__name__)

P0 = "config.process[0]"
ANY = object()  # an inert key whose value never matters for a Z-Image image LoRA
TRAINER_TYPES = ("sd_trainer", "diffusion_trainer", "ui_trainer")

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
    "content_or_style": "timestep bias is not supported; train.timestep_sampling decides",
    "timestep_bias": "timestep bias is not supported; train.timestep_sampling decides",
    "train_unet": "Likeness always trains the transformer LoRA",
    "train_text_encoder": "Likeness trains only the transformer LoRA, never the text encoder",
    "noise_scheduler": "Likeness trains with the flow-matching objective of Z-Image",
    "sampler": "Likeness samples with Z-Image's flow-match Euler scheduler",
    "layer_offloading": "Likeness offloads the text encoder and VAE, not transformer layers; "
    "use NF4 quantisation to save memory",
    "layer_offloading_transformer_percent": "transformer layer offloading is not supported",
    "layer_offloading_text_encoder_percent": "transformer layer offloading is not supported",
    "extras_name_or_path": "Likeness loads every model part from name_or_path",
    "model_kwargs": "extra model arguments are not supported",
    "force_first_sample": "Likeness samples at step 0 only when sample.skip_first is off",
    "lr_scheduler_params": "only num_warmup_steps and num_cycles map to Likeness",
    "lokr_full_rank": "only used by LoKr; Likeness trains LoRA",
    "lokr_factor": "only used by LoKr; Likeness trains LoRA",
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
    },
    "train": {
        "train_unet": (True,),
        "train_text_encoder": (False,),
        "noise_scheduler": ("flowmatch",),
        "bypass_guidance_embedding": ANY,  # Z-Image has no guidance embedding
        "switch_boundary_every": ANY,  # two-transformer models only
        "content_or_style": ("balanced",),
        "timestep_bias": ("balanced",),
        "auto_scale_batch_size": (False,),
        "do_differential_guidance": (False,),
        "diff_output_preservation": (False,),
        "blank_prompt_preservation": (False,),
        "noise_offset": (0,),
        "force_first_sample": (False,),
    },
    "model": {"model_kwargs": ({},), "layer_offloading": (False,)},
    "sample": {
        "sampler": ("flowmatch",),
        "num_frames": (1,),
        "fps": ANY,
        "force_first_sample": (False,),
    },
}

OPTIMIZERS = {
    "adamw8bit": ("adamw8bit", None),
    "adamw8": ("adamw8bit", None),
    "adam8bit": ("adamw8bit", "8-bit Adam -> 8-bit AdamW (decoupled weight decay)"),
    "adam8": ("adamw8bit", "8-bit Adam -> 8-bit AdamW (decoupled weight decay)"),
    "adamw": ("adamw", None),
    "adam": ("adamw", "Adam -> AdamW (decoupled weight decay)"),
    "prodigy": ("prodigy", None),
    "prodigy8bit": ("prodigy", "8-bit Prodigy -> Prodigy"),
    "prodigy_schedulefree": ("prodigy", "schedule-free Prodigy -> Prodigy"),
    "lion8bit": ("lion8bit", None),
    "lion": ("lion8bit", "Lion -> 8-bit Lion"),
    "adafactor": ("adafactor", None),
}
SCHEDULERS = {
    "constant": "constant",
    "constant_with_warmup": "constant_with_warmup",
    "cosine": "cosine",
    "cosine_with_restarts": "cosine_with_restarts",
    "cosine_with_restart": "cosine_with_restarts",
    "linear": "linear",
}
TIMESTEPS = {"sigmoid": "sigmoid", "linear": "uniform", "shift": "shift", "weighted": "weighted"}
DTYPES = {
    "bf16": "bf16", "bfloat16": "bf16", "fp16": "fp16", "float16": "fp16", "half": "fp16",
    "fp32": "fp32", "float32": "fp32", "float": "fp32",
}  # fmt: skip
FOUR_BIT_QTYPES = ("uint4", "qint4", "nf4", "int4")


@dataclass(frozen=True)
class ReportItem:
    path: str  # where it was in the ai-toolkit job, e.g. config.process[0].train.noise_offset
    value: Any
    reason: str

    def line(self) -> str:
        return f"{self.path} = {self.value!r}: {self.reason}"


@dataclass
class ImportReport:
    """What an import could not carry over. ``unmapped`` keys had no effect on the RunConfig."""

    source: str
    unmapped: list[ReportItem] = field(default_factory=list)
    approximated: list[ReportItem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def unmapped_paths(self) -> list[str]:
        return [i.path for i in self.unmapped]

    @property
    def approximated_paths(self) -> list[str]:
        return [i.path for i in self.approximated]

    @property
    def clean(self) -> bool:
        return not (self.unmapped or self.approximated)

    def lines(self) -> list[str]:
        out = [f"not mapped  {i.line()}" for i in self.unmapped]
        out += [f"changed     {i.line()}" for i in self.approximated]
        out += [f"note        {n}" for n in self.notes]
        return out


class _Node:
    """A mapping from the job; records which keys were read so the rest can be reported."""

    def __init__(self, data: dict[str, Any], path: str, kind: str, imp: _Importer):
        self.data, self.path, self.kind, self.imp = data, path, kind, imp
        self.used: set[str] = set()
        imp.nodes.append(self)

    def key_path(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, default: Any = None) -> Any:
        self.used.add(key)
        return self.data.get(key, default)

    def child(self, key: str, kind: str) -> _Node | None:
        value = self.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.imp.problem(self.key_path(key), f"must be a mapping, got {value!r}")
            return None
        return _Node(value, self.key_path(key), kind, self.imp)

    def finish(self) -> None:
        inert = INERT.get(self.kind, {})
        for key, value in self.data.items():
            if key in self.used:
                continue
            allowed = inert.get(key)
            if allowed is ANY or (isinstance(allowed, tuple) and value in allowed):
                continue
            reason = REASONS.get(key, UNKNOWN_REASON)
            self.imp.report.unmapped.append(ReportItem(self.key_path(key), value, reason))


class _Importer:
    def __init__(self, source: str, base_dir: Path | None):
        self.report = ImportReport(source)
        self.base_dir = base_dir
        self.nodes: list[_Node] = []
        self.problems: list[tuple[str, str]] = []
        self.origin: dict[str, str] = {}  # Likeness path -> ai-toolkit path
        self.out: dict[str, Any] = {
            "model": {}, "network": {}, "save": {}, "train": {}, "sample": {}, "datasets": [],
        }  # fmt: skip

    def problem(self, path: str, message: str) -> None:
        self.problems.append((path, message))

    def approx(self, path: str, value: Any, reason: str) -> None:
        self.report.approximated.append(ReportItem(path, value, reason))

    def put(self, node: _Node, key: str, target: str, convert: Any = None) -> None:
        """Copy ``node[key]`` (when present) to the dotted Likeness path ``target``."""
        if not node.has(key):
            node.get(key)
            return
        value = node.get(key)
        if convert is not None:
            value = convert(value)
        self.set(target, value, node.key_path(key))

    def set(self, target: str, value: Any, origin: str | None = None) -> None:
        _set_path(self.out, target, value)
        if origin:
            self.origin[target] = origin

    def path_value(self, value: Any) -> Any:
        if not isinstance(value, str) or self.base_dir is None:
            return value
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else (self.base_dir / p).resolve())


def _walk(value: Any, prefix: str = "") -> list[str]:
    """Every path in a job, in document order (for a report that reads top to bottom)."""
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _walk(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _walk(item, f"{prefix}[{i}]")
    return out


def _set_path(data: dict[str, Any], target: str, value: Any) -> None:
    parts = [a or int(b) for a, b in re.findall(r"([A-Za-z_]\w*)|\[(\d+)\]", target)]
    cur: Any = data
    for part, nxt in zip(parts, parts[1:], strict=False):
        if isinstance(part, int):
            while len(cur) <= part:
                cur.append({})
            cur = cur[part]
        else:
            if part not in cur or not isinstance(cur[part], (dict, list)):
                cur[part] = [] if isinstance(nxt, int) else {}
            cur = cur[part]
    last = parts[-1]
    if isinstance(last, int):
        while len(cur) <= last:
            cur.append(None)
    cur[last] = value


def import_aitk(
    path: str | Path, *, trigger: str | None = None, base_dir: Path | None = None
) -> tuple[RunConfig, ImportReport]:
    """Read an ai-toolkit job file (YAML or JSON) into a RunConfig and an ImportReport.

    Relative paths in the job are resolved against ``base_dir`` (ai-toolkit resolves them
    against its working folder); with ``base_dir=None`` they are kept as written.
    ``trigger`` is used when the job has no ``trigger_word``. Raises ConfigError.
    """
    path = Path(path)
    return import_aitk_dict(
        read_mapping(path), source=str(path), trigger=trigger, base_dir=base_dir
    )


def import_aitk_dict(
    job: dict[str, Any],
    *,
    source: str = "ai-toolkit job",
    trigger: str | None = None,
    base_dir: Path | None = None,
) -> tuple[RunConfig, ImportReport]:
    from training import aitk_map

    imp = _Importer(source, base_dir)
    extras = aitk_map.map_job(imp, job, trigger)
    for node in imp.nodes:
        node.finish()
    order = {p: i for i, p in enumerate(_walk(job))}
    imp.report.unmapped.sort(key=lambda item: order.get(item.path, len(order)))
    imp.report.approximated.sort(key=lambda item: order.get(item.path, len(order)))
    for target, value in extras.items():
        try:
            _set_path(imp.out, target, value)
        except (TypeError, IndexError, KeyError):
            imp.problem(f"meta.likeness.{target}", "not a Likeness setting")
        imp.origin[target] = f"meta.likeness.{target}"
    if imp.problems and not imp.out.get("datasets"):
        raise ConfigError(source, imp.problems)
    try:
        cfg = validate_config(imp.out, source=source)
    except ConfigError as exc:
        raise ConfigError(source, imp.problems + _explain(exc.problems, imp.origin)) from None
    if imp.problems:
        raise ConfigError(source, imp.problems)
    _note_defaults(cfg, imp)
    return cfg, imp.report


# Settings that change a run a lot: when the job leaves them out, say what Likeness uses
# (ai-toolkit's own defaults differ for some of them, e.g. one 512 px bucket).
KEY_SETTINGS = {
    "network.rank": "network.linear",
    "network.alpha": "network.linear_alpha",
    "train.steps": "train.steps",
    "train.lr": "train.lr",
    "train.optimizer": "train.optimizer",
    "save.every": "save.save_every",
    "sample.every": "sample.sample_every",
    "sample.steps": "sample.sample_steps",
    "sample.guidance": "sample.guidance_scale",
}


def _note_defaults(cfg: RunConfig, imp: _Importer) -> None:
    from training.config import config_to_dict

    data = config_to_dict(cfg)
    for ours, theirs in KEY_SETTINGS.items():
        if ours not in imp.origin:
            section, key = ours.split(".")
            imp.report.notes.append(
                f"{P0}.{theirs} is not set: Likeness uses {key} {data[section][key]!r}"
            )
    if not imp.out.get("sample", {}).get("prompts"):
        imp.report.notes.append(
            f"{P0}.sample has no prompts: Likeness uses its {len(cfg.sample.prompts)} default "
            "prompts (new poses, outfits and places in all three shot tiers)"
        )
    for i, ds in enumerate(cfg.datasets):
        if f"datasets[{i}].resolutions" not in imp.origin:
            imp.report.notes.append(
                f"{P0}.datasets[{i}].resolution is not set: Likeness uses {ds.resolutions}"
            )


def _explain(problems: list[tuple[str, str]], origin: dict[str, str]) -> list[tuple[str, str]]:
    """Point Likeness paths back at the ai-toolkit keys they came from."""
    out = []
    for path, msg in problems:
        best = max(
            (k for k in origin if path == k or path.startswith((k + ".", k + "["))),
            key=len,
            default=None,
        )
        if best is not None:
            out.append((origin[best] + path[len(best) :], f"{msg} (Likeness setting {path})"))
        else:
            out.append((path, msg))
    return out


def export_aitk(cfg: RunConfig) -> tuple[dict[str, Any], list[str]]:
    """An ai-toolkit job for ``cfg`` and notes on what ai-toolkit itself will not use."""
    from training.aitk_export import export_job

    return export_job(cfg)


def save_aitk(cfg: RunConfig, path: str | Path) -> list[str]:
    """Write ``cfg`` as an ai-toolkit job (YAML, or JSON for ``.json``); returns the notes."""
    import json

    import yaml

    from training.checkpoints import atomic_write_text

    job, notes = export_aitk(cfg)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        text = json.dumps(job, indent=2) + "\n"
    else:
        text = "---\n" + yaml.safe_dump(job, sort_keys=False, allow_unicode=True, width=100)
    atomic_write_text(path, text)
    return notes


__all__ = [
    "ImportReport",
    "ReportItem",
    "export_aitk",
    "import_aitk",
    "import_aitk_dict",
    "save_aitk",
]
