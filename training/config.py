"""The training run config: one versioned, strict pydantic model, read from YAML or JSON.

Every section forbids unknown keys, so a misspelt setting is an error with a suggestion, never
silently ignored. ``load_config`` turns pydantic's errors into a ``ConfigError`` that lists
every bad field with its path and a plain message ("train.lr: must be > 0, got -1").

Field names are a contract with the trainer engine (``training/runner.py``) and the GUI; see
``docs/dev/contracts.md`` before renaming anything.
"""

from __future__ import annotations

import logging
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from training.config_errors import ConfigError, format_validation_error
from training.config_io import read_mapping

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

DEFAULT_MODEL = "Tongyi-MAI/Z-Image-Turbo"
BASE_MODEL = "Tongyi-MAI/Z-Image"
DEFAULT_TRAINING_ADAPTER = (
    "ostris/zimage_turbo_training_adapter/zimage_turbo_training_adapter_v1.safetensors"
)
# peft matches a string target with re.fullmatch on the module name. Anchored on ``layers.N``
# so that ``adaLN_modulation.0`` does not also catch the final layer's SiLU/Linear pair.
DEFAULT_TARGET_MODULES = (
    r"^layers\.\d+\.(?:attention\.(?:to_q|to_k|to_v|to_out\.0)"
    r"|feed_forward\.(?:w1|w2|w3)|adaLN_modulation\.0)$"
)
TRIGGER_PLACEHOLDER = "[trigger]"  # ai-toolkit's placeholder in sample prompts

Optimizer = Literal["adamw", "adamw8bit", "prodigy", "lion8bit", "adafactor"]
Scheduler = Literal[
    "constant", "constant_with_warmup", "cosine", "cosine_with_restarts", "linear", "linear_lr"
]
TimestepSampling = Literal["sigmoid", "uniform", "shift", "weighted"]
Quantization = Literal["none", "nf4"]
Precision = Literal["bf16", "fp16"]
SaveDtype = Literal["bf16", "fp16", "fp32"]


def _multiple_of_16(value: int) -> int:
    if value % 16:
        lower, upper = value - value % 16, value - value % 16 + 16
        raise ValueError(f"must be a multiple of 16, got {value} (try {lower} or {upper})")
    return value


# Upper bounds: far beyond any sensible run, low enough that a typo ("1e20") is caught early.
MAX_STEPS = 1_000_000
MAX_SIDE = 2048  # Z-Image buckets; 1024 is the usual top
MAX_RANK = 256
MAX_SEED = 2**32 - 1

Side = Annotated[int, Field(ge=256, le=MAX_SIDE), AfterValidator(_multiple_of_16)]


def _is_number(annotation: Any) -> bool:
    """int or float, alone or in an Optional (never bool)."""
    if annotation in (int, float):
        return True
    args = typing.get_args(annotation)
    return bool(args) and bool not in args and any(a in (int, float) for a in args)


class Strict(BaseModel):
    """Base of every config section: unknown keys are errors, values are re-checked on set,
    and a number is never given as true / false (pydantic would read ``steps: true`` as 1)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) and info.field_name:
            field = cls.model_fields.get(info.field_name)
            if field is not None and _is_number(field.annotation):
                raise ValueError(f"must be a number, got {str(value).lower()}")
        return value


class TrainingAdapter(Strict):
    """The LoRA that de-distils Turbo while training (merged in, applied at -1 for previews)."""

    # A local .safetensors file or <owner>/<repo>/<file>.safetensors on the Hugging Face hub.
    path: str = DEFAULT_TRAINING_ADAPTER
    # None = automatic: on for the Turbo variant, off for Base and De-Turbo.
    enabled: bool | None = None

    @model_validator(mode="after")
    def _check(self) -> TrainingAdapter:
        if not self.path.lower().endswith(".safetensors"):
            raise ValueError(
                f"path: give the adapter's .safetensors file (local, or "
                f"<owner>/<repo>/<file>.safetensors on the hub), got {self.path!r}"
            )
        return self


class ModelConfig(Strict):
    """Where the base model comes from, which variant it is and how it is held in memory."""

    # hub: a Hugging Face id (or a snapshot already in the HF cache); local: a diffusers folder
    # (model_index.json); single_file: ComfyUI files for the transformer (and optionally the
    # text encoder and VAE), with name_or_path giving the diffusers configs and tokenizer.
    source: Literal["hub", "local", "single_file"] = "hub"
    name_or_path: str = DEFAULT_MODEL
    revision: str | None = None
    # tokenizer, scheduler, text encoder and VAE from here instead (De-Turbo: from Turbo)
    extras_name_or_path: str | None = None
    transformer_file: Path | None = None
    text_encoder_file: Path | None = None
    vae_file: Path | None = None
    variant: Literal["turbo", "base", "deturbo"] = "turbo"
    training_adapter: TrainingAdapter = Field(default_factory=TrainingAdapter)
    # NF4 (bitsandbytes) for the frozen weights; embedders and the final layer stay bf16.
    quantize_transformer: Quantization = "none"
    quantize_text_encoder: Quantization = "none"
    # Keep the text encoder / VAE on the CPU whenever they are not in use (after caching).
    offload_text_encoder: bool = True
    offload_vae: bool = True

    @model_validator(mode="after")
    def _check_source(self) -> ModelConfig:
        if not self.name_or_path.strip():
            raise ValueError("name_or_path: give a Hugging Face id or a local diffusers folder")
        if self.source == "single_file" and self.transformer_file is None:
            raise ValueError(
                "transformer_file: required when source is 'single_file' "
                "(the ComfyUI .safetensors of the diffusion model)"
            )
        if self.source != "single_file":
            extra = [
                n
                for n in ("transformer_file", "text_encoder_file", "vae_file")
                if getattr(self, n) is not None
            ]
            if extra:
                raise ValueError(
                    f"{extra[0]}: only used when source is 'single_file' (source is "
                    f"'{self.source}'); set source: single_file or remove it"
                )
        if self.variant == "base" and self.training_adapter.enabled:
            raise ValueError(
                "training_adapter.enabled: the training adapter de-distils Turbo; "
                "turn it off for the Base variant"
            )
        return self

    @property
    def uses_training_adapter(self) -> bool:
        """Whether the training adapter is merged in (the resolved value of ``enabled``)."""
        if self.training_adapter.enabled is None:
            return self.variant == "turbo"
        return self.training_adapter.enabled


class NetworkConfig(Strict):
    """The LoRA being trained."""

    rank: int = Field(default=32, ge=1, le=MAX_RANK)
    # None = same as rank (scale 1). Filled in on validation, so a loaded config always has it.
    alpha: float | None = Field(default=None, gt=0)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: str = DEFAULT_TARGET_MODULES

    @model_validator(mode="after")
    def _check(self) -> NetworkConfig:
        try:
            re.compile(self.target_modules)
        except re.error as exc:
            raise ValueError(f"target_modules: not a valid regular expression ({exc})") from None
        if self.alpha is None:
            # object.__setattr__ avoids re-running validation from inside the validator
            object.__setattr__(self, "alpha", float(self.rank))
        return self


class SaveConfig(Strict):
    """Checkpoints: ``<name>_<step:09d>.safetensors`` every N steps, keep the last K."""

    dtype: SaveDtype = "bf16"
    every: int = Field(default=250, gt=0, le=MAX_STEPS)
    keep_last: int = Field(default=10, ge=1, le=100_000)  # the newest is never removed


class EmaConfig(Strict):
    enabled: bool = False
    decay: float = Field(default=0.99, gt=0.0, lt=1.0)


class OptimizerArgs(Strict):
    """Optional extra optimizer arguments; None uses the optimizer's own default."""

    betas: tuple[float, float] | None = None
    eps: float | None = Field(default=None, gt=0)
    d0: float | None = Field(default=None, gt=0)  # Prodigy's initial step size estimate
    # Prodigy only; None = on (Likeness's default). ai-toolkit leaves both off.
    use_bias_correction: bool | None = None
    safeguard_warmup: bool | None = None


class TrainConfig(Strict):
    batch_size: int = Field(default=1, ge=1, le=64)
    gradient_accumulation: int = Field(default=1, ge=1, le=1024)
    steps: int = Field(default=3000, ge=1, le=MAX_STEPS)
    optimizer: Optimizer = "adamw8bit"
    optimizer_args: OptimizerArgs = Field(default_factory=OptimizerArgs)
    lr: float = Field(default=1e-4, gt=0, le=10)
    weight_decay: float = Field(default=1e-4, ge=0)
    scheduler: Scheduler = "constant"
    warmup_steps: int = Field(default=0, ge=0, le=MAX_STEPS)
    num_cycles: int = Field(default=1, ge=1, le=1000)  # cosine_with_restarts only
    # scheduler 'linear_lr' (ai-toolkit's 'linear'): lr x start_factor -> lr x end_factor
    lr_start_factor: float = Field(default=1 / 3, gt=0, le=1)
    lr_end_factor: float = Field(default=1.0, ge=0, le=1)
    timestep_sampling: TimestepSampling = "sigmoid"
    timestep_shift: float = Field(default=3.0, gt=0)  # used by timestep_sampling 'shift'
    loss: Literal["mse", "huber"] = "mse"
    ema: EmaConfig = Field(default_factory=EmaConfig)
    caption_dropout: float = Field(default=0.05, ge=0.0, le=1.0)
    # what a dropped caption becomes: the empty caption, or the trigger alone (ai-toolkit)
    caption_dropout_mode: Literal["empty", "trigger"] = "empty"
    # trigger_only: every image trains on the trigger alone (ai-toolkit's unload_text_encoder)
    caption_source: Literal["captions", "trigger_only"] = "captions"
    max_grad_norm: float = Field(default=1.0, ge=0.0)  # 0 = no clipping
    seed: int = Field(default=42, ge=0, le=MAX_SEED)
    precision: Precision = "bf16"
    gradient_checkpointing: bool = True

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.warmup_steps >= self.steps:
            raise ValueError(
                f"warmup_steps: must be below steps ({self.steps}), got {self.warmup_steps}"
            )
        if self.scheduler == "constant_with_warmup" and self.warmup_steps == 0:
            raise ValueError(
                "warmup_steps: scheduler 'constant_with_warmup' needs warmup_steps > 0 "
                "(e.g. 100), or use scheduler 'constant'"
            )
        if self.scheduler == "linear_lr" and self.warmup_steps:
            raise ValueError(
                "warmup_steps: scheduler 'linear_lr' has no warm-up; it already rises from "
                "lr x lr_start_factor (set warmup_steps: 0)"
            )
        return self


class DatasetConfig(Strict):
    """One Likeness dataset folder (captions, exclusions and kohya repeats are read from it)."""

    folder: Path
    repeats: int | None = Field(default=None, ge=1, le=1000)  # None: kohya folder names, else 1
    flip_x: bool = False  # faces and outfits are asymmetric: off for characters
    resolutions: list[Side] = Field(default_factory=lambda: [512, 768, 1024], min_length=1)
    cache_latents: bool = True
    cache_text_embeddings: bool = True

    @model_validator(mode="after")
    def _check(self) -> DatasetConfig:
        if len(set(self.resolutions)) != len(self.resolutions):
            raise ValueError(f"resolutions: listed twice in {self.resolutions}")
        object.__setattr__(self, "resolutions", sorted(self.resolutions))
        return self


class SampleConfig(Strict):
    """Preview images rendered during training with Turbo settings."""

    enabled: bool = True
    every: int = Field(default=250, gt=0, le=MAX_STEPS)
    # Empty = the bundled default prompts. "[trigger]" is replaced by the trigger, and a prompt
    # without the trigger gets it prepended, so every preview shows the LoRA at work.
    prompts: list[str] = Field(default_factory=list)
    negative: str = ""
    steps: int = Field(default=8, ge=1, le=200)
    guidance: float = Field(default=1.0, ge=0.0, le=30.0)
    seed: int = Field(default=42, ge=0, le=MAX_SEED)
    walk_seed: bool = True  # prompt i uses seed + i
    # prepend the trigger to prompts that lack it (ai-toolkit only replaces [trigger])
    add_trigger: bool = True
    skip_first: bool = True  # no samples at step 0
    width: Side = 1024
    height: Side = 1024


class RunConfig(Strict):
    """A whole training run. ``training_folder / name`` is the run folder."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    trigger: str = Field(min_length=1, max_length=64)
    training_folder: Path = Path("output")
    device: str = Field(default="auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$")
    model: ModelConfig = Field(default_factory=ModelConfig)
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    save: SaveConfig = Field(default_factory=SaveConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    datasets: list[DatasetConfig] = Field(min_length=1)
    sample: SampleConfig = Field(default_factory=SampleConfig)

    @model_validator(mode="before")
    @classmethod
    def _check_version(cls, data: Any) -> Any:
        if isinstance(data, dict):
            version = data.get("schema_version", SCHEMA_VERSION)
            if isinstance(version, int) and version > SCHEMA_VERSION:
                raise ValueError(
                    f"schema_version: this config was written by a newer Likeness "
                    f"(schema {version}; this one reads {SCHEMA_VERSION}); update Likeness"
                )
        return data

    @model_validator(mode="after")
    def _check(self) -> RunConfig:
        trigger = self.trigger.strip()
        if trigger != self.trigger or any(c in trigger for c in ",\n\r\t"):
            raise ValueError(
                f"trigger: must be one token without commas, tabs or line breaks, "
                f"got {self.trigger!r}"
            )
        folders = [str(d.folder) for d in self.datasets]
        for i, folder in enumerate(folders):
            if folder in folders[:i]:
                raise ValueError(f"datasets[{i}].folder: {folder} is listed twice")
        prompts = self.sample.prompts or _default_prompts()
        if self.sample.add_trigger:
            fixed = [with_trigger(p, trigger) for p in prompts if p.strip()]
        else:
            fixed = [p.replace(TRIGGER_PLACEHOLDER, trigger).strip() for p in prompts if p.strip()]
        if fixed != self.sample.prompts:
            object.__setattr__(self.sample, "prompts", fixed)
        return self

    @property
    def run_dir(self) -> Path:
        """``<training_folder>/<name>``: checkpoints, samples, logs and the config copy."""
        return self.training_folder / self.name

    @property
    def resolutions(self) -> list[int]:
        """Every resolution any dataset trains at, ascending."""
        return sorted({r for d in self.datasets for r in d.resolutions})


def with_trigger(prompt: str, trigger: str) -> str:
    """``[trigger]`` replaced by the trigger; the trigger prepended when it is missing."""
    text = prompt.replace(TRIGGER_PLACEHOLDER, trigger).strip()
    if re.search(rf"(?<![\w]){re.escape(trigger)}(?![\w])", text):
        return text
    return f"{trigger}, {text}"


def _default_prompts() -> list[str]:
    from training.prompts import default_prompts

    return default_prompts()


def load_config(path: str | Path, *, resolve_paths: bool = True) -> RunConfig:
    """Load a run config from YAML or JSON (``read_mapping``: size and depth limits).

    Relative paths (training folder, dataset folders, local model files) are taken relative
    to the config file's folder when ``resolve_paths`` is true.
    """
    path = Path(path)
    cfg = validate_config(read_mapping(path), source=str(path))
    return resolve_relative_paths(cfg, path.parent) if resolve_paths else cfg


def resolve_relative_paths(cfg: RunConfig, base: Path) -> RunConfig:
    """A copy of ``cfg`` with every relative path made absolute against ``base``."""
    base = Path(base).resolve()

    def fix(p: Path | None) -> Path | None:
        if p is None:
            return None
        p = Path(p).expanduser()
        return p if p.is_absolute() else base / p

    data = cfg.model_dump()
    data["training_folder"] = fix(cfg.training_folder)
    for ds in data["datasets"]:
        ds["folder"] = fix(ds["folder"])
    model = data["model"]
    for key in ("transformer_file", "text_encoder_file", "vae_file"):
        model[key] = fix(model[key])
    if cfg.model.source == "local":
        model["name_or_path"] = str(fix(Path(cfg.model.name_or_path)))
    adapter = cfg.model.training_adapter.path
    if adapter.startswith((".", "~")) or Path(adapter).suffix and Path(base / adapter).exists():
        model["training_adapter"]["path"] = str(fix(Path(adapter)))
    return type(cfg).model_validate(data)


def validate_config(data: Any, *, source: str = "config") -> RunConfig:
    """Validate a dict into a RunConfig, or raise ConfigError listing every bad field."""
    if not isinstance(data, dict):
        raise ConfigError(
            source, [("", f"must be a mapping of settings, got {type(data).__name__}")]
        )
    if "job" in data and "config" in data and "name" not in data:
        raise ConfigError(
            source,
            [
                (
                    "",
                    "this is an ai-toolkit job, not a Likeness config: convert it with "
                    "`likeness train --from-aitk FILE`",
                )
            ],
        )
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_validation_error(exc, RunConfig)) from None


__all__ = [
    "BASE_MODEL",
    "DEFAULT_MODEL",
    "DEFAULT_TARGET_MODULES",
    "DEFAULT_TRAINING_ADAPTER",
    "SCHEMA_VERSION",
    "ConfigError",
    "DatasetConfig",
    "ModelConfig",
    "NetworkConfig",
    "RunConfig",
    "SampleConfig",
    "SaveConfig",
    "TrainConfig",
    "load_config",
    "read_mapping",
    "resolve_relative_paths",
    "validate_config",
    "with_trigger",
]
