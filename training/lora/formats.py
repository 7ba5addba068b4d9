"""Key layouts of Z-Image LoRA files, to and from the one ``LoraFile`` form.

Formats (``FORMATS``):

* ``likeness``: ``diffusion_model.layers.N.<module>.lora_A.weight`` / ``.lora_B.weight`` plus
  ``.alpha`` when alpha != rank. ai-toolkit writes the same layout (without ``.alpha``).
* ``comfyui``: the same prefix with ComfyUI's own module names: q/k/v fused into
  ``attention.qkv`` (rows 0 / 3840 / 7680; rank = the three ranks added up, the up matrix
  block-diagonal) and ``attention.out`` for ``to_out.0``.
* ``diffusers``: peft's ``transformer.layers.N.<module>.lora_A.weight`` (also read with a
  ``base_model.model.`` prefix or none); no alpha in the file, so the scale is folded into
  ``lora_B`` when writing.
* ``musubi``: musubi-tuner / kohya ``lora_unet_layers_N_attention_to_q.lora_down.weight`` /
  ``.lora_up.weight`` / ``.alpha`` (``lora_transformer_`` is read too).
* ``musubi-fused``: the same key style on ComfyUI's module names (``..._attention_qkv`` with
  the ranks added up, ``..._attention_out``): what ComfyUI needs from a kohya-style file.

Reading checks every key: LoKr / LoHa / DoRA and keys of other models give a ``LoraError``
that names them.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from training.lora.model import COMPONENTS, QKV, LoraError, LoraModule, split_name

if TYPE_CHECKING:
    import torch

FORMATS = ("likeness", "comfyui", "diffusers", "musubi", "musubi-fused")

_PREFIXES = ("diffusion_model.", "transformer.", "base_model.model.", "model.diffusion_model.")
_KOHYA_PREFIXES = ("lora_unet_", "lora_transformer_")
_SUFFIXES = (
    (".lora_A.default.weight", "down"),
    (".lora_B.default.weight", "up"),
    (".lora_A.weight", "down"),
    (".lora_B.weight", "up"),
    (".lora_down.weight", "down"),
    (".lora_up.weight", "up"),
    (".lora.down.weight", "down"),
    (".lora.up.weight", "up"),
    (".alpha", "alpha"),
)
_UNSUPPORTED = {
    "lokr_": "LoKr",
    "hada_": "LoHa",
    "dora_scale": "DoRA",
    "oft_": "OFT",
    ".diff": "full-weight difference",
    "lora_mid": "LoCon (conv) mid weight",
}
# Module names ComfyUI / the original Z-Image code use, beside the diffusers ones.
_COMFY_NAMES = {"attention.qkv": "attention.qkv", "attention.out": "attention.to_out.0"}
_KNOWN = set(COMPONENTS) | set(_COMFY_NAMES)
_UNDERSCORED = {c.replace(".", "_"): c for c in _KNOWN}
_BLOCK_RE = re.compile(r"^(layers|noise_refiner|context_refiner)[._](\d+)[._](.+)$")


def _examples(keys: list[str], n: int = 4) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" (and {len(keys) - n} more)" if len(keys) > n else "")


def _parse_key(key: str) -> tuple[str, str, str, str] | None:
    """key -> (prefix style, module name, part, component as written) or None."""
    found = next(((s, p) for s, p in _SUFFIXES if key.endswith(s)), None)
    if found is None:
        return None
    suffix, part = found
    base = key[: -len(suffix)]
    style = "plain"
    for prefix in _KOHYA_PREFIXES:
        if base.startswith(prefix):
            style, base = "kohya", base[len(prefix) :]
            break
    else:
        for prefix in _PREFIXES:
            if base.startswith(prefix):
                style, base = prefix, base[len(prefix) :]
                break
    m = _BLOCK_RE.match(base)
    if not m:
        return None
    kind, index, component = m.groups()
    if style == "kohya":
        component = _UNDERSCORED.get(component, component)
    if component not in _KNOWN:
        return None
    return style, f"{kind}.{int(index)}.{component}", part, component


def detect_and_read(
    tensors: dict[str, Any], metadata: dict[str, str]
) -> tuple[str, dict[str, LoraModule], list[str]]:
    """(format, modules, notes) from a file's tensors; ``LoraError`` naming the keys otherwise."""
    if not tensors:
        raise LoraError("the file holds no tensors")
    unsupported = {
        label: [k for k in tensors if marker in k] for marker, label in _UNSUPPORTED.items()
    }
    unsupported = {label: keys for label, keys in unsupported.items() if keys}
    if unsupported:
        label, keys = next(iter(unsupported.items()))
        raise LoraError(
            f"{label} adapters are not supported (only plain LoRA down/up pairs): {_examples(keys)}"
        )
    parts: dict[str, dict[str, Any]] = {}
    styles: set[str] = set()
    fused = False
    unknown: list[str] = []
    for key, value in tensors.items():
        parsed = _parse_key(key)
        if parsed is None:
            unknown.append(key)
            continue
        style, name, part, component = parsed
        styles.add(style)
        fused = fused or component in _COMFY_NAMES
        parts.setdefault(name, {})[part] = value
    if unknown:
        raise LoraError(
            "not a Z-Image transformer LoRA (or a layout Likeness does not know): "
            + _examples(sorted(unknown))
        )
    if len(styles) > 1:
        raise LoraError(f"the file mixes key layouts ({', '.join(sorted(styles))})")
    style = styles.pop()
    fmt = {
        "kohya": "musubi-fused" if fused else "musubi",
        "diffusion_model.": "comfyui" if fused else "likeness",
    }.get(style, "diffusers")
    modules, notes = _build_modules(parts)
    if fmt == "likeness" and metadata and not any(k.startswith("likeness.") for k in metadata):
        notes.append("written by another trainer in the ai-toolkit / ComfyUI layout")
    return fmt, modules, notes


def _build_modules(parts: dict[str, dict[str, Any]]) -> tuple[dict[str, LoraModule], list[str]]:
    modules: dict[str, LoraModule] = {}
    notes: list[str] = []
    problems: list[str] = []
    for name in sorted(parts):
        got = parts[name]
        if "down" not in got or "up" not in got:
            missing = "up" if "down" in got else "down"
            problems.append(f"{name}: no {missing} weight")
            continue
        down, up = got["down"], got["up"]
        if down.ndim != 2 or up.ndim != 2 or up.shape[1] != down.shape[0]:
            problems.append(
                f"{name}: down {tuple(down.shape)} and up {tuple(up.shape)} do not fit together"
            )
            continue
        rank = int(down.shape[0])
        if rank == 0:
            problems.append(f"{name}: rank 0")
            continue
        if not _finite(down) or not _finite(up):
            problems.append(f"{name}: holds NaN or infinite values (a diverged training run?)")
            continue
        scale = float(got["alpha"].float().item()) / rank if "alpha" in got else 1.0
        block, component = split_name(name)
        if component == "attention.qkv":
            split = _split_qkv(block, down, up, scale)
            if any(n in parts for n in split):
                problems.append(f"{block}: both fused attention.qkv and separate q/k/v keys")
                continue
            modules.update(split)
            continue
        target = f"{block}.{_COMFY_NAMES.get(component, component)}"
        if target in modules:
            problems.append(f"{block}: both attention.out and attention.to_out.0 keys")
            continue
        modules[target] = LoraModule(down, up, scale)
    if problems:
        raise LoraError("broken LoRA modules: " + "; ".join(problems[:5]))
    if not modules:
        raise LoraError("the file holds no LoRA modules")
    return modules, notes


def _finite(tensor) -> bool:
    """No NaN / inf anywhere (a NaN or an inf makes the fp32 sum non-finite; 4x faster than
    ``isfinite().all()`` on bf16)."""
    import torch

    return bool(torch.isfinite(tensor.sum(dtype=torch.float32)))


def _split_qkv(block: str, down, up, scale: float) -> dict[str, LoraModule]:
    """A fused qkv pair -> to_q / to_k / to_v. When the up matrix is block-diagonal (as written by
    ComfyUI converters and by ``to_state_dict``), each part keeps only its own rank columns;
    otherwise every part shares the full down matrix. Either way ``up_i @ down_i`` equals the
    fused delta's rows exactly."""
    rows = up.shape[0]
    if rows % 3:
        raise LoraError(f"{block}.attention.qkv: up has {rows} rows, not a multiple of 3")
    n = rows // 3
    used = [(up[i * n : (i + 1) * n].float().abs().sum(0) > 0) for i in range(3)]
    disjoint = all(not bool((used[i] & used[j]).any()) for i in range(3) for j in range(i + 1, 3))
    out: dict[str, LoraModule] = {}
    for i, comp in enumerate(QKV):
        chunk = up[i * n : (i + 1) * n]
        if disjoint:
            cols = used[i].nonzero().flatten()
            if cols.numel() == 0:
                continue  # this projection has no change
            out[f"{block}.{comp}"] = LoraModule(down[cols].clone(), chunk[:, cols].clone(), scale)
        else:
            out[f"{block}.{comp}"] = LoraModule(down.clone(), chunk.clone(), scale)
    return out


# ---- writing ------------------------------------------------------------------------------


def to_state_dict(
    modules: dict[str, LoraModule], fmt: str, dtype: torch.dtype
) -> dict[str, torch.Tensor]:
    """Tensors of ``fmt`` for ``modules`` (in ``dtype``; alpha scalars in fp32)."""
    import torch

    if fmt not in FORMATS:
        raise LoraError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    out: dict[str, torch.Tensor] = {}

    def alpha(value: float) -> torch.Tensor:
        return torch.tensor(value, dtype=torch.float32)

    def put(key_base: str, down, up, scale: float, a: str, b: str, always_alpha: bool) -> None:
        out[f"{key_base}.{a}.weight"] = down.to(dtype).contiguous()
        out[f"{key_base}.{b}.weight"] = up.to(dtype).contiguous()
        if always_alpha or scale != 1.0:
            out[f"{key_base}.alpha"] = alpha(scale * down.shape[0])

    fused = fmt in ("comfyui", "musubi-fused")
    kohya = fmt in ("musubi", "musubi-fused")
    groups = _fuse_groups(modules) if fused else {}
    done: set[str] = set()

    def write(name: str, down, up, scale: float) -> None:
        if kohya:
            base = "lora_unet_" + name.replace(".", "_")
            put(base, down, up, scale, "lora_down", "lora_up", True)
        else:
            put(f"diffusion_model.{name}", down, up, scale, "lora_A", "lora_B", False)

    for name in sorted(modules):
        if name in done:
            continue
        mod = modules[name]
        block, component = split_name(name)
        if fmt == "diffusers":  # peft files carry no alpha: the scale goes into lora_B
            up = mod.up.float() * mod.scale
            put(f"transformer.{name}", mod.down, up, 1.0, "lora_A", "lora_B", False)
        elif fused and component in QKV and block in groups:
            down, up, scale = groups[block]
            write(f"{block}.attention.qkv", down, up, scale)
            done.update(f"{block}.{c}" for c in QKV)
        elif fused and component == "attention.to_out.0":
            write(f"{block}.attention.out", mod.down, mod.up, mod.scale)
        else:
            write(name, mod.down, mod.up, mod.scale)
    return out


def _fuse_groups(modules: dict[str, LoraModule]) -> dict[str, tuple[Any, Any, float]]:
    """block -> (down, up, scale) of its fused qkv: the downs stacked, the ups block-diagonal;
    a missing projection is a zero block. Scales are kept as one alpha when q/k/v share one,
    otherwise folded into each up block."""
    import torch

    groups: dict[str, tuple[Any, Any, float]] = {}
    blocks = sorted({split_name(n)[0] for n in modules if split_name(n)[1] in QKV})
    for block in blocks:
        parts = [modules.get(f"{block}.{c}") for c in QKV]
        present = [p for p in parts if p is not None]
        n_out = present[0].shape[0]
        scales = {p.scale for p in present}
        common = scales.pop() if len(scales) == 1 else 1.0
        downs = [p.down.float() for p in present]
        total = sum(p.rank for p in present)
        up = torch.zeros(3 * n_out, total, dtype=torch.float32)
        col = 0
        for i, p in enumerate(parts):
            if p is None:
                continue
            factor = p.scale / common if common != 0 else 0.0
            up[i * n_out : (i + 1) * n_out, col : col + p.rank] = p.up.float() * factor
            col += p.rank
        groups[block] = (torch.cat(downs, 0), up, common)
    return groups
