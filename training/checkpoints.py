"""LoRA checkpoints and resumable training state.

* ``<run>/<name>_<step:09d>.safetensors``: the LoRA with ComfyUI / diffusers keys
  ``diffusion_model.layers.N.<module>.lora_A.weight`` / ``.lora_B.weight`` in the save dtype,
  ``.alpha`` scalars when alpha != rank, and metadata (trigger, base model, rank, alpha, step,
  dataset hash, resolutions, lr, app version, the run config as JSON).
* ``<run>/state/<name>_<step:09d>/``: everything ``--resume`` needs (LoRA weights in fp32,
  optimizer, LR scheduler, EMA, RNG states, data position) as ``state.safetensors`` (tensors)
  plus ``state.json`` (the rest, with tensor references). No pickle anywhere.

Every file is written to a temporary name, fsynced and renamed, so a crash or a full disk
never leaves a half-written checkpoint under a real name; earlier checkpoints stay intact.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from training.errors import DiskFullError, ResumeError, SaveError

log = logging.getLogger(__name__)

KEY_PREFIX = "diffusion_model."
STATE_DIR = "state"


def checkpoint_name(name: str, step: int) -> str:
    return f"{name}_{step:09d}"


def _write_safetensors(tensors: dict, path: Path, metadata: dict[str, str] | None) -> None:
    """The one place bytes are written (tests monkeypatch it to simulate a full disk)."""
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata=metadata)


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk; folders cannot be opened on Windows (skipped there)."""
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems cannot fsync directories
        pass
    finally:
        os.close(fd)


def _save_error(exc: OSError, what: Path) -> Exception:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return DiskFullError(
            f"no space left on the disk while writing {what.name}: free some space, then run "
            f"again with --resume (the earlier checkpoints are intact)"
        )
    return SaveError(f"cannot write {what}: {exc.strerror or exc}")


def atomic_save_safetensors(
    tensors: dict, path: Path, metadata: dict[str, str] | None = None
) -> Path:
    """Write ``tensors`` to ``path`` through a temporary file + fsync + rename."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _write_safetensors(tensors, tmp, metadata)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise _save_error(exc, path) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) through a temporary file + fsync + rename; OSError passes through."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
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
    from training.config import config_to_dict

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
        "likeness.run_config": json.dumps(config_to_dict(cfg), sort_keys=True),
        # kohya-style keys that LoRA browsers and ComfyUI managers show
        "ss_output_name": cfg.name,
        "ss_network_dim": str(cfg.network.rank),
        "ss_network_alpha": str(cfg.network.alpha),
        "ss_steps": str(step),
        "ss_base_model_version": "zimage",
        "ss_tag_frequency": json.dumps({cfg.trigger: 1}),
    }


def save_lora(run_dir: Path, file_stem: str, tensors: dict, metadata: dict[str, str]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    return atomic_save_safetensors(tensors, run_dir / f"{file_stem}.safetensors", metadata)


# ---- resumable state (JSON tree + tensors, no pickle) -------------------------------------


def _encode(obj: Any, tensors: dict, prefix: str) -> Any:
    import numpy as np
    import torch

    if isinstance(obj, torch.Tensor):
        key = f"t{len(tensors)}:{prefix}"
        tensors[key] = obj.detach().cpu().contiguous()
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        key = f"t{len(tensors)}:{prefix}"
        tensors[key] = torch.from_numpy(obj.copy())
        return {"__ndarray__": key}
    if isinstance(obj, dict):
        items = [
            [_encode(k, tensors, f"{prefix}.k"), _encode(v, tensors, f"{prefix}.{k}")]
            for k, v in obj.items()
        ]
        return {"__dict__": items}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, float) and obj != obj:
        return {"__float__": "nan"}
    if isinstance(obj, float) and obj in (float("inf"), float("-inf")):
        return {"__float__": "inf" if obj > 0 else "-inf"}
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    raise SaveError(f"cannot store a {type(obj).__name__} in the training state")


def _decode(obj: Any, tensors: dict) -> Any:
    if isinstance(obj, list):
        return [_decode(v, tensors) for v in obj]
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__ndarray__" in obj:
            return tensors[obj["__ndarray__"]].numpy()
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors) for v in obj["__tuple__"])
        if "__dict__" in obj:
            return {_decode(k, tensors): _decode(v, tensors) for k, v in obj["__dict__"]}
        if "__float__" in obj:
            return float(obj["__float__"])
    return obj


def state_dir(run_dir: Path, name: str, step: int) -> Path:
    return run_dir / STATE_DIR / checkpoint_name(name, step)


def save_state(run_dir: Path, name: str, step: int, state: dict[str, Any]) -> Path:
    """Write the resumable state for ``step`` as a folder, atomically (temp folder + rename)."""
    final = state_dir(run_dir, name, step)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        tensors: dict = {}
        tree = _encode(state, tensors, "s")
        atomic_save_safetensors(tensors, tmp / "state.safetensors")
        atomic_write_text(
            tmp / "state.json", json.dumps({"version": 1, "step": step, "tree": tree})
        )
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _fsync(final.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _save_error(exc, final) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_state(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    try:
        meta = json.loads((path / "state.json").read_text(encoding="utf-8"))
        tensors = load_file(str(path / "state.safetensors"))
    except (OSError, ValueError) as exc:
        raise ResumeError(f"cannot read the training state in {path}: {exc}") from None
    return _decode(meta["tree"], tensors)


def _steps_of(folder: Path, name: str, suffix: str, is_dir: bool) -> list[tuple[int, Path]]:
    pattern = re.compile(rf"^{re.escape(name)}_(\d{{9}}){re.escape(suffix)}$")
    found = []
    if folder.is_dir():
        for p in folder.iterdir():
            m = pattern.match(p.name)
            if m and p.is_dir() == is_dir:
                found.append((int(m.group(1)), p))
    return sorted(found)


def latest_state(run_dir: Path, name: str) -> Path | None:
    states = [
        p for _, p in _steps_of(run_dir / STATE_DIR, name, "", True) if (p / "state.json").exists()
    ]
    return states[-1] if states else None


def peek_resume_step(run_dir: Path, name: str) -> int | None:
    """The step of the newest resumable state, or None when there is none."""
    path = latest_state(run_dir, name)
    if path is None:
        return None
    try:
        return int(json.loads((path / "state.json").read_text(encoding="utf-8"))["step"])
    except (OSError, ValueError, KeyError) as exc:
        raise ResumeError(
            f"the training state in {path} is unreadable ({exc}); start without --resume"
        ) from None


def list_checkpoints(run_dir: Path, name: str) -> list[tuple[int, Path]]:
    return _steps_of(run_dir, name, ".safetensors", False)


def prune(run_dir: Path, name: str, keep_last: int) -> list[Path]:
    """Keep the newest ``keep_last`` checkpoints (never removing the newest) and only the newest
    resumable state. Returns what was removed."""
    removed: list[Path] = []
    ckpts = list_checkpoints(run_dir, name)
    for _, path in ckpts[: max(0, len(ckpts) - max(1, keep_last))]:
        path.unlink(missing_ok=True)
        removed.append(path)
    states = _steps_of(run_dir / STATE_DIR, name, "", True)
    for _, path in states[:-1]:
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


# ---- RNG and compatibility of a saved state ------------------------------------------------


def capture_rng() -> dict[str, Any]:
    import random

    import numpy as np
    import torch

    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def restore_rng(rng: dict[str, Any]) -> None:
    import random

    import numpy as np
    import torch

    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"])
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])


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
