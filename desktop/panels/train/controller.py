"""``TrainController``: the Train page's logic, Qt-free, tested against a mock view.

It fills the new-run form from what the app knows (dataset settings, image count and kohya
repeats, the GPU, the models on disk, the balance analysis), runs the launch gate, writes the
config (the YAML ``likeness train`` takes) and starts, resumes or reattaches through the
trainer client (``TrainerProcess``: ``start``, ``attach``, ``send``, ``detach``). Events from the
client come in through :meth:`on_event` and are folded into a ``RunHistory`` the view draws.
"""

from __future__ import annotations

import datetime as _dt
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from desktop.panels.train.form import RunForm
from training import protocol as p
from training.machine import (
    NO_GPU_MESSAGE,
    Gpu,
    ModelSearch,
    preset_for_vram,
    suggest_repeats,
    suggest_steps,
)
from training.run_history import RunHistory, load_history, runs_for_dataset, summary_row

log = logging.getLogger(__name__)

KOHYA = re.compile(r"^(\d+)_")
PLACES = (
    ("kitchen", "in a sunlit kitchen"),
    ("street", "on a city street at night, neon light"),
    ("beach", "on a beach at golden hour"),
    ("forest", "on a forest path, overcast light"),
    ("office", "in an office, window light"),
)
TIER_PROMPTS = {
    "close-up": ("close-up portrait", ("three-quarter view, soft window light", "in profile")),
    "medium": ("medium shot", ("sitting at a cafe table, looking away", "arms crossed")),
    "full-body": (
        "full body",
        ("walking, seen from behind, looking over the shoulder", "standing"),
    ),
}


class TrainViewProtocol(Protocol):
    def show_runs(self, rows: list[dict[str, Any]]) -> None: ...
    def show_form(self, form: RunForm, notes: list[str]) -> None: ...
    def show_live(self, hist: RunHistory) -> None: ...
    def add_sample(self, ev: p.SampleSaved) -> None: ...
    def add_checkpoint(self, ev: p.CheckpointSaved) -> None: ...
    def show_error(self, ev: p.Error, can_lower_preset: bool) -> None: ...
    def show_interrupted(self, message: str) -> None: ...
    def ask_gate(self, reasons: list[Any], notes: list[str]) -> bool: ...
    def ask_existing(self, name: str) -> str: ...  # resume / overwrite / rename / cancel
    def show_message(self, text: str) -> None: ...


@dataclass
class DatasetFacts:
    """What the form needs to know about the open dataset."""

    root: Path
    name: str
    trigger: str
    images: int  # active (not excluded)
    repeats: int  # mean kohya repeats (1 when the folders carry none)
    kohya: bool
    tiers: dict[str, int] = field(default_factory=dict)
    captions: list[str] = field(default_factory=list)


def dataset_facts(workspace: Any, analysis: Any = None) -> DatasetFacts:
    root = Path(workspace.root)
    excluded = workspace.excluded()
    active = [i.rel for i in workspace.items if i.rel not in excluded]
    reps = []
    for rel in active:
        top = rel.split("/", 1)[0] if "/" in rel else ""
        m = KOHYA.match(top)
        reps.append(int(m.group(1)) if m else 1)
    kohya = any(r != 1 for r in reps)
    tiers: dict[str, int] = {}
    for img in getattr(analysis, "active", None) or []:
        tier = getattr(img, "tier", None)
        if tier:
            tiers[tier] = tiers.get(tier, 0) + 1
    captions = [workspace.caption(r) for r in active[:500] if workspace.has_caption(r)]
    return DatasetFacts(
        root=root,
        name=root.name,
        trigger=workspace.settings().trigger,
        images=len(active),
        repeats=round(sum(reps) / len(reps)) if reps else 1,
        kohya=kohya,
        tiers=tiers,
        captions=captions,
    )


def stretch_prompts(trigger: str, tiers: dict[str, int], captions: list[str]) -> list[str]:
    """Sample prompts across all three tiers, poses and places the dataset lacks first; each
    starts with the trigger."""
    text = " ".join(captions).lower()
    places = [p for key, p in PLACES if key not in text] + [p for key, p in PLACES if key in text]
    order = sorted(TIER_PROMPTS, key=lambda t: tiers.get(t, 0))  # the rarest tier first
    out = []
    for i, tier in enumerate(order):
        shot, poses = TIER_PROMPTS[tier]
        for j, pose in enumerate(poses):
            place = places[(2 * i + j) % len(places)]
            out.append(f"{trigger}, {shot}, {pose}, {place}")
    out.append(f"{trigger}, close-up portrait, laughing, studio light, plain background")
    return out


def form_defaults(
    facts: DatasetFacts,
    *,
    training_folder: Path,
    gpu: Gpu | None,
    models: ModelSearch | None,
) -> tuple[RunForm, list[str]]:
    """The new-run form filled from the dataset, the GPU and the models found, plus notes."""
    from training.presets import default_config

    notes: list[str] = []
    trigger = facts.trigger or re.sub(r"[^a-z0-9]", "", facts.name.lower())[:8] or "sks"
    if not facts.trigger:
        notes.append(f"no trigger in the dataset settings: using {trigger!r}")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", facts.name).lstrip("._-") or "lora"
    repeats = facts.repeats if facts.kohya else suggest_repeats(facts.images)
    steps = suggest_steps(facts.images, repeats)
    preset = preset_for_vram(gpu.vram_gb if gpu else None)
    notes.append(f"GPU: {gpu.describe()}, preset {preset}" if gpu else NO_GPU_MESSAGE)
    dataset = {} if facts.kohya else {"repeats": repeats}
    sections: dict[str, Any] = {
        "training_folder": str(training_folder),
        "train": {"steps": steps},
        "save": {"every": 250},
        "sample": {"every": 250, "prompts": stretch_prompts(trigger, facts.tiers, facts.captions)},
    }
    if gpu is None:
        sections["device"] = "cpu"
    model: dict[str, Any] = {}
    if models is not None:
        if models.hub_snapshot is None and models.comfy_complete:
            model = {"source": "single_file", "transformer_file": str(models.comfy["transformer"])}
            for part in ("text_encoder", "vae"):
                if part in models.comfy:
                    model[f"{part}_file"] = str(models.comfy[part])
            notes.append(f"model: ComfyUI files ({models.comfy['transformer'].name})")
        elif models.hub_snapshot is not None:
            notes.append(f"model: Hugging Face cache ({models.hub_snapshot})")
        notes.extend(f"missing: {m}" for m in models.missing)
    if model:
        sections["model"] = model
    cfg = default_config(name, trigger, [facts.root], preset=preset, **sections)
    form = RunForm.from_config(cfg)
    if dataset:
        form.set("datasets[0].repeats", dataset["repeats"])
    return form, notes


class TrainController:
    def __init__(self, view: TrainViewProtocol, client: Any) -> None:
        self.view = view
        self.client = client
        self.training_folder: Path | None = None
        self.dataset: Path | None = None
        self.hist: RunHistory | None = None
        self.config_path: Path | None = None
        self.rows: list[dict[str, Any]] = []

    # -- runs list --------------------------------------------------------------------------
    def open_dataset(self, dataset: Path, training_folder: Path) -> list[RunHistory]:
        """List this dataset's runs; reattach to one that is still running."""
        self.dataset, self.training_folder = Path(dataset), Path(training_folder)
        runs = runs_for_dataset(self.training_folder, self.dataset)
        self.rows = [summary_row(h) for h in runs]
        self.view.show_runs(self.rows)
        live = next((h for h in runs if h.status() == "running"), None)
        if live is not None and self.hist is None:
            self.attach(live.run_dir)
        return runs

    def refresh_runs(self) -> None:
        if self.dataset is not None and self.training_folder is not None:
            runs = runs_for_dataset(self.training_folder, self.dataset)
            self.rows = [summary_row(h) for h in runs]
            self.view.show_runs(self.rows)

    def show_run(self, run_dir: Path) -> RunHistory:
        """A finished / stopped / interrupted run with its whole history."""
        hist = load_history(run_dir)
        self._show_history(hist)
        return hist

    def attach(self, run_dir: Path) -> None:
        self.hist = RunHistory(name=Path(run_dir).name, run_dir=Path(run_dir))
        self.config_path = self._config_for(Path(run_dir))
        self.client.attach(Path(run_dir))

    def _show_history(self, hist: RunHistory) -> None:
        self.hist = hist
        self.config_path = self._config_for(hist.run_dir)
        self.view.show_live(hist)
        for step in sorted(hist.samples):
            for ev in hist.samples[step].values():
                self.view.add_sample(ev)
        for ev in hist.checkpoints:
            self.view.add_checkpoint(ev)
        status = hist.status()
        if status == "interrupted":
            self.view.show_interrupted(
                "the trainer of this run is gone (crash, kill or power loss)"
            )
        elif status == "failed" and hist.error is not None:
            self.view.show_error(hist.error, hist.error.code == "out_of_memory")

    def _config_for(self, run_dir: Path) -> Path:
        beside = run_dir.parent / f"{run_dir.name}.yaml"
        return beside if beside.is_file() else run_dir / "config.yaml"

    # -- starting ---------------------------------------------------------------------------
    def start(self, form: RunForm, *, gate: Any = None) -> bool:
        """Validate, gate, handle an existing run, write the config and start the trainer.
        ``gate``: a ``curation.gate.GateResult`` for the dataset (None: not checked here)."""
        if form.validate() or form.config is None:
            self.view.show_message("fix the fields marked in red first")
            return False
        header = ""
        if gate is not None and not gate.ok:
            if not self.view.ask_gate(gate.reasons, gate.notes):
                return False
            when = _dt.datetime.now().isoformat(timespec="seconds")
            lines = [f"gate override: trained anyway at {when}; reasons:"]
            lines += [f"  - {r.line()}" for r in gate.reasons]
            header = "\n".join(lines)
        cfg = form.config
        resume = overwrite = False
        if _has_run(cfg.run_dir, cfg.name):
            choice = self.view.ask_existing(cfg.name)
            if choice == "resume":
                resume = True
            elif choice == "overwrite":
                overwrite = True
            else:  # rename / cancel: the view changes the name and the user starts again
                return False
        path = self.write_config(form, header)
        return self._launch(path, cfg.run_dir, resume=resume, overwrite=overwrite)

    def write_config(self, form: RunForm, header: str = "") -> Path:
        from training.config_docs import commented_yaml
        from training.config_ops import config_to_dict
        from training.fileio import atomic_write_text

        assert form.config is not None
        path = form.config.training_folder / f"{form.config.name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        top = "Likeness training run config (written by the Train tab); train: likeness train FILE"
        text = commented_yaml(config_to_dict(form.config), header=f"{top}\n{header}".strip())
        return atomic_write_text(path, text)

    def resume(self) -> bool:
        if self.hist is None or self.config_path is None:
            return False
        return self._launch(self.config_path, self.hist.run_dir, resume=True)

    def _launch(
        self, config: Path, run_dir: Path, *, resume: bool, overwrite: bool = False
    ) -> bool:
        if resume:  # the curve, samples and checkpoints so far stay; new events go on top
            hist = load_history(run_dir)
            hist.error, hist.done, hist.ended = None, None, False
        else:
            hist = RunHistory(name=run_dir.name, run_dir=run_dir)
        self.hist = hist
        self.config_path = config
        self.view.show_live(hist)
        for step in sorted(hist.samples):
            for ev in hist.samples[step].values():
                self.view.add_sample(ev)
        for ev in hist.checkpoints:
            self.view.add_checkpoint(ev)
        return bool(self.client.start(config, run_dir, resume=resume, overwrite=overwrite))

    def lower_preset_and_resume(self) -> bool:
        """After ``out_of_memory``: NF4 for the transformer and text encoder, the largest
        resolution dropped; resume from the last state (or start again when there is none)."""
        from training.config import load_config
        from training.config_ops import save_config

        if self.hist is None or self.config_path is None:
            return False
        cfg = load_config(self.config_path)
        data = cfg.model_dump(mode="json")
        data["model"]["quantize_transformer"] = "nf4"
        data["model"]["quantize_text_encoder"] = "nf4"
        for ds in data["datasets"]:
            if len(ds["resolutions"]) > 1:
                ds["resolutions"] = sorted(ds["resolutions"])[:-1]
        from training.config import validate_config

        save_config(validate_config(data, source=str(self.config_path)), self.config_path)
        resume = self.hist.newest_state() is not None
        return self._launch(self.config_path, self.hist.run_dir, resume=resume)

    # -- commands ---------------------------------------------------------------------------
    def command(self, name: str) -> bool:
        ok = bool(self.client.send(name))
        if not ok:
            self.view.show_message(f"could not send {name!r} to the trainer")
        return ok

    # -- events -----------------------------------------------------------------------------
    def on_event(self, ev: p.Event) -> None:
        if self.hist is None:
            return
        self.hist.apply(ev)
        if isinstance(ev, p.SampleSaved):
            self.view.add_sample(ev)
        elif isinstance(ev, p.CheckpointSaved):
            self.view.add_checkpoint(ev)
        elif isinstance(ev, p.Error):
            self.view.show_error(ev, ev.code == "out_of_memory")
        self.view.show_live(self.hist)
        if (
            ev.name in p.TERMINAL_EVENTS
            or isinstance(ev, p.Started | p.CheckpointSaved)
            or (isinstance(ev, p.Step) and ev.step % 10 == 0)
        ):
            self.update_current_row()

    def on_interrupted(self, message: str) -> None:
        self.view.show_interrupted(message)
        self.update_current_row(alive=False)

    def update_current_row(self, alive: bool | None = None) -> None:
        """The runs table with the current run's row from memory (no disk reads: this runs
        while events stream); a run not listed yet is added on top."""
        if self.hist is None:
            return
        if alive is None:
            alive = not self.hist.ended
        row = summary_row(self.hist, alive=alive)
        old = self.rows
        if self.hist.started_at is None:
            prev = next((r for r in old if r["name"] == row["name"]), None)
            row["started"] = prev["started"] if prev else time.time()
        if row["started"] is not None:
            row["duration_s"] = max(0.0, time.time() - row["started"])
        self.rows = [row] + [r for r in old if r["name"] != row["name"]]
        self.view.show_runs(self.rows)


def _has_run(run_dir: Path, name: str) -> bool:
    """Checkpoints, a final LoRA or a state of ``name`` (what makes the trainer say run_exists)."""
    try:
        names = [e.name for e in run_dir.iterdir()]
    except OSError:
        return False
    return any(n.startswith(name) and n.endswith(".safetensors") for n in names) or (
        (run_dir / "state").is_dir()
    )
