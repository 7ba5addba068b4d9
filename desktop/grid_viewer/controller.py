"""The checkpoint grid viewer's controller: no Qt, tested against a mock view.

Rows = checkpoints (and the base / comparison rows), columns = prompts, one seed and strength
at a time. It reads the grid folder (``training.grid.rank.read_grid``), the scores written by
``likeness rank`` (``scores.json``) and the marks (``marks.json``), and asks the view to show
cells as their PNGs appear (``refresh``, called on a timer while a grid renders).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

MAX_COMPARE = 4


class GridViewerView(Protocol):
    def show_layout(
        self,
        rows: Sequence[str],
        prompts: Sequence[str],
        strengths: Sequence[float],
        seeds: Sequence[int],
    ) -> None: ...
    def show_cell(
        self, row: int, col: int, path: Path | None, badge: str, mark: str | None
    ) -> None: ...
    def show_current(self, row: int, col: int, info: str) -> None: ...
    def show_compare(self, paths: Sequence[Path]) -> None: ...
    def show_curves(self, series: dict[str, list[tuple[int, float]]]) -> None: ...
    def show_message(self, text: str, error: bool = False) -> None: ...


class GridViewerController:
    def __init__(self, view: GridViewerView, grid_dir: str | Path):
        self.view = view
        self.grid_dir = Path(grid_dir)
        self.rows: list[dict[str, Any]] = []
        self.prompts: list[str] = []
        self.strengths: list[float] = [1.0]
        self.seeds: list[int] = [42]
        self.strength = 1.0
        self.seed = 42
        self.row = self.col = 0
        self.marks: dict[str, str] = {}
        self.cell_scores: dict[str, dict[str, Any]] = {}
        self.ckpt_scores: list[dict[str, Any]] = []
        self.compare: list[Path] = []
        self.trigger = ""
        self._shown: dict[tuple[int, int], tuple] = {}

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> None:
        from training.grid import plan
        from training.grid.pick import read_marks
        from training.grid.rank import read_grid

        rows, prompts, cells = read_grid(self.grid_dir)
        manifest = plan.read_manifest(self.grid_dir)
        self.rows = rows
        self.prompts = [p.text for p in prompts]
        self.trigger = str(manifest.get("trigger") or "")
        found_strengths = sorted({c["strength"] for c in cells})
        found_seeds = sorted({c["seed"] for c in cells})
        self.strengths = list(manifest.get("strengths") or found_strengths or [1.0])
        self.seeds = list(manifest.get("seeds") or found_seeds or [42])
        self.strength = self.strengths[-1]
        self.seed = self.seeds[0]
        self.marks = read_marks(self.grid_dir)
        self._load_scores()
        self._shown.clear()
        self.view.show_layout([r["name"] for r in rows], self.prompts, self.strengths, self.seeds)
        self.view.show_curves(self.curves())
        self.refresh()
        self.select(0, 0)

    def _load_scores(self) -> None:
        path = self.grid_dir / "scores.json"
        self.cell_scores, self.ckpt_scores = {}, []
        if not path.is_file():
            return
        try:
            data = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError) as exc:
            self.view.show_message(f"scores.json cannot be read: {exc}", error=True)
            return
        self.cell_scores = {c["file"]: c for c in data.get("cells", []) if "file" in c}
        self.ckpt_scores = list(data.get("checkpoints", []))

    # -- cells -------------------------------------------------------------------------------
    def cell_file(self, row: int, col: int, strength: float | None = None) -> str:
        from training.grid.plan import strength_label

        r = self.rows[row]
        s = 0.0 if r.get("kind") == "base" else (self.strength if strength is None else strength)
        return f"{r['name']}/{col}_{self.seed}_s{strength_label(s)}.png"

    def badge(self, rel: str) -> str:
        s = self.cell_scores.get(rel)
        if not s:
            return ""
        bits = []
        if s.get("identity") is not None:
            bits.append(f"id {s['identity']:.2f}")
        elif s.get("faces") == 0:
            bits.append("no face")
        if s.get("copy"):
            bits.append("COPY")
        if s.get("tier_match") is False:
            bits.append(f"tier {s.get('tier') or '?'}")
        return " · ".join(bits)

    def refresh(self) -> int:
        """Show every cell whose state changed (a new PNG, a mark); returns how many."""
        changed = 0
        for r in range(len(self.rows)):
            for c in range(len(self.prompts)):
                rel = self.cell_file(r, c)
                path = self.grid_dir / rel
                present = path.is_file() and not path.is_symlink()
                mtime = path.stat().st_mtime_ns if present else None
                state = (rel, mtime, self.marks.get(rel), self.badge(rel))
                if self._shown.get((r, c)) != state:
                    self._shown[(r, c)] = state
                    self.view.show_cell(r, c, path if present else None, state[3], state[2])
                    changed += 1
        return changed

    def select(self, row: int, col: int) -> None:
        if not self.rows or not self.prompts:
            return
        self.row = max(0, min(row, len(self.rows) - 1))
        self.col = max(0, min(col, len(self.prompts) - 1))
        rel = self.cell_file(self.row, self.col)
        info = f"{self.rows[self.row]['name']} · prompt {self.col}: {self.prompts[self.col]}"
        if self.badge(rel):
            info += f"  [{self.badge(rel)}]"
        self.view.show_current(self.row, self.col, info)

    def move(self, d_row: int, d_col: int) -> None:
        """Up/down: the same prompt at another checkpoint; left/right: the next prompt."""
        self.select(self.row + d_row, self.col + d_col)

    def set_strength(self, strength: float) -> None:
        self.strength = float(strength)
        self.refresh()
        self.select(self.row, self.col)

    def set_seed(self, seed: int) -> None:
        self.seed = int(seed)
        self.refresh()
        self.select(self.row, self.col)

    def toggle_mark(self, mark: str) -> None:
        from training.grid.pick import set_mark

        rel = self.cell_file(self.row, self.col)
        new = None if self.marks.get(rel) == mark else mark
        try:
            self.marks = set_mark(self.grid_dir, rel, new)
        except OSError as exc:
            self.view.show_message(f"cannot save the mark: {exc}", error=True)
            return
        self.refresh()

    def toggle_compare(self) -> None:
        path = self.grid_dir / self.cell_file(self.row, self.col)
        if path in self.compare:
            self.compare.remove(path)
        elif path.is_file():
            self.compare.append(path)
            self.compare = self.compare[-MAX_COMPARE:]
        self.view.show_compare(list(self.compare))

    # -- scores and picking --------------------------------------------------------------------
    def curves(self) -> dict[str, list[tuple[int, float]]]:
        out: dict[str, list[tuple[int, float]]] = {
            "identity": [],
            "prompt_obedience": [],
            "copy": [],
        }
        for c in self.ckpt_scores:
            if c.get("step") is None:
                continue
            for key in out:
                if c.get(key) is not None:
                    out[key].append((int(c["step"]), float(c[key])))
        return {k: sorted(v) for k, v in out.items()}

    def checkpoint_path(self, row: int | None = None) -> Path | None:
        r = self.rows[self.row if row is None else row]
        if r.get("kind") == "base":
            return None
        if r.get("path"):
            return Path(r["path"])
        guess = self.grid_dir.parent / f"{r['name']}.safetensors"
        return guess if guess.is_file() else None

    def default_pick_name(self) -> str:
        from training.grid.pick import final_name

        return final_name(self.trigger or "lora")

    def pick(
        self, dest: Path, comfy_loras: Path | None = None, overwrite: bool = False
    ) -> list[Path]:
        from training.grid.pick import pick_checkpoint

        src = self.checkpoint_path()
        if src is None:
            self.view.show_message("this row is not a checkpoint file", error=True)
            return []
        try:
            written = pick_checkpoint(src, dest, comfy_loras=comfy_loras, overwrite=overwrite)
        except (OSError, ValueError) as exc:
            self.view.show_message(str(exc), error=True)
            return []
        self.view.show_message("copied to " + ", ".join(str(p) for p in written))
        return written

    def export(self, out: Path) -> Path | None:
        from training.grid.pick import export_grid_image

        try:
            path = export_grid_image(
                self.grid_dir,
                out,
                rows=[r["name"] for r in self.rows],
                prompts=self.prompts,
                seed=self.seed,
                strength=self.strength,
            )
        except OSError as exc:
            self.view.show_message(f"cannot export the grid: {exc}", error=True)
            return None
        self.view.show_message(f"grid exported to {path}")
        return path
