"""Reading and writing LoRA files: safetensors only, outputs atomic, inputs never overwritten.

Every file a tool writes carries, besides the source's own metadata, ``likeness.lora_format``
and ``likeness.lora_history``: a JSON list with one entry per tool run (what was done, with
which settings, from which files), so a merged or re-weighted LoRA says how it was made.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from training.lora.formats import FORMATS, detect_and_read, to_state_dict
from training.lora.model import LoraError, LoraFile, dtype_name, torch_dtype

HISTORY_KEY = "likeness.lora_history"
FORMAT_KEY = "likeness.lora_format"
MAX_FILE_BYTES = 8 * 1024**3  # a Z-Image LoRA is 10 MB - 2 GB; anything far bigger is not one


def load_lora(path: str | Path) -> LoraFile:
    """Read any Z-Image LoRA (``training.lora.formats``) into a ``LoraFile``."""
    path = Path(path)
    if path.suffix.lower() != ".safetensors":
        raise LoraError(
            f"{path.name}: only .safetensors LoRA files are read (pickle formats such as .ckpt, "
            ".pt or .bin can run code when opened)"
        )
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoraError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise LoraError(f"{path} is not a file")
    if size > MAX_FILE_BYTES:
        raise LoraError(f"{path.name} is {size / 1024**3:.1f} GB: too big for a LoRA")
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as fh:
            metadata = dict(fh.metadata() or {})
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError) as exc:
        raise LoraError(f"{path.name} is not a readable safetensors file: {exc}") from exc
    try:
        fmt, modules, notes = detect_and_read(tensors, metadata)
    except LoraError as exc:
        raise LoraError(f"{path.name}: {exc}") from exc
    dtypes = [dtype_name(m.up.dtype) for m in modules.values()]
    main = max(set(dtypes), key=dtypes.count)
    return LoraFile(
        modules=modules,
        metadata=metadata,
        source_format=fmt,
        source_path=str(path),
        dtype=main if main in ("bf16", "fp16", "fp32") else "fp32",
        notes=notes,
    )


def history(lora: LoraFile) -> list[dict[str, Any]]:
    """The tool runs recorded in the file's metadata (oldest first); [] when none."""
    try:
        value = json.loads(lora.metadata.get(HISTORY_KEY, "[]"))
    except json.JSONDecodeError:
        return []
    return value if isinstance(value, list) else []


def check_output(
    out: str | Path, inputs: Sequence[str | Path] = (), overwrite: bool = False
) -> Path:
    """``out`` as a Path after refusing an input, a symlink, a folder, or an existing file
    (unless ``overwrite``); ``LoraError`` says which."""
    out = Path(out)
    if out.is_symlink():
        raise LoraError(f"{out} is a symbolic link: write to a plain path")
    if out.is_dir():
        raise LoraError(f"{out} is a folder: give a file name")
    for src in inputs:
        src = Path(src)
        same = out.exists() and src.exists() and os.path.samefile(out, src)
        if same or out.resolve() == src.resolve():
            raise LoraError(f"{out} is one of the input files: choose another output name")
    if out.exists() and not overwrite:
        raise LoraError(f"{out} exists: choose another name (or pass --force)")
    if not out.parent.is_dir():
        raise LoraError(f"the folder {out.parent} does not exist")
    return out


def save_lora(
    lora: LoraFile,
    out: str | Path,
    *,
    fmt: str | None = None,
    dtype: str | None = None,
    operation: dict[str, Any] | None = None,
    inputs: Sequence[str | Path] = (),
    overwrite: bool = False,
) -> Path:
    """Write ``lora`` to ``out`` in ``fmt`` (default: its source format, else likeness) and
    ``dtype`` (default: its own), atomically, with ``operation`` appended to its history."""
    from training.checkpoints import atomic_save_safetensors
    from training.errors import TrainingError

    fmt = fmt or (lora.source_format if lora.source_format in FORMATS else "likeness")
    dtype = dtype or lora.dtype
    out = check_output(out, [*inputs, *([lora.source_path] if lora.source_path else [])], overwrite)
    tensors = to_state_dict(lora.modules, fmt, torch_dtype(dtype))
    metadata = {k: str(v) for k, v in lora.metadata.items()}
    metadata["format"] = "pt"
    metadata[FORMAT_KEY] = fmt
    if operation is not None:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **operation}
        entry.setdefault("output_format", fmt)
        metadata[HISTORY_KEY] = json.dumps([*history(lora), entry], sort_keys=True)
    ranks = lora.ranks()
    alphas = {round(m.scale * m.rank, 6) for m in lora.modules.values()}
    if len(ranks) == 1:  # keep the rank / alpha that LoRA browsers show true after a tool run
        metadata["ss_network_dim"] = str(ranks[0])
        if "likeness.rank" in metadata:
            metadata["likeness.rank"] = str(ranks[0])
    if len(alphas) == 1:
        alpha = f"{alphas.pop():g}"
        metadata["ss_network_alpha"] = alpha
        if "likeness.alpha" in metadata:
            metadata["likeness.alpha"] = alpha
    try:
        path = atomic_save_safetensors(tensors, out, metadata)
    except TrainingError as exc:
        raise LoraError(exc.message) from exc
    _readable_like(path, [*inputs, lora.source_path])
    return path


def _readable_like(path: Path, sources: Sequence[str | Path]) -> None:
    """The temporary file was created 0600: give the output the first input's permissions
    (else rw-r--r--), so ComfyUI or another user can read it like the original."""
    for src in sources:
        try:
            if src and Path(src).is_file():
                os.chmod(path, Path(src).stat().st_mode & 0o777)
                return
        except OSError:
            continue
    try:
        os.chmod(path, 0o644)
    except OSError:
        pass
