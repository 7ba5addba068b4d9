"""What a checkpoint grid renders and where each cell goes (no torch here).

Layout of a grid folder (``docs/grid.md``)::

    <grid>/prompts.txt                                   one prompt per line (trigger in)
    <grid>/<checkpoint stem>/<prompt index>_<seed>_s<strength>.png
    <grid>/manifest.json                                 rows, prompts, settings, cell keys

Rows are the run's checkpoints (or explicit LoRA files), plus optional comparison rows: the
base model without a LoRA (``base``) and another LoRA file. A cell's key hashes everything
that changes its pixels (the LoRA file's content, the prompt, seed, strength, size, steps,
guidance, the base model), so a rerun skips the cells whose PNG exists under the same key.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from training.fileio import atomic_write_text, read_bytes

MANIFEST = "manifest.json"
PROMPTS_FILE = "prompts.txt"
BASE_ROW = "base"
MANIFEST_VERSION = 1
MAX_PROMPTS_BYTES = 1 << 20
TIER_WORDS = (
    ("close-up", ("close-up", "closeup", "close up", "head and shoulders", "portrait of")),
    ("medium", ("medium shot", "waist up", "waist-up", "upper body", "chest up", "half body")),
    ("full-body", ("full body", "full-body", "full length", "full-length", "head to toe")),
)
_SIZE = re.compile(r"\s*\|\s*(\d{3,4})\s*x\s*(\d{3,4})\s*$")


@dataclass(frozen=True)
class GridPrompt:
    text: str
    width: int = 1024
    height: int = 1024
    tier: str | None = None  # the shot tier the prompt asks for, when it names one


@dataclass(frozen=True)
class GridRow:
    """One row of the grid: a LoRA file (a checkpoint or a comparison LoRA) or the base model."""

    name: str  # folder name in the grid (the file stem, or "base")
    path: Path | None  # None for the base model
    kind: str = "checkpoint"  # "checkpoint", "lora" (comparison) or "base"
    step: int | None = None


@dataclass
class GridSpec:
    rows: list[GridRow]
    prompts: list[GridPrompt]
    strengths: list[float]
    seeds: list[int]
    steps: int = 8
    guidance: float = 1.0  # ai-toolkit convention: 1 = no classifier-free guidance
    negative: str = ""
    base_model: str = ""
    trigger: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def cells(self) -> list[tuple[GridRow, int, int, float]]:
        """(row, prompt index, seed, strength) in render order: row by row, so one LoRA is
        loaded once for all its cells. The base row has one strength (0)."""
        out = []
        for row in self.rows:
            strengths = [0.0] if row.kind == "base" else self.strengths
            for strength in strengths:
                for index in range(len(self.prompts)):
                    for seed in self.seeds:
                        out.append((row, index, seed, strength))
        return out


def tier_of_prompt(text: str) -> str | None:
    """The shot tier a prompt names ("a close-up photo of ..."), or None."""
    low = text.lower()
    for tier, words in TIER_WORDS:
        if any(w in low for w in words):
            return tier
    return None


def strength_label(strength: float) -> str:
    return f"{strength:g}"


def cell_file(row: GridRow, index: int, seed: int, strength: float) -> str:
    """``<row>/<prompt index>_<seed>_s<strength>.png`` relative to the grid folder."""
    return f"{row.name}/{index}_{seed}_s{strength_label(strength)}.png"


def file_digest(path: Path, cache: dict[str, Any] | None = None) -> str:
    """sha256 of a LoRA file; ``cache`` maps path -> [size, mtime_ns, digest] between runs."""
    st = os.stat(path)
    key = str(Path(path).resolve())
    if cache is not None:
        hit = cache.get(key)
        if isinstance(hit, list) and len(hit) == 3 and hit[:2] == [st.st_size, st.st_mtime_ns]:
            return str(hit[2])
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    digest = h.hexdigest()
    if cache is not None:
        cache[key] = [st.st_size, st.st_mtime_ns, digest]
    return digest


def cell_key(spec: GridSpec, row_digest: str, index: int, seed: int, strength: float) -> str:
    """Everything that changes a cell's pixels, hashed."""
    p = spec.prompts[index]
    raw = json.dumps(
        [
            row_digest,
            p.text,
            seed,
            round(float(strength), 4),
            p.width,
            p.height,
            spec.steps,
            spec.guidance,
            spec.negative,
            spec.base_model,
        ]
    )
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def parse_prompt_line(line: str) -> GridPrompt | None:
    """``a photo of t0ken | 832x1216`` -> a prompt with its size; blank and ``#`` lines -> None."""
    text = line.strip()
    if not text or text.startswith("#"):
        return None
    width = height = 1024
    m = _SIZE.search(text)
    if m:
        width, height = int(m.group(1)), int(m.group(2))
        text = text[: m.start()].strip()
    return GridPrompt(text, width, height, tier_of_prompt(text))


def read_prompts_file(path: Path) -> list[GridPrompt]:
    """One prompt per line (optional ``| WIDTHxHEIGHT`` at the end); raises ValueError."""
    text = read_bytes(Path(path), limit=MAX_PROMPTS_BYTES).decode("utf-8", errors="replace")
    prompts = [p for p in (parse_prompt_line(line) for line in text.splitlines()) if p]
    if not prompts:
        raise ValueError(f"{path} holds no prompt (one prompt per line)")
    for p in prompts:
        if p.width % 16 or p.height % 16 or not (256 <= min(p.width, p.height)):
            raise ValueError(
                f"{path}: size {p.width}x{p.height} of '{p.text[:40]}' must be multiples of 16, "
                "at least 256"
            )
    return prompts


def stretch_prompts(trigger: str) -> list[GridPrompt]:
    """The bundled stretch set (``resources/prompts/stretch.yaml``) with the trigger in."""
    import yaml

    from resources import resource_path
    from training.config import with_trigger

    data = yaml.safe_load(resource_path("prompts", "stretch.yaml").read_text("utf-8")) or {}
    out = []
    for item in data.get("prompts", []):
        text = with_trigger(str(item["text"]), trigger)
        width, height = item.get("size", [1024, 1024])
        out.append(
            GridPrompt(text, int(width), int(height), item.get("tier") or tier_of_prompt(text))
        )
    return out


def manifest_data(spec: GridSpec, cells: dict[str, dict[str, Any]], digests: dict) -> dict:
    return {
        "version": MANIFEST_VERSION,
        "base_model": spec.base_model,
        "trigger": spec.trigger,
        "steps": spec.steps,
        "guidance": spec.guidance,
        "negative": spec.negative,
        "strengths": spec.strengths,
        "seeds": spec.seeds,
        "prompts": [asdict(p) for p in spec.prompts],
        "rows": [
            {
                "name": r.name,
                "kind": r.kind,
                "step": r.step,
                "path": str(r.path) if r.path else None,
            }
            for r in spec.rows
        ],
        "cells": cells,
        "file_digests": digests,
        **spec.extra,
    }


def write_manifest(grid_dir: Path, data: dict[str, Any]) -> None:
    atomic_write_text(grid_dir / MANIFEST, json.dumps(data, indent=2, ensure_ascii=False))


def write_prompts(grid_dir: Path, prompts: list[GridPrompt]) -> None:
    lines = [p.text.replace("\n", " ") for p in prompts]
    atomic_write_text(grid_dir / PROMPTS_FILE, "\n".join(lines) + "\n")


def read_manifest(grid_dir: Path) -> dict[str, Any]:
    """The grid's manifest, or {} when there is none or it cannot be read."""
    path = Path(grid_dir) / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(read_bytes(path, limit=64 << 20).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) and data.get("version") == MANIFEST_VERSION else {}
