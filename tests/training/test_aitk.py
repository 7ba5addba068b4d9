"""ai-toolkit job import / export: exact reports of what was not mapped, and round trips."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from training.aitk import export_aitk, import_aitk, import_aitk_dict, save_aitk
from training.config import validate_config
from training.config_errors import ConfigError
from training.config_ops import config_to_dict

FIXTURES = Path(__file__).parent / "fixtures" / "aitk"
P0 = "config.process[0]"


def load_job(name: str) -> dict:
    path = FIXTURES / name
    return (
        json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    )


def test_turbo_job_with_training_adapter():
    cfg, report = import_aitk(FIXTURES / "zit_training_adapter.yaml")
    assert report.unmapped_paths == [
        f"{P0}.sqlite_db_path",
        f"{P0}.performance_log_every",
        f"{P0}.sample.samples[3].seed",
    ]
    assert report.approximated_paths == [f"{P0}.model.qtype", f"{P0}.model.qtype_te"]
    assert report.notes == []
    assert cfg.name == "m4ria_zit_v1" and cfg.trigger == "m4ria" and cfg.device == "cuda"
    assert cfg.training_folder == Path("/home/ana/ai-toolkit/output")
    m = cfg.model
    assert (m.source, m.name_or_path, m.variant) == ("hub", "Tongyi-MAI/Z-Image-Turbo", "turbo")
    assert m.uses_training_adapter and m.training_adapter.path.endswith("adapter_v2.safetensors")
    assert (m.quantize_transformer, m.quantize_text_encoder) == ("nf4", "nf4")
    assert not m.offload_text_encoder and not m.offload_vae
    assert (cfg.network.rank, cfg.network.alpha) == (32, 32.0)
    assert (cfg.save.dtype, cfg.save.every, cfg.save.keep_last) == ("bf16", 250, 12)
    ds = cfg.datasets[0]
    assert ds.folder == Path("/home/ana/datasets/m4ria") and ds.resolutions == [512, 768, 1024]
    assert ds.cache_latents and ds.cache_text_embeddings
    assert ds.repeats == 1  # ai-toolkit's default; it reads no kohya folder names
    t = cfg.train
    assert (t.optimizer, t.lr, t.weight_decay, t.timestep_sampling) == (
        "adamw8bit", 1e-4, 1e-4, "weighted",
    )  # fmt: skip
    assert (t.caption_dropout, t.loss, t.precision, t.ema.enabled) == (0.05, "mse", "bf16", False)
    s = cfg.sample
    assert (s.every, s.steps, s.guidance, s.seed, s.walk_seed, s.skip_first) == (
        250, 8, 1.0, 42, True, True,
    )  # fmt: skip
    assert len(s.prompts) == 4
    assert s.prompts[3] == "m4ria asleep on a train, head against the window, wearing a grey hoodie"


def test_low_vram_job():
    cfg, report = import_aitk(FIXTURES / "low_vram_8gb.yaml")
    assert report.unmapped_paths == [f"{P0}.train.noise_offset"]
    assert report.approximated_paths == [f"{P0}.model.qtype", f"{P0}.model.qtype_te"]
    # linear_alpha has no effect in ai-toolkit; legacy accumulation counts batches as steps
    assert report.as_aitk_paths == [
        f"{P0}.network.linear_alpha", f"{P0}.train.gradient_accumulation_steps",
    ]  # fmt: skip
    assert cfg.datasets[0].resolutions == [512, 768] and cfg.datasets[0].repeats == 10
    assert cfg.datasets[0].folder == Path("datasets/10_k1ra")  # kept as written
    assert (cfg.network.rank, cfg.network.alpha, cfg.save.dtype) == (16, 16.0, "fp16")
    t = cfg.train
    # 1500 batches, every 4th updates the LoRA: 375 updates of one batch, saves every 50
    assert (t.gradient_accumulation, t.steps, t.scheduler, t.warmup_steps) == (
        1, 375, "constant_with_warmup", 25,
    )  # fmt: skip
    assert (cfg.save.every, cfg.sample.every) == (50, 50)
    assert t.caption_source == "captions"  # cached embeddings: the captions train
    assert (t.lr, t.weight_decay, t.caption_dropout, t.max_grad_norm) == (1e-4, 1e-4, 0.1, 1.0)
    m = cfg.model
    assert m.quantize_transformer == "nf4" and m.offload_text_encoder and m.offload_vae
    assert m.training_adapter.path.endswith("adapter_v1.safetensors")
    assert (cfg.sample.width, cfg.sample.height) == (768, 768)
    assert cfg.sample.prompts[0] == "k1ra doing a handstand on a beach, wearing a striped swimsuit"


def test_guide_style_job_with_prompts_list_and_no_arch():
    cfg, report = import_aitk(FIXTURES / "guide_prompts.yaml")
    assert report.unmapped_paths == [f"{P0}.train.weight_decay"]  # ai-toolkit ignores it
    assert report.approximated_paths == [
        f"{P0}.model.adapter_path",  # a repo id -> the adapter file in it
        f"{P0}.model.quantize",  # float8 by default -> NF4
    ]
    assert cfg.model.variant == "turbo" and cfg.model.uses_training_adapter
    assert cfg.model.training_adapter.path == (
        "ostris/zimage_turbo_training_adapter/zimage_turbo_training_adapter_v1.safetensors"
    )
    assert cfg.sample.prompts == [
        "a full body photo of l3yla doing a cartwheel on a lawn, wearing denim overalls",
        "a medium shot photo of l3yla tuning a violin backstage, wearing a velvet blazer",
        "a close-up photo of l3yla with a sly wink, wearing a knitted scarf, snowfall",
    ]
    # no optimizer_params.weight_decay: bitsandbytes AdamW8bit's own default, as in ai-toolkit
    assert cfg.train.weight_decay == 0.01 and cfg.datasets[0].repeats == 1
    assert not cfg.datasets[0].cache_latents and cfg.save.keep_last == 4


def test_json_job_base_model_with_prodigy_and_two_datasets():
    cfg, report = import_aitk(FIXTURES / "base_prodigy.json")
    assert report.unmapped_paths == [
        f"{P0}.datasets[1].caption_ext",
        f"{P0}.train.do_differential_guidance",
        f"{P0}.train.differential_guidance_scale",
        "meta.author",
    ]
    assert report.approximated_paths == [f"{P0}.datasets[1].caption_dropout_rate"]
    assert cfg.model.variant == "base" and not cfg.model.uses_training_adapter
    assert cfg.model.name_or_path == "Tongyi-MAI/Z-Image"
    assert (cfg.model.quantize_transformer, cfg.model.quantize_text_encoder) == ("none", "none")
    t = cfg.train
    assert (t.optimizer, t.lr, t.weight_decay, t.optimizer_args.d0) == ("prodigy", 1.0, 0.01, 1e-4)
    a = t.optimizer_args
    assert (a.eps, a.use_bias_correction, a.safeguard_warmup) == (1e-6, True, False)
    assert (t.scheduler, t.timestep_sampling, t.batch_size) == ("cosine", "uniform", 2)
    assert (t.ema.enabled, t.ema.decay, t.caption_dropout) == (True, 0.999, 0.05)
    assert cfg.network.dropout == 0.05
    assert [d.repeats for d in cfg.datasets] == [12, 8]
    assert [d.resolutions for d in cfg.datasets] == [[1024], [768, 1024]]
    assert (cfg.sample.negative, cfg.sample.guidance, cfg.sample.steps) == (
        "blurry, lowres",
        4.0,
        30,
    )
    assert not cfg.sample.walk_seed and cfg.sample.seed == 1234


@pytest.mark.parametrize(
    "name",
    ["zit_training_adapter.yaml", "low_vram_8gb.yaml", "guide_prompts.yaml", "base_prodigy.json"],
)
def test_import_export_import_round_trip(name, tmp_path):
    cfg, _ = import_aitk(FIXTURES / name)
    job, _notes = export_aitk(cfg)
    again, report = import_aitk_dict(copy.deepcopy(job))
    assert again == cfg
    assert report.unmapped == []  # an exported job maps completely
    for out in (tmp_path / "job.yaml", tmp_path / "job.json"):
        save_aitk(cfg, out)
        assert import_aitk(out)[0] == cfg


def test_export_writes_ai_toolkit_vocabulary():
    cfg, _ = import_aitk(FIXTURES / "low_vram_8gb.yaml")
    job, notes = export_aitk(cfg)
    assert job["job"] == "extension" and job["config"]["name"] == "k1ra_lowvram"
    proc = job["config"]["process"][0]
    assert proc["type"] == "diffusion_trainer" and proc["trigger_word"] == "k1ra"
    assert proc["network"] == {"type": "lora", "linear": 16, "linear_alpha": 16}
    assert proc["save"] == {"dtype": "fp16", "save_every": 50, "max_step_saves_to_keep": 10}
    assert proc["datasets"][0]["resolution"] == [512, 768]
    assert proc["datasets"][0]["num_repeats"] == 10
    assert proc["train"]["lr_scheduler_params"] == {"num_warmup_steps": 25}
    assert proc["model"]["arch"] == "zimage:turbo" and proc["model"]["quantize"] is True
    assert proc["sample"]["samples"][1] == {
        "prompt": "a close-up photo of k1ra squinting into the sun, wearing a straw hat"
    }
    assert "likeness" not in job["meta"]  # everything fits ai-toolkit's own keys
    assert proc["model"]["qtype"] == "qfloat8"  # ai-toolkit has no NF4: its own default
    assert [n.split(":")[0] for n in notes] == [
        "NF4 quantisation of the transformer", "NF4 quantisation of the text encoder",
    ]  # fmt: skip


def test_settings_ai_toolkit_lacks_travel_in_meta(tmp_path):
    cfg = validate_config(
        {
            "name": "leyla", "trigger": "l3yla", "device": "auto",
            "datasets": [{"folder": "/d/a", "cache_text_embeddings": False}, {"folder": "/d/b"}],
            "network": {"target_modules": r"^layers\.\d+\.attention\.to_[qkv]$"},
            "train": {"timestep_sampling": "shift", "timestep_shift": 2.0, "seed": 7},
            "model": {
                "source": "single_file", "transformer_file": "/m/zit.safetensors",
                "vae_file": "/m/ae.safetensors", "offload_vae": True, "offload_text_encoder": False,
            },
        }
    )  # fmt: skip
    job, notes = export_aitk(cfg)
    extras = job["meta"]["likeness"]
    assert extras == {
        "device": "auto",
        "model.vae_file": "/m/ae.safetensors",
        "network.target_modules": r"^layers\.\d+\.attention\.to_[qkv]$",
        "train.timestep_shift": 2.0,
        "train.seed": 7,
        "datasets[0].cache_text_embeddings": False,
        "datasets[0].repeats": None,  # kohya folder names: ai-toolkit reads none
        "datasets[1].repeats": None,
        "model.offload_text_encoder": False,  # memory only; ai-toolkit has no such key
        "sample.add_trigger": True,  # the written prompts carry the trigger already
        "train.caption_dropout_mode": "empty",  # ai-toolkit drops captions to the trigger
        "train.optimizer_args.eps": None,  # 1e-8; ai-toolkit always uses 1e-6
    }
    assert any("target-module regex" in n for n in notes)
    assert sum("kohya folder names" in n for n in notes) == 2
    model = job["config"]["process"][0]["model"]  # ai-toolkit loads single files itself
    assert model["name_or_path"] == "/m/zit.safetensors"
    assert model["extras_name_or_path"] == "Tongyi-MAI/Z-Image-Turbo"
    back, report = import_aitk_dict(job)
    assert back == cfg and report.unmapped == []


@pytest.mark.parametrize(
    "where",
    [
        "", "meta", "config", P0, f"{P0}.network", f"{P0}.save", f"{P0}.datasets[0]",
        f"{P0}.train", f"{P0}.train.optimizer_params", f"{P0}.train.ema_config",
        f"{P0}.model", f"{P0}.sample",
    ],
)  # fmt: skip
def test_nothing_is_dropped_silently(where):
    job = load_job("zit_training_adapter.yaml")
    node = job
    for part in filter(None, where.replace("[", ".").replace("]", "").split(".")):
        node = node[int(part)] if part.isdigit() else node[part]
    node["zz_made_up"] = 3
    _, report = import_aitk_dict(job)
    path = f"{where}.zz_made_up" if where else "zz_made_up"
    item = [i for i in report.unmapped if i.path == path]
    assert (
        item and item[0].value == 3 and item[0].reason == "not an ai-toolkit setting Likeness knows"
    )


def test_meaningful_values_of_inert_keys_are_reported():
    job = load_job("zit_training_adapter.yaml")
    proc = job["config"]["process"][0]
    proc["train"]["train_text_encoder"] = True
    proc["datasets"][0]["flip_y"] = True
    proc["datasets"][0]["is_reg"] = True
    proc["save"]["push_to_hub"] = True
    proc["model"]["layer_offloading"] = True
    _, report = import_aitk_dict(job)
    reasons = {i.path: i.reason for i in report.unmapped}
    assert reasons[f"{P0}.train.train_text_encoder"].startswith(
        "Likeness trains only the transformer"
    )
    assert f"{P0}.datasets[0].flip_y" in reasons and f"{P0}.datasets[0].is_reg" in reasons
    assert f"{P0}.save.push_to_hub" in reasons
    assert f"{P0}.model.layer_offloading" in reasons
    assert f"{P0}.model.layer_offloading_transformer_percent" in reasons


def test_samples_win_over_prompts_and_extra_processes_are_reported():
    job = load_job("zit_training_adapter.yaml")
    job["config"]["process"][0]["sample"]["prompts"] = ["[trigger] juggling"]
    job["config"]["process"].append({"type": "sd_trainer"})
    cfg, report = import_aitk_dict(job)
    assert f"{P0}.sample.prompts" in report.unmapped_paths
    assert "config.process[1]" in report.unmapped_paths
    assert len(cfg.sample.prompts) == 4


def test_model_paths_single_file_and_local_folder(tmp_path):
    job = load_job("low_vram_8gb.yaml")
    model = job["config"]["process"][0]["model"]
    model["name_or_path"] = "/comfy/models/diffusion_models/z_image_turbo_bf16.safetensors"
    cfg, report = import_aitk_dict(job)
    assert cfg.model.source == "single_file" and cfg.model.variant == "turbo"
    assert cfg.model.transformer_file == Path(model["name_or_path"])
    assert cfg.model.name_or_path == "Tongyi-MAI/Z-Image-Turbo"
    assert any("a single file" in n for n in report.notes)
    model["name_or_path"] = "./models/Z-Image-Turbo"
    cfg, _ = import_aitk_dict(job, base_dir=tmp_path)
    assert cfg.model.source == "local"
    assert cfg.model.name_or_path == str(tmp_path / "models" / "Z-Image-Turbo")
    assert cfg.datasets[0].folder == tmp_path / "datasets" / "10_k1ra"
    assert cfg.training_folder == tmp_path / "output"


def test_name_placeholder_and_trigger_argument():
    job = load_job("zit_training_adapter.yaml")
    job["config"]["name"] = "[name]"
    job["meta"]["name"] = "m4ria_v2"
    del job["config"]["process"][0]["trigger_word"]
    with pytest.raises(ConfigError) as info:
        import_aitk_dict(job)
    assert "pass --trigger" in str(info.value)
    cfg, _ = import_aitk_dict(job, trigger="m4ria")
    assert cfg.name == "m4ria_v2" and cfg.trigger == "m4ria"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda j: j.update(job="extract"), "job: must be 'extension'"),
        (
            lambda j: j["config"]["process"][0]["model"].update(arch="flux"),
            f"{P0}.model.arch: Likeness trains Z-Image LoRAs only (zimage, zimage:turbo, "
            "zimage:deturbo), got 'flux'",
        ),
        (
            lambda j: j["config"]["process"][0]["network"].update(type="lokr"),
            f"{P0}.network.type: Likeness trains LoRA only, got 'lokr'",
        ),
        (
            lambda j: j["config"]["process"][0]["network"].update(linear=0),
            f"{P0}.network.linear: must be >= 1, got 0 (Likeness setting network.rank)",
        ),
        (
            lambda j: j["config"]["process"][0]["datasets"][0].update(resolution=[500]),
            f"{P0}.datasets[0].resolution[0]: must be a multiple of 16, got 500 (try 496 or 512)"
            " (Likeness setting datasets[0].resolutions[0])",
        ),
        (
            lambda j: j["config"]["process"][0]["train"].update(lr=-1),
            f"{P0}.train.lr: must be > 0, got -1 (Likeness setting train.lr)",
        ),
        (lambda j: j["config"].update(process=[]), "config.process: needs a list"),
    ],
)
def test_bad_jobs_name_the_ai_toolkit_key(edit, expected):
    job = load_job("zit_training_adapter.yaml")
    edit(job)
    with pytest.raises(ConfigError) as info:
        import_aitk_dict(job)
    assert any(line.startswith(expected) for line in info.value.lines()), info.value.lines()


def test_every_problem_is_listed_at_once():
    job = load_job("zit_training_adapter.yaml")
    proc = job["config"]["process"][0]
    proc["network"]["linear"] = 0
    proc["train"]["lr"] = -1
    proc["sample"]["width"] = 1000
    with pytest.raises(ConfigError) as info:
        import_aitk_dict(job)
    assert len(info.value.problems) == 3


def test_report_lines_read_well():
    _, report = import_aitk(FIXTURES / "low_vram_8gb.yaml")
    assert report.lines()[0] == (
        f"not mapped  {P0}.train.noise_offset = 0.05: noise offset is not used with flow matching"
    )
    assert report.lines()[1].startswith(
        f"changed     {P0}.model.qtype = 'qfloat8': qfloat8 (8-bit) -> NF4: Likeness has no 8-bit"
    )
    assert report.lines()[3].startswith(f"as aitk     {P0}.network.linear_alpha = 8: ai-toolkit")
    assert config_to_dict(import_aitk(FIXTURES / "low_vram_8gb.yaml")[0])["name"] == "k1ra_lowvram"


@pytest.mark.parametrize("variant", ["turbo", "base", "deturbo"])
def test_every_setting_survives_export_and_import(variant):
    """Each setting away from its default, so a mapping that loses one fails here."""
    cfg = validate_config(
        {
            "name": "v4ra.test-1", "trigger": "v4ra", "training_folder": "/runs/x",
            "device": "cuda:1",
            "model": {
                "name_or_path": "/models/zimage", "source": "local", "revision": "main",
                "variant": variant,
                "training_adapter": {
                    "path": "/adapters/a.safetensors",
                    "enabled": variant == "deturbo" or (False if variant == "turbo" else None),
                },
                "quantize_transformer": "nf4", "quantize_text_encoder": "none",
                "offload_text_encoder": False, "offload_vae": True,
            },
            "network": {"rank": 8, "alpha": 4, "dropout": 0.1, "target_modules": r"^layers\.1\..*$"},
            "save": {"dtype": "fp32", "every": 100, "keep_last": 3},
            "train": {
                "batch_size": 3, "gradient_accumulation": 2, "steps": 900, "optimizer": "lion8bit",
                "optimizer_args": {"betas": [0.95, 0.98], "eps": 1e-7, "d0": 1e-5},
                "lr": 3e-5, "weight_decay": 0.0, "scheduler": "cosine_with_restarts",
                "warmup_steps": 50, "num_cycles": 3, "timestep_sampling": "uniform",
                "timestep_shift": 1.5, "loss": "huber", "ema": {"enabled": True, "decay": 0.95},
                "caption_dropout": 0.0, "max_grad_norm": 0.0, "seed": 3, "precision": "fp16",
                "gradient_checkpointing": False,
            },
            "datasets": [
                {"folder": "/d/1", "repeats": 4, "flip_x": True, "resolutions": [768],
                 "cache_latents": False, "cache_text_embeddings": False},
                {"folder": "/d/2", "resolutions": [512, 1536], "cache_text_embeddings": False},
            ],
            "sample": {
                "enabled": False, "every": 50, "prompts": ["v4ra juggling"], "negative": "blur",
                "steps": 20, "guidance": 0.5, "seed": 9, "walk_seed": False, "skip_first": False,
                "width": 768, "height": 1152,
            },
        }
    )  # fmt: skip
    job, notes = export_aitk(cfg)
    back, report = import_aitk_dict(copy.deepcopy(job))
    assert back == cfg
    assert report.unmapped == []
    # only what ai-toolkit cannot express travels in meta.likeness, each with a note
    extras = set(job["meta"]["likeness"])
    expected = {
        "model.revision", "model.offload_text_encoder", "network.alpha",
        "network.target_modules", "train.optimizer_args.eps", "train.warmup_steps",
        "train.num_cycles", "train.loss", "train.seed", "datasets[1].repeats",
    }  # fmt: skip
    if variant != "deturbo":
        expected.add("model.training_adapter.path")  # adapter set, but off for this run
    # the same in ai-toolkit: no caption dropout; the written prompts carry the trigger
    # and Prodigy's d0 on lion8bit, the shift with uniform timesteps are unused in both
    silent = {
        "train.caption_dropout_mode", "sample.add_trigger", "train.optimizer_args.d0",
        "train.timestep_shift", "train.max_grad_norm",  # no clipping: a norm of 1e9
    }  # fmt: skip
    assert extras == expected | silent
    assert len(notes) == len(expected) + 1  # + NF4


def test_a_minimal_job_says_which_defaults_it_got():
    job = {
        "job": "extension",
        "config": {
            "name": "tiny_job",
            "process": [
                {
                    "type": "sd_trainer",
                    "trigger_word": "t0ken",
                    "datasets": [{"folder_path": "/d"}],
                    "model": {"name_or_path": "Tongyi-MAI/Z-Image-Turbo", "arch": "zimage:turbo"},
                }
            ],
        },
    }
    cfg, report = import_aitk_dict(job)
    assert report.unmapped == [] and report.approximated == []
    assert report.notes == [
        f"{P0}.model: Turbo without a training adapter; long runs break the distillation "
        "(set model.training_adapter.enabled: true to use it)",
        f"{P0}.network.linear is not set: Likeness uses rank 32",
        f"{P0}.train.steps is not set: Likeness uses steps 3000",
        f"{P0}.train.lr is not set: Likeness uses lr 0.0001",
        f"{P0}.train.optimizer is not set: Likeness uses optimizer 'adamw8bit'",
        f"{P0}.save.save_every is not set: Likeness uses every 250",
        f"{P0}.sample.sample_every is not set: Likeness uses every 250",
        f"{P0}.sample.sample_steps is not set: Likeness uses steps 8",
        f"{P0}.sample.guidance_scale is not set: Likeness uses guidance 1.0",
        f"{P0}.sample has no prompts: Likeness uses its 10 default prompts (new poses, "
        "outfits and places in all three shot tiers)",
        f"{P0}.datasets[0].resolution is not set: Likeness uses [512, 768, 1024]",
    ]
    assert not cfg.model.uses_training_adapter


@pytest.mark.parametrize(
    ("name", "arch", "adapter", "variant"),
    [
        ("Tongyi-MAI/Z-Image-Turbo", "zimage", True, "turbo"),
        ("Tongyi-MAI/Z-Image-Turbo", None, False, "turbo"),
        ("Tongyi-MAI/Z-Image", "zimage", False, "base"),
        ("ostris/Z-Image-De-Turbo", "zimage:deturbo", False, "deturbo"),
        ("ostris/Z-Image-De-Turbo", None, False, "deturbo"),
        ("/models/my-finetune", "zimage:turbo", False, "turbo"),
        ("/models/my-finetune", "zimage", True, "turbo"),
        ("/comfy/z_image_turbo_bf16.safetensors", None, True, "turbo"),
    ],
)
def test_variant_from_arch_and_name(name, arch, adapter, variant):
    job = load_job("guide_prompts.yaml")
    model = {"name_or_path": name}
    if arch:
        model["arch"] = arch
    if adapter:
        model["assistant_lora_path"] = "/a/adapter.safetensors"
    job["config"]["process"][0]["model"] = model
    cfg, _ = import_aitk_dict(job)
    assert cfg.model.variant == variant
    assert cfg.model.uses_training_adapter == adapter


def test_both_adapter_keys():
    job = load_job("guide_prompts.yaml")
    job["config"]["process"][0]["model"]["assistant_lora_path"] = "/a/v2.safetensors"
    cfg, report = import_aitk_dict(job)
    assert cfg.model.training_adapter.path == "/a/v2.safetensors"
    assert report.unmapped_paths == [f"{P0}.train.weight_decay"]
    assert f"{P0}.model.adapter_path: assistant_lora_path is used instead" in report.notes


def test_a_likeness_config_is_not_an_ai_toolkit_job():
    data = {"name": "leyla", "trigger": "l3yla", "datasets": [{"folder": "/d"}]}
    with pytest.raises(ConfigError) as info:
        import_aitk_dict(data)
    assert info.value.lines() == [
        "this is a Likeness run config, not an ai-toolkit job: train it with `likeness train FILE`"
    ]
