"""LoRA checkpoints and resumable training state.

* ``<run>/<name>_<step:09d>.safetensors``: the LoRA with ComfyUI / diffusers keys
  ``diffusion_model.layers.N.<module>.lora_A.weight`` / ``.lora_B.weight`` in the save dtype,
  ``.alpha`` scalars when alpha != rank, and metadata (trigger, base model, rank, alpha, step,
  dataset hash, resolutions, lr, app version, the run config as JSON).
* ``<run>/state/<name>_<step:09d>/``: everything ``--resume`` needs (LoRA weights in fp32,
  optimizer, LR scheduler, EMA, RNG states, data position) as ``state.safetensors`` (tensors)
  plus ``state.json`` (the rest, with tensor references). No pickle anywhere.

Every file is written to a temporary name, fsynced and renamed (``training.fileio``), so a
crash or a full disk never leaves a half-written checkpoint under a real name; earlier
checkpoints stay intact. The state itself lives in ``training.train_state``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from pathlib import Path
from typing import Any

from training import fileio
from training.errors import ResumeError, SaveError
from training.fileio import atomic_write_text
from training.train_state import (
    STATE_DIR,
    capture_rng,
    checkpoint_name,
    complete_states,
    latest_state,
    load_state,
    peek_resume_step,
    restore_rng,
    save_state,
    state_dir,
)

log = logging.getLogger(__name__)

KEY_PREFIX = "diffusion_model."
KEEP_STATES = 2
__all__ = [  # the state functions live in training.train_state; re-exported for callers
    "STATE_DIR",
    "atomic_write_text",
    "capture_rng",
    "checkpoint_name",
    "complete_states",
    "latest_state",
    "load_state",
    "peek_resume_step",
    "restore_rng",
    "save_state",
    "state_dir",
]


def _write_safetensors(tensors: dict, path: Path, metadata: dict[str, str] | None) -> None:
    """Serialise and write (the seam tests patch to simulate a full disk)."""
    from safetensors.torch import save

    fileio.atomic_write_bytes(path, save(tensors, metadata=metadata))


def atomic_save_safetensors(
    tensors: dict, path: Path, metadata: dict[str, str] | None = None
) -> Path:
    """Write ``tensors`` to ``path`` through a temporary file + fsync + rename; OSErrors become
    DiskFullError / SaveError."""
    path = Path(path)
    try:
        _write_safetensors(tensors, path, metadata)
    except OSError as exc:
        raise fileio.save_error(exc, path) from exc
    return path


def comfy_lora_state_dict(peft_state: dict, rank: int, alpha: float, dtype: Any) -> dict[str, Any]:
    """peft's ``layers.0.attention.to_q.lora_A.weight`` keys -> the saved ComfyUI keys."""
    import torch

    out: dict[str, Any] = {}
    modules: set[str] = set()
    for key, value in peft_state.items():
        m = re.match(r"^(.*)\.(lora_A|lora_B)(?:\.[A-Za-z0-9_]+)?\.weight$", key)
        if not m:
            raise SaveError(f"unexpected LoRA parameter name {key!r}")
        module, part = m.groups()
        out[f"{KEY_PREFIX}{module}.{part}.weight"] = value.detach().to("cpu", dtype).contiguous()
        modules.add(module)
    if float(alpha) != float(rank):
        for module in sorted(modules):
            out[f"{KEY_PREFIX}{module}.alpha"] = torch.tensor(float(alpha), dtype=dtype)
    return out


def lora_metadata(
    *, cfg: Any, step: int, dataset_hash: str, base_model: str, app_version: str
) -> dict[str, str]:
    return {
        "format": "pt",
        "likeness.trigger": cfg.trigger,
        "likeness.base_model": base_model,
        "likeness.variant": cfg.model.variant,
        "likeness.rank": str(cfg.network.rank),
        "likeness.alpha": str(cfg.network.alpha),
        "likeness.step": str(step),
        "likeness.dataset_hash": dataset_hash,
        "likeness.resolutions": json.dumps(cfg.resolutions),
        "likeness.lr": str(cfg.train.lr),
        "likeness.app_version": app_version,
        "likeness.run_config": json.dumps(cfg.model_dump(mode="json"), sort_keys=True),
        # kohya-style keys that LoRA browsers and ComfyUI managers show
        "ss_output_name": cfg.name,
        "ss_network_dim": str(cfg.network.rank),
        "ss_network_alpha": str(cfg.network.alpha),
        "ss_steps": str(step),
        "ss_base_model_version": "zimage",
        "ss_tag_frequency": json.dumps({cfg.trigger: 1}),
    }


def save_lora(run_dir: Path, file_stem: str, tensors: dict, metadata: dict[str, str]) -> Path:
    try:
        fileio.private_dir(run_dir)
    except OSError as exc:
        raise fileio.save_error(exc, run_dir) from exc
    return atomic_save_safetensors(tensors, run_dir / f"{file_stem}.safetensors", metadata)


def _steps_of(folder: Path, name: str, suffix: str, is_dir: bool) -> list[tuple[int, Path]]:
    pattern = re.compile(rf"^{re.escape(name)}_(\d{{9}}){re.escape(suffix)}$")
    found = []
    if folder.is_dir() and not folder.is_symlink():
        for p in folder.iterdir():
            m = pattern.match(p.name)
            if m and p.is_dir() == is_dir:
                found.append((int(m.group(1)), p))
    return sorted(found)


def list_checkpoints(run_dir: Path, name: str) -> list[tuple[int, Path]]:
    return _steps_of(run_dir, name, ".safetensors", False)


def prune(run_dir: Path, name: str, keep_last: int) -> list[Path]:
    """Keep the newest ``keep_last`` checkpoints (never removing the newest) and the two newest
    complete resumable states (a damaged newest state leaves the previous one to resume
    from). Returns what was removed."""
    removed: list[Path] = []
    ckpts = list_checkpoints(run_dir, name)
    for _, path in ckpts[: max(0, len(ckpts) - max(1, keep_last))]:
        path.unlink(missing_ok=True)
        removed.append(path)
    complete = complete_states(run_dir, name)
    oldest_kept = complete[-KEEP_STATES][0] if len(complete) >= KEEP_STATES else None
    for step, path in _steps_of(run_dir / STATE_DIR, name, "", True):
        if oldest_kept is not None and step < oldest_kept:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def previous_run_files(run_dir: Path, name: str) -> list[Path]:
    """What a finished or stopped run of ``name`` left: checkpoints, the final LoRA, states."""
    found = [p for _, p in list_checkpoints(run_dir, name)]
    final = run_dir / f"{name}.safetensors"
    if final.is_file():
        found.append(final)
    found += [p for _, p in _steps_of(run_dir / STATE_DIR, name, "", True)]
    return found


def move_previous_run(run_dir: Path, name: str) -> Path:
    """Move the previous run (its checkpoints, states, samples and config) into
    ``<run>/previous-<timestamp>/``; nothing is deleted. Returns that folder."""
    import time

    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = run_dir / f"previous-{stamp}", 1
    while target.exists():
        n += 1
        target = run_dir / f"previous-{stamp}-{n}"
    target.mkdir(parents=True)
    for path in previous_run_files(run_dir, name):
        dest = target / path.relative_to(run_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(path, dest)
    for extra in ("samples", "config.yaml"):
        if (run_dir / extra).exists():
            os.replace(run_dir / extra, target / extra)
    return target


# ---- compatibility of a saved state ------------------------------------------------------


STRICT_KEYS = ("rank", "alpha", "target_modules", "optimizer")


def compat_of(cfg: Any, data_hash: str) -> dict[str, Any]:
    """The settings a saved state must agree with to be resumed."""
    return {
        "rank": cfg.network.rank,
        "alpha": cfg.network.alpha,
        "target_modules": cfg.network.target_modules,
        "optimizer": cfg.train.optimizer,
        "dataset_hash": data_hash,
        "batch_size": cfg.train.batch_size,
    }


def check_compat(saved: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    """Raise ResumeError for a different LoRA shape or optimizer; return softer warnings."""
    for key in STRICT_KEYS:
        if saved.get(key) != ours[key]:
            raise ResumeError(
                f"--resume: the saved state has {key} = {saved.get(key)!r} but the config has "
                f"{ours[key]!r}; change it back or start a new run without --resume"
            )
    if (
        saved.get("dataset_hash") != ours["dataset_hash"]
        or saved.get("batch_size") != ours["batch_size"]
    ):
        return [
            "the dataset or the batch size changed since the state was saved: training goes "
            "on, but the data order differs from an uninterrupted run"
        ]
    return []
