"""After the grid: star / reject marks, "use this checkpoint", and the grid as one image.

* Marks live in ``<grid>/marks.json`` (``{cell file: "star" | "reject"}``), written atomically.
* ``pick_checkpoint`` copies a checkpoint byte for byte (its safetensors metadata with it) to
  the final name, ``<trigger>-z-image-turbo.safetensors`` by default, next to the run and
  optionally into ComfyUI's ``models/loras`` folder. Never overwrites unless asked, never writes
  through a symlink (temp file + rename), never reads through one.
* ``export_grid_image`` draws rows x prompts of one seed and strength into one labelled PNG.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from training.fileio import atomic_write_bytes, atomic_write_text, read_bytes

MARKS = "marks.json"
MARK_VALUES = ("star", "reject")


def read_marks(grid_dir: Path) -> dict[str, str]:
    path = Path(grid_dir) / MARKS
    if not path.is_file():
        return {}
    try:
        data = json.loads(read_bytes(path, limit=8 << 20).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): v for k, v in data.items() if v in MARK_VALUES}


def set_mark(grid_dir: Path, cell_file: str, mark: str | None) -> dict[str, str]:
    """Star, reject (``mark``) or clear (None) one cell; returns every mark."""
    if mark is not None and mark not in MARK_VALUES:
        raise ValueError(f"unknown mark {mark!r}")
    marks = read_marks(grid_dir)
    if mark is None:
        marks.pop(cell_file, None)
    else:
        marks[cell_file] = mark
    atomic_write_text(Path(grid_dir) / MARKS, json.dumps(marks, indent=1, sort_keys=True))
    return marks


def final_name(trigger: str) -> str:
    """``<trigger>-z-image-turbo.safetensors`` (the trigger made safe for a file name)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", trigger).strip("._") or "lora"
    return f"{safe}-z-image-turbo.safetensors"


def pick_checkpoint(
    checkpoint: Path,
    dest: Path,
    *,
    comfy_loras: Path | None = None,
    overwrite: bool = False,
) -> list[Path]:
    """Copy ``checkpoint`` to ``dest`` (a file path) and into ``comfy_loras``; returns the
    files written. Raises FileExistsError (not overwritten), FileNotFoundError, OSError."""
    checkpoint, dest = Path(checkpoint), Path(dest)
    if dest.suffix.lower() != ".safetensors":
        raise ValueError(f"{dest.name}: the final name must end in .safetensors")
    data = read_bytes(checkpoint)  # refuses a symlink or a non-regular file
    targets = [dest]
    if comfy_loras is not None:
        if not Path(comfy_loras).is_dir():
            raise FileNotFoundError(f"ComfyUI LoRA folder not found: {comfy_loras}")
        targets.append(Path(comfy_loras) / dest.name)
    for target in targets:
        if (target.exists() or target.is_symlink()) and not overwrite:
            raise FileExistsError(f"{target} already exists: choose another name")
    for target in targets:
        atomic_write_bytes(target, data)
    return targets


def export_grid_image(
    grid_dir: Path,
    out: Path,
    *,
    rows: list[str],
    prompts: list[str],
    seed: int,
    strength: float,
    cell: int = 256,
) -> Path:
    """One PNG: a row per checkpoint, a column per prompt, labelled; missing cells grey."""
    from PIL import Image, ImageDraw, ImageFont

    from training.grid.plan import strength_label

    label_w, label_h = 220, 64
    sheet = Image.new(
        "RGB", (label_w + cell * len(prompts), label_h + cell * len(rows)), (24, 24, 28)
    )
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for c, text in enumerate(prompts):
        x = label_w + c * cell + 4
        draw.text((x, 4), f"{c}: " + _wrap(text, 38, 4), fill=(230, 230, 230), font=font)
    for r, name in enumerate(rows):
        y = label_h + r * cell
        draw.text((6, y + cell // 2 - 6), name, fill=(230, 230, 230), font=font)
        for c in range(len(prompts)):
            path = Path(grid_dir) / name / f"{c}_{seed}_s{strength_label(strength)}.png"
            box = (label_w + c * cell, y)
            if path.is_file() and not path.is_symlink():
                with Image.open(path) as im:
                    scale = (cell - 4) / max(im.width, im.height)
                    size = (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
                    im = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
                    sheet.paste(im, (box[0] + (cell - im.width) // 2, y + (cell - im.height) // 2))
            else:
                draw.rectangle(
                    (box[0] + 2, y + 2, box[0] + cell - 3, y + cell - 3), outline=(80,) * 3
                )
    draw.text(
        (6, 4), f"seed {seed}\nstrength {strength_label(strength)}", fill=(160, 200, 255), font=font
    )
    import io

    buf = io.BytesIO()
    sheet.save(buf, format="PNG")
    atomic_write_bytes(Path(out), buf.getbuffer())
    return Path(out)


def _wrap(text: str, width: int, lines: int) -> str:
    words, out, line = text.split(), [], ""
    for w in words:
        if len(line) + len(w) + 1 > width:
            out.append(line)
            line = w
        else:
            line = f"{line} {w}".strip()
    out.append(line)
    return "\n".join(out[:lines])
