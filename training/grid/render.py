"""Render a checkpoint grid: the base pipeline loads once, each LoRA is swapped in as an adapter.

* The prompts are encoded once (``TextCache``, the trainer's embeddings, on disk between runs),
  then the text encoder is freed; the transformer and the VAE stay loaded for every cell.
* Each row's LoRA is loaded into one adapter slot: the first one is injected, the next ones are
  hot-swapped into the same slot (``hotswap=True``, weights copied, no new layers), falling back
  to delete + load when the shapes differ. Strength is the adapter weight. The training adapter
  is never applied: users run the LoRA on plain Turbo.
* A cell whose PNG exists under the same key (``plan.cell_key``) is skipped; the manifest is
  rewritten after every cell, so a stopped or crashed grid resumes where it was.
* Events (``docs/grid.md``): ``started``, ``status``, ``grid_progress``, ``grid_image_saved``,
  ``warning``, ``done`` (reason ``finished`` / ``stopped``), ``error``. ``stop`` ends it after
  the current cell.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from training.events import EventSink
from training.fileio import atomic_write_bytes, private_dir, sub_dir
from training.grid import plan
from training.grid.plan import GridRow, GridSpec

log = logging.getLogger(__name__)

ADAPTER = "grid"


@dataclass
class Engine:
    """The loaded base pipeline and the prompt embeddings."""

    pipe: Any
    transformer: Any
    device: Any
    dtype: Any
    embeds: list[Any]
    negative: Any
    loaded: str | None = None  # name of the row whose LoRA sits in the adapter slot

    def use_row(self, row: GridRow) -> float:
        """Put ``row``'s LoRA in the adapter slot (or none for the base row); returns seconds."""
        t0 = time.perf_counter()
        if row.path is None:
            if self.loaded is not None:
                self.transformer.set_adapters([ADAPTER], [0.0])
        elif self.loaded != row.name:
            load_lora(self.transformer, row.path, hotswap=self.loaded is not None)
            self.loaded = row.name
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)
        return time.perf_counter() - t0

    def render(
        self, prompt: plan.GridPrompt, index: int, seed: int, strength: float, spec: GridSpec
    ):
        """One cell as a PIL image."""
        import torch

        if self.loaded is not None:
            self.transformer.set_adapters([ADAPTER], [float(strength)])
        guidance = max(0.0, spec.guidance - 1.0)  # diffusers counts from 0 (see sampling.py)
        kwargs: dict[str, Any] = {}
        if guidance > 0:
            kwargs["negative_prompt_embeds"] = [self.negative.to(self.device, self.dtype)]
        with torch.no_grad():
            return self.pipe(
                prompt_embeds=[self.embeds[index].to(self.device, self.dtype)],
                height=prompt.height,
                width=prompt.width,
                num_inference_steps=spec.steps,
                guidance_scale=guidance,
                generator=torch.Generator("cpu").manual_seed(seed),
                output_type="pil",
                **kwargs,
            ).images[0]


def lora_state(path: Path) -> dict:
    """A LoRA file (ComfyUI / diffusers keys, safetensors only) as the transformer's keys."""
    from diffusers import ZImagePipeline

    from training.errors import ModelLoadError

    if Path(path).suffix.lower() != ".safetensors":
        raise ModelLoadError(f"{path}: only .safetensors LoRA files are read (no pickle)")
    try:
        state = ZImagePipeline.lora_state_dict(str(path))
    except Exception as exc:  # noqa: BLE001 - safetensors / diffusers raise many types
        raise ModelLoadError(f"cannot read the LoRA {path}: {exc}") from exc
    if not state:
        raise ModelLoadError(f"{path} holds no LoRA weights")
    return cast(dict, state)  # lora_state_dict returns the dict alone unless asked for alphas


def load_lora(transformer: Any, path: Path, *, hotswap: bool) -> None:
    """Load ``path`` into the adapter slot; hot-swap when one is already there."""
    from diffusers import ZImagePipeline

    state = lora_state(path)
    if hotswap:
        try:
            ZImagePipeline.load_lora_into_transformer(
                dict(state), transformer=transformer, adapter_name=ADAPTER, hotswap=True
            )
            return
        except Exception as exc:  # noqa: BLE001 - a different rank / target set cannot hot-swap
            log.info("hot-swap of %s failed (%s): reloading the adapter", path, exc)
            transformer.delete_adapters(ADAPTER)
    ZImagePipeline.load_lora_into_transformer(state, transformer=transformer, adapter_name=ADAPTER)


def load_engine(cfg: Any, spec: GridSpec, sink: EventSink, device: Any) -> Engine:
    """Load the run's base model on ``device`` and encode the prompts."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, ZImagePipeline

    from training.data import TextCache, cache_root
    from training.model import load_components, load_transformer, quantize_nf4

    on_cpu = device.type == "cpu"
    dtype = (
        torch.float32
        if on_cpu
        else (torch.bfloat16 if cfg.train.precision == "bf16" else torch.float16)
    )
    sink.status(f"loading the model ({cfg.model.name_or_path})")
    vae_dtype = torch.float32 if dtype == torch.float16 else dtype
    comps = load_components(cfg, dtype, with_transformer=False, vae_dtype=vae_dtype, device=device)
    comps.text_encoder.to(device)
    sink.status("encoding the prompts", component="text_encoder", device=str(device))
    texts = TextCache(comps.text_encoder, comps.tokenizer, device, cache_root("text"))
    embeds = [texts.get(p.text) for p in spec.prompts]
    negative = texts.get(spec.negative)
    comps.text_encoder.to("cpu")
    del texts, comps.text_encoder
    if device.type == "cuda":
        torch.cuda.empty_cache()
    transformer, _ = load_transformer(cfg, dtype)
    if cfg.model.quantize_transformer == "nf4" and not on_cpu:
        quantize_nf4(transformer, dtype)
    transformer.to(device).eval()
    comps.vae.to(device)
    pipe = ZImagePipeline(
        scheduler=cast(  # from_config returns the scheduler itself unless asked for kwargs
            FlowMatchEulerDiscreteScheduler,
            FlowMatchEulerDiscreteScheduler.from_config(comps.scheduler.config),
        ),
        vae=comps.vae,
        text_encoder=None,  # pyright: ignore[reportArgumentType] - prompts come pre-encoded
        tokenizer=None,  # pyright: ignore[reportArgumentType]
        transformer=transformer,
    )
    pipe.set_progress_bar_config(disable=True)
    sink.status("model loaded", component="transformer", device=str(device))
    return Engine(pipe, transformer, device, dtype, embeds, negative)


def render_grid(
    spec: GridSpec,
    grid_dir: Path,
    *,
    sink: EventSink,
    load: Callable[[], Engine],
    poll_commands: Callable[[], list[str]] = list,
) -> str:
    """Render every missing cell; returns ``finished`` or ``stopped``.

    ``load`` builds the engine; it is called only when a cell is missing (a complete grid
    never loads the model)."""
    private_dir(grid_dir)
    plan.write_prompts(grid_dir, spec.prompts)
    old = plan.read_manifest(grid_dir)
    digests: dict[str, Any] = dict(old.get("file_digests") or {})
    row_digest = {
        r.name: ("base" if r.path is None else plan.file_digest(r.path, digests)) for r in spec.rows
    }
    done_cells: dict[str, dict[str, Any]] = {}
    todo = []
    for cell in spec.cells():
        row, index, seed, strength = cell
        rel = plan.cell_file(row, index, seed, strength)
        key = plan.cell_key(spec, row_digest[row.name], index, seed, strength)
        previous = (old.get("cells") or {}).get(rel)
        if isinstance(previous, dict) and previous.get("key") == key and (grid_dir / rel).is_file():
            done_cells[rel] = previous
        else:
            todo.append((cell, rel, key))
    total = len(done_cells) + len(todo)
    skipped = len(done_cells)
    sink.emit("grid_progress", done=skipped, total=total, skipped=skipped, row=None)
    plan.write_manifest(grid_dir, plan.manifest_data(spec, done_cells, digests))
    if not todo:
        return "finished"
    engine = load()
    current: str | None = None
    done = skipped
    for (row, index, seed, strength), rel, key in todo:
        if "stop" in poll_commands():
            return "stopped"
        if row.name != current:
            swap_s = engine.use_row(row)
            current = row.name
            sink.status(f"row {row.name}", row=row.name, swap_s=round(swap_s, 3))
        t0 = time.perf_counter()
        image = engine.render(spec.prompts[index], index, seed, strength, spec)
        render_s = time.perf_counter() - t0
        path = grid_dir / rel
        png = io.BytesIO()
        image.save(png, format="PNG")
        atomic_write_bytes(sub_dir(grid_dir, row.name) / path.name, png.getbuffer())
        done_cells[rel] = {
            "key": key,
            "row": row.name,
            "prompt": index,
            "seed": seed,
            "strength": strength,
            "render_s": round(render_s, 3),
        }
        plan.write_manifest(grid_dir, plan.manifest_data(spec, done_cells, digests))
        done += 1
        sink.emit(
            "grid_image_saved",
            row=row.name,
            step=row.step,
            prompt_index=index,
            seed=seed,
            strength=strength,
            path=str(path.resolve()),
            render_s=round(render_s, 3),
        )
        sink.emit("grid_progress", done=done, total=total, skipped=skipped, row=row.name)
    return "finished"
