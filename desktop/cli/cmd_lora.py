"""``likeness lora ...`` and ``likeness comfyui-workflow``: the LoRA file tools.

    likeness lora inspect FILE [--json]
    likeness lora scale FILE OUT [--strength 0.8] [--layers 0-9=0.5] [--component adaLN=0]
                                 [--preset drop-adaln]
    likeness lora merge A.safetensors[:W] B.safetensors[:W] ... OUT [--rank R]
    likeness lora resize FILE OUT --rank R
    likeness lora convert FILE OUT --to likeness|comfyui|diffusers|musubi
    likeness lora presets
    likeness comfyui-workflow LORA [OUT.json] [--strength 0.8] [--prompt ...] [--api]
                                   [--comfyui DIR [--send]]

Every writing command takes ``--to FORMAT`` (default: the first input's), ``--dtype`` and
``--force`` (replace an existing output; an input is never overwritten), and ``--json``.
The core is ``training.lora``; nothing heavy is imported until a command runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from desktop.cli.common import err

FORMATS = ("likeness", "comfyui", "diffusers", "musubi", "musubi-fused")


def _add_output_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", choices=FORMATS, help="output key layout (default: the input's)")
    p.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), help="default: the input's")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _add_weight_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--strength", type=float, default=1.0, help="global multiplier (default 1)")
    p.add_argument(
        "--layers",
        action="append",
        default=[],
        metavar="SEL=M",
        help="multiplier for a layer range: 0-9=0.5, 29=0, refiners=0 (repeatable)",
    )
    p.add_argument(
        "--component",
        action="append",
        default=[],
        metavar="C=M",
        help="multiplier for a component: adaLN=0, attention.to_v=1.2, ffn=0.8 (repeatable)",
    )
    p.add_argument(
        "--preset", action="append", default=[], help="named weights (see `likeness lora presets`)"
    )


def register(subparsers: Any) -> None:
    lora = subparsers.add_parser(
        "lora",
        help="inspect, re-weight, merge, resize or convert Z-Image LoRA files",
        description=(__doc__ or "").split("\n\n")[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = lora.add_subparsers(dest="lora_command", metavar="TOOL", required=True)

    p = sub.add_parser("inspect", help="format, ranks, metadata and per-block strength")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("scale", help="re-weight globally, per layer range and per component")
    p.add_argument("file")
    p.add_argument("out")
    _add_weight_options(p)
    _add_output_options(p)
    p.set_defaults(func=cmd_scale)

    p = sub.add_parser("merge", help="add LoRAs together (exact, or re-factorised to --rank)")
    p.add_argument("inputs", nargs="+", metavar="FILE[:W]", help="inputs, then OUT last")
    p.add_argument("--rank", type=int, help="SVD to this rank (default: ranks add up, exact)")
    _add_weight_options(p)
    _add_output_options(p)
    p.set_defaults(func=cmd_merge)

    p = sub.add_parser("resize", help="shrink the rank by SVD (reports the energy kept)")
    p.add_argument("file")
    p.add_argument("out")
    p.add_argument("--rank", type=int, required=True)
    _add_output_options(p)
    p.set_defaults(func=cmd_resize)

    p = sub.add_parser("convert", help="rewrite in another trainer's key layout (loss-free)")
    p.add_argument("file")
    p.add_argument("out")
    _add_output_options(p)
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("presets", help="list the named re-weighting presets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_presets)


def _emit(args, data: dict[str, Any], lines: list[str]) -> None:
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    else:
        print("\n".join(lines))


def _weights(args):
    from training.lora.weights import Weights, parse_assignment, preset_weights

    weights = Weights()
    for name in args.preset:
        weights = weights.then(preset_weights(name))
    user = Weights(
        args.strength,
        [parse_assignment(t) for t in args.layers],
        [parse_assignment(t) for t in args.component],
    )
    return weights.then(user)


def _run(func, args) -> int:
    from training.lora.model import LoraError

    try:
        return func(args)
    except LoraError as exc:
        err(str(exc))
        return 1


def cmd_inspect(args) -> int:
    def go(args) -> int:
        from training.lora.inspect import inspect_lora
        from training.lora.io import load_lora

        report = inspect_lora(load_lora(args.file))
        _emit(args, report.to_dict(), report.lines())
        return 0

    return _run(go, args)


def _outputs(args) -> dict[str, Any]:
    return {"fmt": args.to, "dtype": args.dtype, "overwrite": args.force}


def _warn(notes: list[str]) -> None:
    for note in notes:
        print(f"likeness: warning: {note}", file=sys.stderr)


def cmd_scale(args) -> int:
    def go(args) -> int:
        from training.lora.tools import describe, scale_file

        result = scale_file(args.file, args.out, _weights(args), **_outputs(args))
        _warn(result.notes)
        data = describe(result)
        _emit(args, data, [f"wrote {result.out} ({data['modules']} modules, "
                           f"{data['dropped']} dropped)"])  # fmt: skip
        return 0

    return _run(go, args)


def split_weighted(text: str) -> tuple[str, float]:
    """``a.safetensors:0.7`` -> (path, 0.7); a path with no numeric ``:W`` tail has weight 1
    (so ``C:\\loras\\a.safetensors`` stays a path)."""
    path, sep, tail = text.rpartition(":")
    if sep and path:
        try:
            return path, float(tail)
        except ValueError:
            pass
    return text, 1.0


def _energy_line(energy) -> str:
    name, low = energy.worst
    return f"energy kept: mean {energy.mean:.1%}, lowest {low:.1%} ({name})"


def cmd_merge(args) -> int:
    def go(args) -> int:
        from training.lora.model import LoraError
        from training.lora.tools import describe, merge_files

        if len(args.inputs) < 3:
            raise LoraError("merge needs at least two LoRAs and an output: A B OUT")
        *specs, args.out = args.inputs
        inputs = [split_weighted(s) for s in specs]
        result = merge_files(inputs, args.out, _weights(args), rank=args.rank, **_outputs(args))
        _warn(result.notes)
        ranks = ", ".join(map(str, result.lora.ranks()))
        lines = [f"wrote {result.out} (rank {ranks})"]
        if result.energy is not None:
            lines.append(_energy_line(result.energy))
        _emit(args, describe(result), lines)
        return 0

    return _run(go, args)


def cmd_resize(args) -> int:
    def go(args) -> int:
        from training.lora.tools import describe, resize_file

        result = resize_file(args.file, args.out, args.rank, **_outputs(args))
        before = ", ".join(map(str, result.source.ranks())) if result.source else "?"
        lines = [f"wrote {result.out}: rank {before} -> {args.rank}"]
        if result.energy is not None:
            lines.append(_energy_line(result.energy))
        _emit(args, describe(result), lines)
        return 0

    return _run(go, args)


def cmd_convert(args) -> int:
    def go(args) -> int:
        from training.lora.model import LoraError
        from training.lora.tools import convert_file, describe

        if not args.to:
            raise LoraError("convert needs --to likeness|comfyui|diffusers|musubi|musubi-fused")
        result = convert_file(args.file, args.out, args.to, dtype=args.dtype, overwrite=args.force)
        data = describe(result)
        data.update(to=args.to, max_relative_delta_difference=result.max_difference,
                    missing_modules=result.missing)  # fmt: skip
        _emit(args, data, [f"wrote {result.out} ({data['from_format']} -> {args.to}); "
                           f"largest delta difference {result.max_difference:.2e}"])  # fmt: skip
        if not result.identical:
            err(f"the written file does not reproduce the input (difference "
                f"{result.max_difference:.2e}, modules missing: {result.missing[:4]})")  # fmt: skip
            return 1
        return 0

    return _run(go, args)


def cmd_presets(args) -> int:
    from training.lora.weights import load_presets

    presets = load_presets()
    data = {
        k: {"description": v["description"], **v["weights"].to_dict()} for k, v in presets.items()
    }
    _emit(args, data, [f"{k:<14} {v['description']}" for k, v in presets.items()])
    return 0
