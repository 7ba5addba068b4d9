"""The resumable training state: ``<run>/state/<name>_<step:09d>/`` holds ``state.safetensors``
(every tensor) and ``state.json`` (the rest: a JSON tree with tensor references). No pickle.

* Saving works at every size and for every optimizer: a tensor referenced twice (bitsandbytes'
  8-bit optimizers share one quantisation map, ``qmap1`` / ``qmap2``, between all their
  parameters) is stored once and referenced twice, and tensors that merely share memory are
  copied, so safetensors never sees shared storage.
* A state folder is written under a temporary name and renamed, so a folder with a real name
  is complete; ``complete_states`` lists only those (both files present and regular).
* Loading checks everything it reads: the JSON tree, the tensor references, the step (it must
  match the folder name and be within ``MAX_STEP``). Any problem is a ``ResumeError`` that
  names the file and the previous complete state, when there is one.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from training import fileio
from training.errors import ResumeError, SaveError

STATE_DIR = "state"
STATE_VERSION = 1
MAX_STEP = 10_000_000
MAX_STATE_JSON = 64 << 20
JSON_FILE, TENSOR_FILE = "state.json", "state.safetensors"


def checkpoint_name(name: str, step: int) -> str:
    return f"{name}_{step:09d}"


def state_dir(run_dir: Path, name: str, step: int) -> Path:
    return run_dir / STATE_DIR / checkpoint_name(name, step)


# ---- encoding (JSON tree + tensors) --------------------------------------------------------


class _Encoder:
    def __init__(self) -> None:
        self.tensors: dict[str, Any] = {}
        self._by_id: dict[int, str] = {}
        self._storages: set[tuple[str, int]] = set()

    def tensor_key(self, tensor: Any, prefix: str) -> str:
        key = self._by_id.get(id(tensor))
        if key is not None:  # the very same tensor again (bitsandbytes' shared qmaps)
            return key
        value = tensor.detach().cpu().contiguous()
        storage = (str(value.device), value.untyped_storage().data_ptr())
        if value.numel() and storage in self._storages:
            value = value.clone()  # a different view of memory already stored
        elif value.numel():
            self._storages.add(storage)
        key = f"t{len(self.tensors)}:{prefix}"
        self.tensors[key] = value
        self._by_id[id(tensor)] = key
        return key

    def encode(self, obj: Any, prefix: str) -> Any:
        import numpy as np
        import torch

        if isinstance(obj, torch.Tensor):
            return {"__tensor__": self.tensor_key(obj, prefix)}
        if isinstance(obj, np.ndarray):
            key = f"t{len(self.tensors)}:{prefix}"
            self.tensors[key] = torch.from_numpy(obj.copy())
            return {"__ndarray__": key}
        if isinstance(obj, dict):
            return {
                "__dict__": [
                    [self.encode(k, f"{prefix}.k"), self.encode(v, f"{prefix}.{k}")]
                    for k, v in obj.items()
                ]
            }
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v, f"{prefix}.{i}") for i, v in enumerate(obj)]}
        if isinstance(obj, list):
            return [self.encode(v, f"{prefix}.{i}") for i, v in enumerate(obj)]
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
        if len(obj) != 1:
            raise ValueError(f"unexpected object with keys {sorted(obj)[:5]}")
        ((tag, value),) = obj.items()
        if tag == "__tensor__":
            return tensors[value]
        if tag == "__ndarray__":
            return tensors[value].numpy()
        if tag == "__tuple__":
            return tuple(_decode(v, tensors) for v in value)
        if tag == "__dict__":
            return {_hashable(_decode(k, tensors)): _decode(v, tensors) for k, v in value}
        if tag == "__float__":
            return float(value)
        raise ValueError(f"unknown tag {tag!r}")
    return obj


def _hashable(key: Any) -> Any:
    if isinstance(key, list | dict):
        raise ValueError("a mapping key is not a plain value")
    return key


# ---- RNG states ---------------------------------------------------------------------------


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


# ---- saving --------------------------------------------------------------------------------


def save_state(run_dir: Path, name: str, step: int, state: dict[str, Any]) -> Path:
    """Write the resumable state for ``step`` as a folder, atomically (temp folder + rename).
    OSErrors become DiskFullError / SaveError; nothing of the new state is left on failure."""
    from safetensors.torch import save

    final = state_dir(run_dir, name, step)
    tmp = final.parent / f".{final.name}.tmp"
    try:
        fileio.sub_dir(run_dir, STATE_DIR)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(mode=0o700)
        enc = _Encoder()
        tree = enc.encode(state, "s")
        data = save(enc.tensors)
        fileio.atomic_write_bytes(tmp / TENSOR_FILE, data)
        del data
        text = json.dumps({"version": STATE_VERSION, "step": step, "tree": tree})
        fileio.atomic_write_text(tmp / JSON_FILE, text)
        if final.is_symlink():
            final.unlink()
        elif final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        fileio.fsync_dir(final.parent)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise fileio.save_error(exc, final) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# ---- finding and loading -------------------------------------------------------------------


def _is_complete(folder: Path) -> bool:
    return (
        not folder.is_symlink()
        and folder.is_dir()
        and all(
            (folder / f).is_file() and not (folder / f).is_symlink()
            for f in (JSON_FILE, TENSOR_FILE)
        )
    )


def complete_states(run_dir: Path, name: str) -> list[tuple[int, Path]]:
    """Every complete state folder of ``name``, oldest first."""
    folder = run_dir / STATE_DIR
    pattern = re.compile(rf"^{re.escape(name)}_(\d{{9}})$")
    if folder.is_symlink() or not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = pattern.match(p.name)
        if m and _is_complete(p):
            found.append((int(m.group(1)), p))
    return sorted(found)


def latest_state(run_dir: Path, name: str) -> Path | None:
    states = complete_states(run_dir, name)
    return states[-1][1] if states else None


def resume_error(path: Path, why: str, run_dir: Path, name: str) -> ResumeError:
    """A ResumeError naming the broken file and offering the previous complete state."""
    folder = path if path.name.startswith(f"{name}_") else path.parent
    older = [p for _, p in complete_states(run_dir, name) if p.name < folder.name]
    if older:
        hint = (
            f"the previous complete state is {older[-1]}: move {folder} out of "
            f"{folder.parent} and run --resume again to continue from there"
        )
    else:
        hint = "there is no earlier complete state: start without --resume (or --overwrite)"
    return ResumeError(f"--resume: the training state {path} is unusable ({why}); {hint}")


def _read_json(path: Path) -> dict[str, Any]:
    meta = json.loads(fileio.read_bytes(path, limit=MAX_STATE_JSON).decode("utf-8"))
    if not isinstance(meta, dict) or "tree" not in meta:
        raise ValueError("not a Likeness training state")
    if meta.get("version") != STATE_VERSION:
        raise ValueError(f"state version {meta.get('version')!r}, this Likeness reads 1")
    return meta


def check_step(value: Any, what: str = "step") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_STEP:
        raise ValueError(f"{what} is {value!r}, not a whole number from 0 to {MAX_STEP}")
    return value


def peek_step(path: Path, run_dir: Path, name: str) -> int:
    """The step recorded in a state folder, checked against the folder's name."""
    try:
        step = check_step(_read_json(path / JSON_FILE).get("step"))
    except (OSError, ValueError, RecursionError) as exc:
        raise resume_error(path / JSON_FILE, str(exc), run_dir, name) from None
    if checkpoint_name(name, step) != path.name:
        raise resume_error(
            path / JSON_FILE, f"it says step {step} but lies in {path.name}", run_dir, name
        )
    return step


def peek_resume_step(run_dir: Path, name: str) -> int | None:
    """The step of the newest complete state, or None when there is none."""
    path = latest_state(run_dir, name)
    return None if path is None else peek_step(path, run_dir, name)


def load_state(path: Path, run_dir: Path | None = None, name: str | None = None) -> dict[str, Any]:
    """The state saved in folder ``path``; ResumeError (naming the file) when it is damaged."""
    from safetensors.torch import load

    run_dir = run_dir or path.parent.parent
    name = name or path.name.rsplit("_", 1)[0]
    try:
        meta = _read_json(path / JSON_FILE)
    except (OSError, ValueError, RecursionError) as exc:
        raise resume_error(path / JSON_FILE, str(exc), run_dir, name) from None
    try:
        tensors = load(fileio.read_bytes(path / TENSOR_FILE))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types
        raise resume_error(
            path / TENSOR_FILE, str(exc) or type(exc).__name__, run_dir, name
        ) from None
    try:
        state = _decode(meta["tree"], tensors)
        if not isinstance(state, dict):
            raise ValueError("the state is not a mapping")
    except (KeyError, TypeError, ValueError, AttributeError, RecursionError) as exc:
        why = f"missing tensor {exc}" if isinstance(exc, KeyError) else str(exc)
        raise resume_error(path / JSON_FILE, why, run_dir, name) from None
    return state


def restore(
    state: dict[str, Any],
    path: Path,
    *,
    step: int,
    named: dict[str, Any],
    optimizer: Any,
    scheduler: Any,
    ema: Any,
    run_dir: Path,
    name: str,
) -> tuple[int, int, int]:
    """Put a loaded state into the model, optimizer, scheduler, EMA and RNGs, checking every
    value first. Returns (step, epoch, pos); ResumeError naming ``path`` on any problem."""
    import torch

    def fail(why: str) -> ResumeError:
        return resume_error(path / JSON_FILE, why, run_dir, name)

    try:
        if check_step(state.get("step")) != step:
            raise ValueError(f"step {state.get('step')!r} differs from state.json's {step}")
        epoch = check_step(state.get("epoch"), "epoch")
        pos = check_step(state.get("pos"), "pos")
        lora = state.get("lora")
        if not isinstance(lora, dict) or set(lora) != set(named):
            raise ValueError("its LoRA weights do not match this model's LoRA layers")
        for n, p in named.items():
            value = lora[n]
            if not isinstance(value, torch.Tensor) or value.shape != p.shape:
                raise ValueError(f"LoRA weight {n} has the wrong shape")
            if not torch.isfinite(value).all():
                raise ValueError(f"LoRA weight {n} holds NaN or infinite values")
        if ema is not None and state.get("ema"):
            shadow = state["ema"]
            if not isinstance(shadow, dict) or any(
                not isinstance(shadow.get(n), torch.Tensor) or shadow[n].shape != p.shape
                for n, p in named.items()
            ):
                raise ValueError("its EMA weights do not match this model's LoRA layers")
        if not isinstance(state.get("optimizer"), dict) or not isinstance(
            state.get("scheduler"), dict
        ):
            raise ValueError("the optimizer or scheduler state is missing")
    except ValueError as exc:
        raise fail(str(exc)) from None
    backup = optimizer.state_dict()
    try:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        restore_rng(state["rng"])
    except Exception as exc:  # noqa: BLE001 - torch / bitsandbytes raise many types here
        try:
            optimizer.load_state_dict(backup)
        except Exception:  # noqa: BLE001 - the run stops with the ResumeError anyway
            pass
        raise fail(f"the optimizer, scheduler or RNG state does not load: {exc}") from None
    with torch.no_grad():
        for n, p in named.items():
            p.copy_(lora[n])
    if ema is not None and state.get("ema"):
        ema.shadow = {n: v.float() for n, v in state["ema"].items()}
    return step, epoch, pos
