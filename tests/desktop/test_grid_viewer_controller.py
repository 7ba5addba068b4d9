"""The grid viewer's controller against a mock view (no Qt), and the pick / export core."""

from __future__ import annotations

import json
from pathlib import Path
from unittest.mock import Mock

import pytest
from PIL import Image

from desktop.grid_viewer.controller import GridViewerController, GridViewerView


@pytest.fixture
def grid(tmp_path) -> Path:
    run = tmp_path / "run"
    g = run / "grid"
    prompts = ["a close-up photo of t0ken", "a full body photo of t0ken"]
    rows = []
    for i, step in enumerate((500, 1000)):
        name = f"tiny_{step:09d}"
        (run / name).parent.mkdir(parents=True, exist_ok=True)
        (run / f"{name}.safetensors").write_bytes(b"lora-%d" % i)
        rows.append(
            {
                "name": name,
                "kind": "checkpoint",
                "step": step,
                "path": str(run / f"{name}.safetensors"),
            }
        )
        for c in range(2):
            for s in ("0.8", "1"):
                (g / name).mkdir(parents=True, exist_ok=True)
                Image.new("RGB", (64, 64), (40 * i, 80 * c, 120)).save(
                    g / name / f"{c}_42_s{s}.png"
                )
    (g / "prompts.txt").write_text("\n".join(prompts) + "\n", "utf-8")
    manifest = {
        "version": 1,
        "trigger": "t0ken",
        "strengths": [0.8, 1.0],
        "seeds": [42],
        "prompts": [{"text": p, "width": 64, "height": 64, "tier": None} for p in prompts],
        "rows": rows,
        "cells": {},
    }
    (g / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    scores = {
        "cells": [
            {
                "file": "tiny_000001000/0_42_s1.png",
                "identity": 0.77,
                "copy": True,
                "tier_match": False,
                "tier": "medium",
                "faces": 1,
            }
        ],
        "checkpoints": [
            {
                "name": r["name"],
                "step": r["step"],
                "identity": 0.5 + i / 10,
                "prompt_obedience": None,
                "copy": 0.0,
            }
            for i, r in enumerate(rows)
        ],
    }
    (g / "scores.json").write_text(json.dumps(scores), "utf-8")
    return g


def test_layout_cells_badges_and_curves(grid):
    view = Mock(spec=GridViewerView)
    ctl = GridViewerController(view, grid)
    ctl.load()
    view.show_layout.assert_called_once_with(
        ["tiny_000000500", "tiny_000001000"], ctl.prompts, [0.8, 1.0], [42]
    )
    assert view.show_cell.call_count == 4
    badges = {(c.args[0], c.args[1]): c.args[3] for c in view.show_cell.call_args_list}
    assert badges[(1, 0)] == "id 0.77 · COPY · tier medium"
    curves = view.show_curves.call_args.args[0]
    assert curves["identity"] == [(500, 0.5), (1000, 0.6)] and curves["prompt_obedience"] == []
    assert ctl.refresh() == 0  # nothing changed


def test_keyboard_moves_strength_marks_and_compare(grid):
    view = Mock(spec=GridViewerView)
    ctl = GridViewerController(view, grid)
    ctl.load()
    ctl.move(1, 0)  # down: the same prompt at the next checkpoint
    assert (ctl.row, ctl.col) == (1, 0)
    ctl.move(0, 1)
    ctl.move(5, 5)  # clamped
    assert (ctl.row, ctl.col) == (1, 1)
    assert "prompt 1" in view.show_current.call_args.args[2]
    view.show_cell.reset_mock()
    ctl.set_strength(0.8)
    assert view.show_cell.call_count == 4
    assert str(view.show_cell.call_args.args[2]).endswith("1_42_s0.8.png")
    ctl.toggle_mark("star")
    assert json.loads((grid / "marks.json").read_text()) == {"tiny_000001000/1_42_s0.8.png": "star"}
    ctl.toggle_mark("star")
    assert json.loads((grid / "marks.json").read_text()) == {}
    for r, c in ((0, 0), (0, 1), (1, 0), (1, 1), (0, 0)):
        ctl.select(r, c)
        ctl.toggle_compare()
    shown = view.show_compare.call_args.args[0]
    assert len(shown) == 3  # the last toggle removed (0, 0) again


def test_cells_appear_as_the_grid_renders(grid):
    view = Mock(spec=GridViewerView)
    (grid / "tiny_000000500" / "1_42_s1.png").unlink()
    ctl = GridViewerController(view, grid)
    ctl.load()
    missing = [c for c in view.show_cell.call_args_list if c.args[2] is None]
    assert [(c.args[0], c.args[1]) for c in missing] == [(0, 1)]
    Image.new("RGB", (64, 64)).save(grid / "tiny_000000500" / "1_42_s1.png")
    assert ctl.refresh() == 1
    assert view.show_cell.call_args.args[2] == grid / "tiny_000000500" / "1_42_s1.png"


def test_pick_copies_the_checkpoint_and_never_overwrites(grid, tmp_path):
    view = Mock(spec=GridViewerView)
    ctl = GridViewerController(view, grid)
    ctl.load()
    ctl.select(1, 0)
    assert ctl.default_pick_name() == "t0ken-z-image-turbo.safetensors"
    comfy = tmp_path / "ComfyUI" / "models" / "loras"
    comfy.mkdir(parents=True)
    dest = tmp_path / "out" / ctl.default_pick_name()
    dest.parent.mkdir()
    written = ctl.pick(dest, comfy)
    assert written == [dest, comfy / dest.name]
    assert dest.read_bytes() == b"lora-1" == (comfy / dest.name).read_bytes()
    assert ctl.pick(dest) == []
    assert "already exists" in view.show_message.call_args.args[0]
    # a symlinked checkpoint is not read through
    link = grid.parent / "tiny_000001000.safetensors"
    link.unlink()
    link.symlink_to(tmp_path / "elsewhere.safetensors")
    (tmp_path / "elsewhere.safetensors").write_bytes(b"secret")
    assert ctl.pick(tmp_path / "out" / "x.safetensors") == []


def test_export_draws_one_labelled_image(grid, tmp_path, screenshot_dir):
    view = Mock(spec=GridViewerView)
    ctl = GridViewerController(view, grid)
    ctl.load()
    out = ctl.export(tmp_path / "sheet.png")
    with Image.open(out) as im:
        assert im.size == (220 + 2 * 256, 64 + 2 * 256)
        im.save(screenshot_dir / "grid_export.png")
