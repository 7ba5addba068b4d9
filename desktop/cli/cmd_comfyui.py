"""``likeness comfyui-workflow``: a ComfyUI Z-Image-Turbo workflow that loads a LoRA.

    likeness comfyui-workflow LORA OUT.json [--strength 0.8] [--prompt "..."] [--format both]
    likeness comfyui-workflow LORA --send [--comfyui DIR]

``--format ui`` (default) is the file you drag onto ComfyUI's canvas; ``api`` is what its
``/prompt`` endpoint takes; ``both`` writes OUT.json and OUT.api.json. With a ComfyUI folder
(``--comfyui``, else ``LIKENESS_COMFYUI_DIR``, else the app's Preferences) the workflow names
the model files found there; ``--send`` copies the LoRA into ``models/loras`` and the workflow
into ``user/default/workflows``.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from desktop.cli.common import err


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "comfyui-workflow",
        help="write a ComfyUI workflow for a LoRA (or send both to ComfyUI)",
        description=(__doc__ or "").split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("lora", metavar="LORA")
    p.add_argument("out", nargs="?", metavar="OUT.json")
    p.add_argument("--strength", type=float, default=0.8, help="LoRA strength (default 0.8)")
    p.add_argument("--prompt", help="default: 'a photo of <trigger>' from the LoRA's metadata")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--steps", type=int, default=8, help="Turbo steps (default 8)")
    p.add_argument("--sampler", default="euler", help="euler (default) or res_multistep")
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--height", type=int, default=1024)
    p.add_argument("--format", choices=("ui", "api", "both"), default="ui")
    p.add_argument("--comfyui", metavar="DIR", help="your ComfyUI folder")
    p.add_argument("--send", action="store_true", help="copy the LoRA and workflow into ComfyUI")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_workflow)


def comfyui_dir(explicit: str | None) -> str | None:
    """--comfyui, else LIKENESS_COMFYUI_DIR, else the Preferences' ComfyUI folder."""
    if explicit:
        return explicit
    if os.environ.get("LIKENESS_COMFYUI_DIR"):
        return os.environ["LIKENESS_COMFYUI_DIR"]
    try:
        from desktop.settings import load_preferences

        return load_preferences().comfyui_dir or None
    except Exception:  # noqa: BLE001 - a broken preferences file must not stop the command
        return None


def default_prompt(lora: Path) -> str:
    """'a photo of <trigger>' from the LoRA's metadata, else a neutral prompt."""
    try:
        from safetensors import safe_open

        with safe_open(str(lora), framework="pt") as fh:
            meta = fh.metadata() or {}
    except Exception:  # noqa: BLE001 - the prompt is a convenience; load errors come later
        meta = {}
    trigger = meta.get("likeness.trigger") or meta.get("ss_trigger") or ""
    return f"a photo of {trigger}" if trigger else "a photo of a person"


def cmd_workflow(args) -> int:
    from training.lora.comfyui import (
        WorkflowOptions,
        api_workflow,
        find_comfyui,
        send_to_comfyui,
        ui_workflow,
        write_json_atomic,
    )
    from training.lora.io import check_output
    from training.lora.model import LoraError

    lora = Path(args.lora)
    if not args.out and not args.send:
        err("give OUT.json, or --send to put the LoRA and the workflow into ComfyUI")
        return 2
    try:
        if not lora.is_file() or lora.suffix.lower() != ".safetensors":
            raise LoraError(f"{lora} is not a .safetensors file")
        options = WorkflowOptions(
            lora_name=lora.name,
            strength=args.strength,
            prompt=args.prompt if args.prompt is not None else default_prompt(lora),
            seed=args.seed,
            steps=args.steps,
            sampler=args.sampler,
            width=args.width,
            height=args.height,
        )
        root = comfyui_dir(args.comfyui)
        if args.send and not root:
            raise LoraError("--send needs your ComfyUI folder: --comfyui DIR")
        comfy = find_comfyui(root) if root else None
        if comfy is not None:
            options.unet, options.clip, options.vae = comfy.unet, comfy.clip, comfy.vae
        data: dict[str, Any] = {"written": [], "notes": []}
        if args.out:
            out = Path(args.out)
            targets = []
            if args.format in ("ui", "both"):
                targets.append((out, ui_workflow(options)))
            if args.format in ("api", "both"):
                api_out = out if args.format == "api" else out.with_suffix(".api.json")
                targets.append((api_out, api_workflow(options)))
            for path, _ in targets:
                check_output(path, [lora], args.force)
            for path, workflow in targets:
                write_json_atomic(workflow, path)
                data["written"].append(str(path))
        if args.send and comfy is not None:
            sent = send_to_comfyui(lora, comfy, options)
            data.update(lora=str(sent.lora), workflow=str(sent.workflow), copied=sent.copied)
            data["written"].append(str(sent.workflow))
            data["notes"] += sent.notes
    except LoraError as exc:
        err(str(exc))
        return 1
    except OSError as exc:
        err(f"cannot write the workflow: {exc.strerror or exc}")
        return 1
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        for path in data["written"]:
            print(f"wrote {path}")
        if "lora" in data:
            print(f"{'copied' if data['copied'] else 'already there'}: {data['lora']}")
        for note in data["notes"]:
            print(f"note: {note}")
    return 0
