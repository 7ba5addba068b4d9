"""A fake trainer that speaks the protocol (``docs/trainer-protocol.md``) for the Train tab tests.

Usage (as ``LIKENESS_TRAINER_CMD``): ``python fake_trainer.py run CONFIG [--resume|--overwrite]
[--detached]``. It reads the real config, takes the real run lock, writes events to stdout and
``<run>/events.jsonl``, renders tiny PNG samples, writes checkpoint files and a resumable state
folder, and obeys ``stop`` / ``save`` / ``sample`` from ``<run>/control``.

``FAKE_MODE``: ``normal``; ``oom`` (``out_of_memory`` at step 3); ``crash`` (dies at step 4
without a word, like kill -9); ``burst`` (no sleeping: 20 events a second or more).
``FAKE_STEP_S``: seconds per step (default 0.05); ``FAKE_STEPS`` overrides total steps.

Each step event carries ``items`` (per-image loss) for two of the dataset's images; the image
named by ``FAKE_HARD`` (default: the last image) has 3x the loss. Every command read from the
control file is appended to ``<run>/commands.log``, so tests can see what the trainer received.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path

from PIL import Image

from training.config import load_config
from training.protocol import CONTROL_FILE, EVENTS_FILE, parse_command
from training.runlock import RunLock


def main() -> int:
    args = sys.argv[1:]
    assert args[0] == "run", args
    cfg = load_config(args[1])
    resume = "--resume" in args
    mode = os.environ.get("FAKE_MODE", "normal")
    step_s = float(os.environ.get("FAKE_STEP_S", "0.05"))
    total = int(os.environ.get("FAKE_STEPS", cfg.train.steps))
    run = cfg.run_dir
    run.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run).acquire()
    (run / "config.yaml").write_text(Path(args[1]).read_text())
    events = open(run / EVENTS_FILE, "a", encoding="utf-8")  # noqa: SIM115

    def emit(event: str, **fields) -> None:
        line = json.dumps({"event": event, **fields}) + "\n"
        try:
            sys.stdout.write(line)
            sys.stdout.flush()
        except OSError:
            pass
        events.write(line)
        events.flush()

    start = 0
    states = sorted((run / "state").glob(f"{cfg.name}_*")) if resume else []
    if states:
        start = int(states[-1].name.rsplit("_", 1)[1])
    emit("started", protocol=1, name=cfg.name, run_dir=str(run), device="cpu",
         total_steps=total, start_step=start, resumed=resume)  # fmt: skip
    emit("status", message="loading the model")
    for i in range(1, 4):
        emit("cache_progress", stage="latents", done=i, total=3)
    prompts = cfg.sample.prompts[:3]
    folder = cfg.datasets[0].folder
    images = sorted(
        q.relative_to(folder).as_posix()
        for q in Path(folder).rglob("*")
        if q.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    )
    hard = os.environ.get("FAKE_HARD") or (images[-1] if images else "")
    rng = random.Random(0)

    def items() -> list[dict]:
        out = []
        for image in rng.sample(images, min(2, len(images))):
            t = rng.random()
            loss = (0.05 + 0.5 * t) * (3.0 if image == hard else 1.0)
            out.append({"image": image, "loss": loss, "t": t})
        return out

    def save(step: int) -> None:
        state = run / "state" / f"{cfg.name}_{step:09d}"
        state.mkdir(parents=True, exist_ok=True)
        (state / "state.json").write_text("{}")
        (state / "state.safetensors").write_bytes(b"x")
        path = run / f"{cfg.name}_{step:09d}.safetensors"
        path.write_bytes(b"x")
        emit("checkpoint_saved", step=step, path=str(path), state_path=str(state))

    def sample(step: int) -> None:
        folder = run / "samples" / str(step)
        folder.mkdir(parents=True, exist_ok=True)
        for i, prompt in enumerate(prompts):
            path = folder / f"{i}_{42 + i}.png"
            Image.new("RGB", (64, 64), ((step * 30) % 255, 40 * i, 120)).save(path)
            emit("sample_saved", step=step, index=i, seed=42 + i, prompt=prompt, path=str(path))

    for step in range(start + 1, total + 1):
        if mode == "oom" and step == 3:
            emit("error", code="out_of_memory", details=[],
                 message="the GPU ran out of memory: turn on NF4 or lower the resolution")  # fmt: skip
            return 6
        if mode == "crash" and step == 4:
            os._exit(9)  # no event, no cleanup: like kill -9
        loss = 0.5 / (1 + step * 0.1)
        emit("step", step=step, loss=loss, lr=1e-4, it_s=1 / max(step_s, 1e-3),
             eta_s=(total - step) * step_s, vram_gb=None, items=items())  # fmt: skip
        commands = []
        control = run / CONTROL_FILE
        if control.exists():
            taken = control.with_name(".control.reading")
            os.replace(control, taken)
            commands = [c for c in map(parse_command, taken.read_text().splitlines()) if c]
            taken.unlink()
            with open(run / "commands.log", "a", encoding="utf-8") as log:
                log.writelines(f"{step} {c}\n" for c in commands)
        if step % cfg.sample.every == 0 or "sample" in commands:
            sample(step)
        if step % cfg.save.every == 0 or "save" in commands:
            save(step)
        if "stop" in commands:
            save(step)
            emit("done", step=step, reason="stopped", final_path=None)
            lock.release()
            return 0
        if mode != "burst":
            time.sleep(step_s)
    final = run / f"{cfg.name}.safetensors"
    final.write_bytes(b"x")
    emit("checkpoint_saved", step=total, path=str(final), state_path=None)
    emit("done", step=total, reason="finished", final_path=str(final))
    lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
