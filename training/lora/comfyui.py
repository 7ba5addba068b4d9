"""The ComfyUI hand-off: a Z-Image-Turbo workflow that loads a LoRA, in both of ComfyUI's JSON
formats, and "Send to ComfyUI" (the LoRA into ``models/loras``, the workflow into
``user/default/workflows``).

The graph (domain.md "Interoperability facts"): UNETLoader -> LoraLoaderModelOnly ->
ModelSamplingAuraFlow (shift 3) -> KSampler (cfg 1, ``simple``, 8 steps); CLIPLoader (type
``lumina2``) -> CLIPTextEncode -> positive, and ConditioningZeroOut of it -> negative;
EmptySD3LatentImage; VAELoader -> VAEDecode -> SaveImage.

* UI format (what the browser saves, draggable onto the canvas): ``nodes`` with typed
  ``inputs`` / ``outputs`` and ``widgets_values``, plus ``links`` as
  ``[id, from_node, from_slot, to_node, to_slot, type]``.
* API format (what ``/prompt`` takes): ``{node_id: {"class_type", "inputs"}}`` where a linked
  input is ``[from_node_id, from_slot]``.
"""

from __future__ import annotations

import filecmp
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.lora.model import LoraError

DEFAULT_UNET = "z_image_turbo_bf16.safetensors"
DEFAULT_CLIP = "qwen_3_4b.safetensors"
DEFAULT_VAE = "ae.safetensors"
TURBO_STEPS = 8

# class -> (linked inputs [(name, type)], outputs [type], widget names)
NODE_TYPES: dict[str, tuple[list[tuple[str, str]], list[str], list[str]]] = {
    "UNETLoader": ([], ["MODEL"], ["unet_name", "weight_dtype"]),
    "CLIPLoader": ([], ["CLIP"], ["clip_name", "type", "device"]),
    "VAELoader": ([], ["VAE"], ["vae_name"]),
    "LoraLoaderModelOnly": ([("model", "MODEL")], ["MODEL"], ["lora_name", "strength_model"]),
    "ModelSamplingAuraFlow": ([("model", "MODEL")], ["MODEL"], ["shift"]),
    "CLIPTextEncode": ([("clip", "CLIP")], ["CONDITIONING"], ["text"]),
    "ConditioningZeroOut": ([("conditioning", "CONDITIONING")], ["CONDITIONING"], []),
    "EmptySD3LatentImage": ([], ["LATENT"], ["width", "height", "batch_size"]),
    "KSampler": (
        [
            ("model", "MODEL"),
            ("positive", "CONDITIONING"),
            ("negative", "CONDITIONING"),
            ("latent_image", "LATENT"),
        ],
        ["LATENT"],
        ["seed", "steps", "cfg", "sampler_name", "scheduler", "denoise"],
    ),
    "VAEDecode": ([("samples", "LATENT"), ("vae", "VAE")], ["IMAGE"], []),
    "SaveImage": ([("images", "IMAGE")], [], ["filename_prefix"]),
}


@dataclass
class WorkflowOptions:
    lora_name: str
    strength: float = 0.8
    prompt: str = ""
    seed: int = 42
    steps: int = TURBO_STEPS
    sampler: str = "euler"
    width: int = 1024
    height: int = 1024
    unet: str = DEFAULT_UNET
    clip: str = DEFAULT_CLIP
    vae: str = DEFAULT_VAE
    filename_prefix: str = "likeness"


def _graph(o: WorkflowOptions) -> list[tuple[str, dict[str, Any], dict[str, tuple[int, int]]]]:
    """[(class, widget values, {input: (from_node_index, from_slot)})], node ids = index + 1."""
    return [
        ("UNETLoader", {"unet_name": o.unet, "weight_dtype": "default"}, {}),  # 1
        ("CLIPLoader", {"clip_name": o.clip, "type": "lumina2", "device": "default"}, {}),  # 2
        ("VAELoader", {"vae_name": o.vae}, {}),  # 3
        ("LoraLoaderModelOnly", {"lora_name": o.lora_name, "strength_model": o.strength},
         {"model": (1, 0)}),  # 4
        ("ModelSamplingAuraFlow", {"shift": 3.0}, {"model": (4, 0)}),  # 5
        ("CLIPTextEncode", {"text": o.prompt}, {"clip": (2, 0)}),  # 6
        ("ConditioningZeroOut", {}, {"conditioning": (6, 0)}),  # 7
        ("EmptySD3LatentImage", {"width": o.width, "height": o.height, "batch_size": 1}, {}),  # 8
        ("KSampler", {"seed": o.seed, "steps": o.steps, "cfg": 1.0, "sampler_name": o.sampler,
                      "scheduler": "simple", "denoise": 1.0},
         {"model": (5, 0), "positive": (6, 0), "negative": (7, 0), "latent_image": (8, 0)}),  # 9
        ("VAEDecode", {}, {"samples": (9, 0), "vae": (3, 0)}),  # 10
        ("SaveImage", {"filename_prefix": o.filename_prefix}, {"images": (10, 0)}),  # 11
    ]  # fmt: skip


def api_workflow(o: WorkflowOptions) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for i, (cls, widgets, links) in enumerate(_graph(o), start=1):
        inputs: dict[str, Any] = dict(widgets)
        for name, (src, slot) in links.items():
            inputs[name] = [str(src), slot]
        out[str(i)] = {"class_type": cls, "inputs": inputs, "_meta": {"title": cls}}
    return out


_POSITIONS = {
    1: (20, 80), 2: (20, 260), 3: (20, 440), 4: (380, 80), 5: (720, 80), 6: (380, 260),
    7: (720, 300), 8: (720, 440), 9: (1060, 120), 10: (1420, 120), 11: (1680, 120),
}  # fmt: skip


def ui_workflow(o: WorkflowOptions) -> dict[str, Any]:
    graph = _graph(o)
    links: list[list[Any]] = []
    out_links: dict[tuple[int, int], list[int]] = {}
    in_links: dict[tuple[int, str], int] = {}
    for to_id, (cls, _, node_links) in enumerate(graph, start=1):
        names = [n for n, _ in NODE_TYPES[cls][0]]
        for name, (src, slot) in node_links.items():
            link_id = len(links) + 1
            type_ = NODE_TYPES[graph[src - 1][0]][1][slot]
            links.append([link_id, src, slot, to_id, names.index(name), type_])
            out_links.setdefault((src, slot), []).append(link_id)
            in_links[(to_id, name)] = link_id
    nodes = []
    for node_id, (cls, widgets, _) in enumerate(graph, start=1):
        inputs_spec, outputs_spec, widget_names = NODE_TYPES[cls]
        values = [widgets[w] for w in widget_names]
        if cls == "KSampler":  # the UI stores "control after generate" right after the seed
            values.insert(1, "fixed")
        nodes.append(
            {
                "id": node_id,
                "type": cls,
                "pos": list(_POSITIONS[node_id]),
                "size": [320, 130],
                "flags": {},
                "order": node_id - 1,
                "mode": 0,
                "inputs": [
                    {"name": n, "type": t, "link": in_links[(node_id, n)]} for n, t in inputs_spec
                ],
                "outputs": [
                    {
                        "name": t,
                        "type": t,
                        "links": out_links.get((node_id, slot), []),
                        "slot_index": slot,
                    }
                    for slot, t in enumerate(outputs_spec)
                ],
                "properties": {"Node name for S&R": cls},
                "widgets_values": values,
            }
        )
    return {
        "last_node_id": len(nodes),
        "last_link_id": len(links),
        "nodes": nodes,
        "links": links,
        "groups": [],
        "config": {},
        "extra": {"likeness": {"lora": o.lora_name, "strength": o.strength}},
        "version": 0.4,
    }


# ---- the user's ComfyUI folder --------------------------------------------------------------


@dataclass
class ComfyFolders:
    root: Path
    loras: Path
    workflows: Path
    unet: str = DEFAULT_UNET
    clip: str = DEFAULT_CLIP
    vae: str = DEFAULT_VAE
    found: tuple[str, ...] = ()  # which of unet / clip / vae were found on disk


def _pick(folders: list[Path], default: str, hints: tuple[str, ...]) -> str | None:
    """The default file name when it exists in one of ``folders``, else the first model file
    whose lower-case name contains every word of one hint (relative, with '/' separators)."""
    files: list[tuple[Path, Path]] = []
    for folder in folders:
        if folder.is_dir():
            files += [(folder, p) for p in sorted(folder.rglob("*.safetensors")) if p.is_file()] + [
                (folder, p) for p in sorted(folder.rglob("*.gguf")) if p.is_file()
            ]
    for folder, p in files:
        if p.name == default:
            return p.relative_to(folder).as_posix()
    for hint in hints:
        for folder, p in files:
            name = p.name.lower().replace("-", "_")
            if all(word in name for word in hint.split()):
                return p.relative_to(folder).as_posix()
    return None


def find_comfyui(root: str | Path) -> ComfyFolders:
    """The folders of a ComfyUI install and the Z-Image model file names it holds (defaults
    where none is found). ``LoraError`` when ``root`` does not look like ComfyUI."""
    root = Path(root).expanduser()
    models = root / "models"
    if not models.is_dir():
        raise LoraError(f"{root} has no models folder: pick the ComfyUI folder itself")
    out = ComfyFolders(root, models / "loras", root / "user" / "default" / "workflows")
    found = []
    unet = _pick(
        [models / "diffusion_models", models / "unet"],
        DEFAULT_UNET,
        ("z_image turbo", "zimage turbo", "z_image"),
    )
    clip = _pick([models / "text_encoders", models / "clip"], DEFAULT_CLIP, ("qwen_3_4b", "qwen3"))
    vae = _pick([models / "vae"], DEFAULT_VAE, ("z_image", "flux ae"))
    for label, value in (("unet", unet), ("clip", clip), ("vae", vae)):
        if value is not None:
            setattr(out, label, value)
            found.append(label)
    out.found = tuple(found)
    return out


def write_json_atomic(data: dict[str, Any], path: Path) -> Path:
    from training.checkpoints import atomic_write_text

    return atomic_write_text(path, json.dumps(data, indent=2) + "\n")


@dataclass
class SendResult:
    lora: Path
    workflow: Path
    copied: bool  # False when an identical file was already there
    notes: list[str]


def _free_workflow_name(folder: Path, stem: str, workflow: dict[str, Any]) -> Path:
    """``<stem>.json``, unless a different workflow (perhaps edited by the user) or a link holds
    that name: then ``<stem> (2).json``, ``<stem> (3).json``... (an identical one is reused)."""
    for n in range(1, 1000):
        path = folder / (f"{stem}.json" if n == 1 else f"{stem} ({n}).json")
        if path.is_symlink():
            continue
        if not path.exists():
            return path
        try:
            if json.loads(path.read_text(encoding="utf-8")) == workflow:
                return path
        except (OSError, ValueError):
            pass
    raise LoraError(f"too many workflows named {stem} in {folder}")


def send_to_comfyui(
    lora_path: str | Path, comfy: ComfyFolders, options: WorkflowOptions
) -> SendResult:
    """Copy the LoRA into ``models/loras`` (never over a different file of the same name) and
    write the UI workflow into the user's workflows folder (never over a different one)."""
    src = Path(lora_path)
    if not src.is_file():
        raise LoraError(f"{src} is not a file")
    comfy.loras.mkdir(parents=True, exist_ok=True)
    comfy.workflows.mkdir(parents=True, exist_ok=True)
    dest = comfy.loras / src.name
    copied = True
    if dest.is_symlink():
        raise LoraError(f"{dest} is a symbolic link: remove it or rename the LoRA")
    if dest.exists():
        if not filecmp.cmp(src, dest, shallow=False):
            raise LoraError(
                f"{dest} exists and is a different file: rename the LoRA before sending it"
            )
        copied = False
    else:
        tmp = dest.with_name(f".{dest.name}.tmp")
        try:
            shutil.copyfile(src, tmp)
            tmp.replace(dest)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise LoraError(f"cannot copy the LoRA to {dest}: {exc.strerror or exc}") from exc
    options.lora_name = dest.name
    options.unet, options.clip, options.vae = comfy.unet, comfy.clip, comfy.vae
    text = ui_workflow(options)
    workflow = _free_workflow_name(comfy.workflows, src.stem, text)
    write_json_atomic(text, workflow)
    missing = [k for k in ("unet", "clip", "vae") if k not in comfy.found]
    notes = [f"no {k} model found in {comfy.root}: the workflow names the default" for k in missing]
    return SendResult(dest, workflow, copied, notes)
