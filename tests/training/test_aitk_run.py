"""An imported ai-toolkit job trains on the tiny Z-Image; De-Turbo's extras load from elsewhere."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.training.aitk_jobs import ui_job
from tests.training.tiny_zimage import make_dataset, tiny_model_dir

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory)


def test_the_ui_job_trains_with_ai_toolkits_settings(model_dir, tmp_path):
    """The UI's Z-Image job with ai-toolkit's linear schedule, weighted timesteps, the text
    encoder unloaded without cached embeddings (trigger only) and trigger caption dropout."""
    from training.aitk import import_aitk
    from training.config_ops import config_to_dict
    from training.events import ListSink
    from training.runner import run

    job = ui_job()
    proc = job["config"]["process"][0]
    proc.update(training_folder=str(tmp_path / "runs"), device="cpu")
    proc["datasets"][0].update(folder_path=str(make_dataset(tmp_path / "d")), resolution=[256])
    proc["network"].update(linear=4, linear_alpha=4)
    proc["train"].update(steps=3, lr=1e-3, lr_scheduler="linear", unload_text_encoder=True)
    proc["train"]["disable_sampling"] = True
    del proc["model"]["assistant_lora_path"]  # no network: a local model without the adapter
    proc["model"].update(name_or_path=str(model_dir), quantize=False, quantize_te=False)
    path = tmp_path / "job.json"
    path.write_text(json.dumps(job))
    cfg, report = import_aitk(path)
    t = cfg.train
    assert (t.scheduler, t.timestep_sampling, t.caption_source) == (
        "linear_lr", "weighted", "trigger_only",
    )  # fmt: skip
    assert (t.caption_dropout_mode, t.optimizer_args.eps) == ("trigger", 1e-6)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(config_to_dict(cfg)))
    sink = ListSink()
    assert run(config, resume=False, sink=sink) == 0, sink.of("error")
    steps = sink.of("step")
    assert [s["step"] for s in steps] == [1, 2, 3]
    # LinearLR from lr/3 to lr over 3 steps: the rate after step k is lr x (1/3 + 2/3 x k/3)
    for s in steps:
        assert s["lr"] == pytest.approx(1e-3 * (1 / 3 + 2 / 3 * s["step"] / 3))
    assert all(s["loss"] == s["loss"] for s in steps)  # finite, not NaN
    assert (tmp_path / "runs" / cfg.name / f"{cfg.name}.safetensors").is_file()


def test_extras_name_or_path_gives_the_parts_besides_the_transformer(model_dir, tmp_path):
    """De-Turbo: the transformer from one repo, tokenizer/text encoder/VAE from Turbo."""
    from training.config import validate_config
    from training.model import ModelLoadError, load_components

    lean = tmp_path / "de-turbo"
    lean.mkdir()
    shutil.copy(model_dir / "model_index.json", lean / "model_index.json")
    shutil.copytree(model_dir / "transformer", lean / "transformer")
    base = {"name": "x", "trigger": "t0k", "datasets": [{"folder": str(tmp_path)}]}
    model = {"source": "local", "name_or_path": str(lean), "variant": "deturbo"}
    with pytest.raises(ModelLoadError):  # nothing but the transformer in that folder
        load_components(validate_config({**base, "model": model}), torch.float32)
    cfg = validate_config({**base, "model": {**model, "extras_name_or_path": str(model_dir)}})
    comps = load_components(cfg, torch.float32)
    assert comps.description == str(lean)
    assert comps.text_encoder is not None and comps.vae is not None
    assert comps.transformer is not None
