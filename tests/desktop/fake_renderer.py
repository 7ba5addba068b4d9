"""A fake grid renderer that speaks the grid protocol (``docs/grid.md``) for the LoRA dialog's
Preview tests.

Usage (as ``LIKENESS_TRAINER_CMD``): ``python fake_renderer.py grid RUN --checkpoints A B
--prompts FILE --no-stretch --seeds S --strengths X --steps N --out DIR``. Like the real one it
refuses a folder without config.yaml and a missing checkpoint (``config_invalid``, exit 2); it
writes one PNG per checkpoint whose colour comes from the file's bytes (an edited LoRA gives
another colour), emits ``started`` / ``grid_progress`` / ``grid_image_saved`` / ``done``, and
obeys ``stop`` on stdin. ``FAKE_GRID_MODE``: ``normal``; ``nomodel`` (``model_not_found``, exit
3); ``slow`` (waits for ``stop`` up to 30 s before the second image). ``FAKE_GRID_LOG``: a file
the argv is written to (JSON).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import threading
import time
from pathlib import Path

from PIL import Image


def emit(event: str, **fields) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def main() -> int:
    if os.environ.get("FAKE_GRID_LOG"):
        Path(os.environ["FAKE_GRID_LOG"]).write_text(json.dumps(sys.argv[1:]))
    p = argparse.ArgumentParser()
    p.add_argument("cmd")
    p.add_argument("run_dir")
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--prompts", required=True)
    p.add_argument("--no-stretch", action="store_true")
    p.add_argument("--seeds", required=True)
    p.add_argument("--strengths", required=True)
    p.add_argument("--steps", default="8")
    p.add_argument("--out", required=True)
    args = p.parse_args()
    assert args.cmd == "grid" and args.no_stretch, args
    mode = os.environ.get("FAKE_GRID_MODE", "normal")
    if not (Path(args.run_dir) / "config.yaml").is_file():
        emit("error", code="config_invalid", message=f"{args.run_dir} is not a run folder")
        return 2
    for c in args.checkpoints:
        if not Path(c).is_file():
            emit("error", code="config_invalid", message=f"checkpoint not found: {c}")
            return 2
    prompts = Path(args.prompts).read_text().splitlines()
    assert len(prompts) == 1, prompts
    grid = Path(args.out)
    grid.mkdir(parents=True, exist_ok=True)
    emit("started", protocol=1, kind="grid", grid_dir=str(grid), device="cpu",
         rows=[Path(c).stem for c in args.checkpoints], prompts=1, cells=2)  # fmt: skip
    if mode == "nomodel":
        emit("error", code="model_not_found", message="base model not found: /models/zimage")
        return 3
    stop = threading.Event()

    def read_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                stop.set()
                return

    threading.Thread(target=read_stdin, daemon=True).start()
    emit("grid_progress", done=0, total=2, skipped=0, row=None)
    for i, c in enumerate(args.checkpoints):
        if mode == "slow" and i == 1:
            stop.wait(30)
        if stop.is_set():
            emit("done", reason="stopped", grid_dir=str(grid))
            return 0
        digest = hashlib.sha256(Path(c).read_bytes()).digest()
        row = Path(c).stem
        out = grid / row / f"0_{args.seeds}_s{float(args.strengths):g}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (256, 320), tuple(digest[:3])).save(out)
        emit("grid_image_saved", row=row, step=None, prompt_index=0, seed=int(args.seeds),
             strength=float(args.strengths), path=str(out), render_s=0.01)  # fmt: skip
        emit("grid_progress", done=i + 1, total=2, skipped=0, row=row)
        time.sleep(0.05)
    emit("done", reason="finished", grid_dir=str(grid))
    return 0


if __name__ == "__main__":
    sys.exit(main())
