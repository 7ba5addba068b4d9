"""The Train tab's Qt-free controller and form model, against a mock view and a mock client."""

from __future__ import annotations

from pathlib import Path
from unittest.mock import Mock

import yaml

from curation.gate import GateReason, GateResult
from desktop.panels.train.controller import (
    DatasetFacts,
    TrainController,
    TrainViewProtocol,
    form_defaults,
    stretch_prompts,
)
from desktop.panels.train.form import RunForm, advanced_specs, field_specs
from training import protocol as p
from training.config import RunConfig, load_config
from training.machine import Gpu, ModelSearch


def _facts(tmp_path, **kw) -> DatasetFacts:
    base = dict(root=tmp_path / "l3yla", name="l3yla", trigger="l3yla", images=25, repeats=1,
                kohya=False, tiers={"close-up": 20, "medium": 5}, captions=["l3yla, street"])  # fmt: skip
    base.update(kw)
    (tmp_path / "l3yla").mkdir(exist_ok=True)
    return DatasetFacts(**base)


def test_defaults_from_gpu_dataset_and_comfy_models(tmp_path):
    comfy = ModelSearch(comfy={"transformer": tmp_path / "z_image_turbo_bf16.safetensors",
                               "vae": tmp_path / "ae.safetensors"})  # fmt: skip
    form, notes = form_defaults(_facts(tmp_path), training_folder=tmp_path / "runs",
                                gpu=Gpu("RTX 4090", 24.0), models=comfy)  # fmt: skip
    cfg = form.config
    assert cfg is not None and not form.errors
    assert cfg.name == "l3yla" and cfg.trigger == "l3yla" and cfg.device == "auto"
    assert cfg.datasets[0].repeats == 8 and cfg.train.steps == 2000  # 25 images x 8 repeats
    assert cfg.model.source == "single_file" and cfg.model.vae_file.name == "ae.safetensors"
    assert "GPU: RTX 4090 (24 GB), preset 24gb" in notes
    # the rarest tier comes first, every prompt starts with the trigger
    assert cfg.sample.prompts[0].startswith("l3yla, full body")
    assert all(q.startswith("l3yla, ") for q in cfg.sample.prompts)


def test_kohya_folders_keep_their_repeats_and_no_gpu_means_cpu(tmp_path):
    form, notes = form_defaults(_facts(tmp_path, repeats=10, kohya=True, images=15),
                                training_folder=tmp_path / "runs", gpu=None, models=None)  # fmt: skip
    assert form.config.datasets[0].repeats is None and form.config.device == "cpu"
    assert form.config.train.steps == 1500
    assert any("no GPU: training runs on the CPU" in n for n in notes)


def test_prompts_prefer_missing_places():
    prompts = stretch_prompts("t0k", {}, ["t0k at the beach", "t0k in the kitchen"])
    assert "beach" not in prompts[0] and "kitchen" not in prompts[0]
    assert len(prompts) == 7


def test_advanced_is_every_setting_of_the_config_model():
    every = {s.path for s in field_specs()}
    assert {"train.lr", "network.rank", "datasets[0].resolutions", "sample.height"} <= every
    shown = {s.path for s in advanced_specs()}
    assert "name" not in shown and "train.lr" in shown
    leaves = sum(1 for _ in _leaves(RunConfig)) - 1  # datasets[0].folder is the dataset itself
    assert len(shown) + 5 == leaves  # 5 basic fields (name, trigger, steps, save/sample every)
    spec = next(s for s in advanced_specs() if s.path == "model.training_adapter.enabled")
    assert spec.kind == "choice" and spec.choices == (None, True, False) and spec.help


def _leaves(model, prefix=""):
    import typing

    from pydantic import BaseModel

    for name, info in model.model_fields.items():
        ann = info.annotation
        args = [a for a in typing.get_args(ann) if a is not type(None)] or [ann]
        inner = args[0]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            yield from _leaves(inner, f"{prefix}{name}.")
        elif (
            typing.get_origin(ann) is list
            and isinstance(typing.get_args(ann)[0], type)
            and issubclass(typing.get_args(ann)[0], BaseModel)
        ):
            yield from _leaves(typing.get_args(ann)[0], f"{prefix}{name}[0].")
        elif f"{prefix}{name}" not in ("schema_version", "sample.prompts"):
            yield f"{prefix}{name}"


def test_live_validation_names_the_field(tmp_path):
    form, _ = form_defaults(
        _facts(tmp_path), training_folder=tmp_path / "runs", gpu=None, models=None
    )
    assert "train.lr" in form.set("train.lr", -1)
    assert form.error_for("train.lr") and form.config is None
    assert form.set("train.lr", 2e-4) == {}


def _controller(tmp_path):
    view = Mock(spec=TrainViewProtocol)
    client = Mock()
    client.start.return_value = True
    return TrainController(view, client), view, client


def test_gate_refusal_and_override(tmp_path):
    ctl, view, client = _controller(tmp_path)
    form, _ = form_defaults(
        _facts(tmp_path), training_folder=tmp_path / "runs", gpu=None, models=None
    )
    gate = GateResult("d", [GateReason("lint", "identity-leak", "blue eyes in 100%", ("a.png",))])
    view.ask_gate.return_value = False
    assert not ctl.start(form, gate=gate) and not client.start.called
    view.ask_gate.return_value = True
    assert ctl.start(form, gate=gate)
    config, run_dir = client.start.call_args.args
    assert run_dir == tmp_path / "runs" / "l3yla"
    text = Path(config).read_text()
    assert "gate override" in text and "identity-leak: blue eyes in 100% (a.png)" in text
    assert load_config(config).name == "l3yla"  # the YAML `likeness train` reads


def test_existing_run_asks_resume_overwrite_or_rename(tmp_path):
    ctl, view, client = _controller(tmp_path)
    form, _ = form_defaults(
        _facts(tmp_path), training_folder=tmp_path / "runs", gpu=None, models=None
    )
    run = tmp_path / "runs" / "l3yla"
    run.mkdir(parents=True)
    (run / "l3yla_000000250.safetensors").write_bytes(b"x")
    for answer, kwargs in (("resume", {"resume": True, "overwrite": False}),
                           ("overwrite", {"resume": False, "overwrite": True})):  # fmt: skip
        view.ask_existing.return_value = answer
        assert ctl.start(form)
        assert client.start.call_args.kwargs == kwargs
    view.ask_existing.return_value = "rename"
    client.start.reset_mock()
    assert not ctl.start(form) and not client.start.called


def test_events_reach_the_view_and_oom_offers_the_lower_preset(tmp_path):
    ctl, view, client = _controller(tmp_path)
    form, _ = form_defaults(
        _facts(tmp_path), training_folder=tmp_path / "runs", gpu=None, models=None
    )
    ctl.start(form)
    ctl.on_event(
        p.parse_event(
            '{"event": "started", "protocol": 1, "name": "l3yla", "run_dir": "/r", "device": "cpu", "total_steps": 10, "start_step": 0, "resumed": false}'
        )
    )
    ctl.on_event(p.Step(step=1, loss=0.4, lr=1e-4, it_s=1.0, eta_s=9.0))
    ctl.on_event(p.SampleSaved(step=1, index=0, seed=42, prompt="l3yla", path="/s.png"))
    ctl.on_event(p.Error(code="out_of_memory", message="turn on NF4"))
    view.add_sample.assert_called_once()
    view.show_error.assert_called_once()
    assert view.show_error.call_args.args[1] is True
    assert ctl.hist.loss == [(1, 0.4)] and ctl.hist.status(alive=False) == "failed"
    assert ctl.lower_preset_and_resume()
    cfg = yaml.safe_load(ctl.config_path.read_text())
    before = sorted(form.config.datasets[0].resolutions)
    assert cfg["model"]["quantize_transformer"] == "nf4"
    assert cfg["datasets"][0]["resolutions"] == before[:-1]  # the largest dropped
    assert client.start.call_args.kwargs["resume"] is False  # no state yet: starts again
    assert RunForm.from_config(load_config(ctl.config_path)).errors == {}
