"""Run config: defaults, every-field errors with suggestions, cross-field checks, presets, I/O."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from training.config import (
    DEFAULT_TARGET_MODULES,
    RunConfig,
    load_config,
    validate_config,
    with_trigger,
)
from training.config_errors import ConfigError
from training.config_ops import check_paths, config_to_dict, config_warnings, save_config
from training.presets import (
    PRESET_NAMES,
    apply_preset,
    default_config,
    default_prompts,
    list_presets,
    load_preset,
)


def minimal(**over) -> dict:
    data = {"name": "leyla", "trigger": "l3yla", "datasets": [{"folder": "/data/leyla"}]}
    data.update(over)
    return data


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_config(data)
    return info.value.lines()


# -- defaults --------------------------------------------------------------------------------
def test_defaults_are_the_guides_good_defaults():
    cfg = validate_config(minimal())
    assert cfg.schema_version == 1
    assert (cfg.network.rank, cfg.network.alpha, cfg.network.dropout) == (32, 32.0, 0.0)
    assert cfg.network.target_modules == DEFAULT_TARGET_MODULES
    t = cfg.train
    assert (t.optimizer, t.lr, t.weight_decay, t.batch_size, t.steps) == (
        "adamw8bit", 1e-4, 1e-4, 1, 3000,
    )  # fmt: skip
    assert (t.timestep_sampling, t.loss, t.precision, t.caption_dropout) == (
        "sigmoid", "mse", "bf16", 0.05,
    )  # fmt: skip
    assert t.gradient_checkpointing and not t.ema.enabled and t.scheduler == "constant"
    ds = cfg.datasets[0]
    assert ds.resolutions == [512, 768, 1024] and not ds.flip_x and ds.repeats is None
    assert ds.cache_latents and ds.cache_text_embeddings
    assert (cfg.save.dtype, cfg.save.every, cfg.save.keep_last) == ("bf16", 250, 10)
    s = cfg.sample
    assert (s.every, s.steps, s.guidance, s.seed, s.walk_seed, s.skip_first) == (
        250, 8, 1.0, 42, True, True,
    )  # fmt: skip
    assert (s.width, s.height) == (1024, 1024)
    assert cfg.model.name_or_path == "Tongyi-MAI/Z-Image-Turbo" and cfg.model.variant == "turbo"
    assert cfg.model.uses_training_adapter
    assert cfg.run_dir == Path("output") / "leyla"
    assert config_warnings(cfg) == []


def test_target_modules_regex_is_anchored_on_transformer_layers():
    import re

    rx = re.compile(DEFAULT_TARGET_MODULES)
    for name in (
        "layers.0.attention.to_q", "layers.29.attention.to_out.0", "layers.3.feed_forward.w2",
        "layers.12.adaLN_modulation.0",
    ):  # fmt: skip
        assert rx.fullmatch(name), name
    for name in (
        "all_final_layer.2-1.adaLN_modulation.0", "noise_refiner.0.attention.to_q",
        "context_refiner.1.feed_forward.w1", "layers.0.attention.to_out.1",
        "layers.0.attention.norm_q", "x_layers.0.attention.to_q",
    ):  # fmt: skip
        assert not rx.fullmatch(name), name


def test_default_prompts_stretch_the_lora_and_carry_the_trigger():
    raw = default_prompts()
    assert len(raw) == 10 and all(p.count("[trigger]") == 1 for p in raw)
    text = " ".join(raw)
    for tier in ("close-up", "medium shot", "full body"):
        assert text.count(tier) >= 3, tier
    cfg = validate_config(minimal())
    assert len(cfg.sample.prompts) == 10
    assert all("l3yla" in p and "[trigger]" not in p for p in cfg.sample.prompts)


def test_prompts_get_the_trigger_once():
    assert with_trigger("[trigger] at the beach", "l3yla") == "l3yla at the beach"
    assert with_trigger("a photo of l3yla smiling", "l3yla") == "a photo of l3yla smiling"
    assert with_trigger("a woman rowing a boat", "l3yla") == "l3yla, a woman rowing a boat"
    # a word that merely contains the trigger does not count
    assert with_trigger("ohwxyz on a bike", "ohwx") == "ohwx, ohwxyz on a bike"
    cfg = validate_config(minimal(sample={"prompts": ["a woman rowing", "[trigger] dancing", " "]}))
    assert cfg.sample.prompts == ["l3yla, a woman rowing", "l3yla dancing"]
    again = validate_config(config_to_dict(cfg))
    assert again.sample.prompts == cfg.sample.prompts


def test_alpha_follows_rank_unless_set():
    assert validate_config(minimal(network={"rank": 16})).network.alpha == 16.0
    assert validate_config(minimal(network={"rank": 16, "alpha": 8})).network.alpha == 8.0


def test_training_adapter_is_automatic_by_variant():
    turbo = validate_config(minimal())
    base = validate_config(minimal(model={"variant": "base", "name_or_path": "Tongyi-MAI/Z-Image"}))
    off = validate_config(minimal(model={"training_adapter": {"enabled": False}}))
    assert turbo.model.uses_training_adapter and not base.model.uses_training_adapter
    assert not off.model.uses_training_adapter


# -- errors ----------------------------------------------------------------------------------
def test_every_bad_field_is_listed_with_path_and_plain_message():
    lines = problems(
        minimal(
            name="my lora",
            train={"lr": -1, "optimzer": "adamw", "batch_size": 0, "steps": "many"},
            network={"rank": 0},
            save={"every": 0},
            datasets=[{"folder": "/a", "resolutions": [512, 1000], "flip_x": "sometimes"}],
            sample={"guidance": -2},
        )
    )
    assert lines == [
        "name: use letters, digits, '.', '_' or '-' (it becomes file names), starting with a "
        "letter or digit, at most 100 characters; got 'my lora'",
        "network.rank: must be >= 1, got 0",
        "save.every: must be > 0, got 0",
        "train.batch_size: must be >= 1, got 0",
        "train.steps: must be a whole number, got 'many'",
        "train.lr: must be > 0, got -1",
        "train.optimzer: unknown setting — did you mean 'optimizer'?",
        "datasets[0].flip_x: must be true or false, got 'sometimes'",
        "datasets[0].resolutions[1]: must be a multiple of 16, got 1000 (try 992 or 1008)",
        "sample.guidance: must be >= 0, got -2",
    ]


def test_unknown_keys_get_suggestions_from_their_own_section():
    lines = problems(
        minimal(
            trigger_word="l3yla",
            network={"linear": 16, "linear_alpha": 16},
            train={"optimizer": "adam8bit", "lr_scheduler": "cosine"},
            datasets=[{"folder": "/a", "num_repeats": 10}],
            sample={"colour": "red"},
        )
    )
    assert "trigger_word: unknown setting — did you mean 'trigger'?" in lines
    assert "network.linear: unknown setting — did you mean 'rank'?" in lines
    assert "network.linear_alpha: unknown setting — did you mean 'alpha'?" in lines
    assert "train.lr_scheduler: unknown setting — did you mean 'scheduler'?" in lines
    assert "datasets[0].num_repeats: unknown setting — did you mean 'repeats'?" in lines
    assert (
        "train.optimizer: must be one of 'adamw', 'adamw8bit', 'prodigy', 'lion8bit', "
        "'adafactor'; got 'adam8bit' — did you mean 'adamw8bit'?"
    ) in lines
    colour = [ln for ln in lines if ln.startswith("sample.colour")]
    assert colour and "this section takes: enabled, every, prompts" in colour[0]


def test_settings_in_the_wrong_section_say_where_they_belong():
    lines = problems(minimal(model={"precision": "bf16"}, steps=10, train={"resolutions": [512]}))
    assert lines == [
        "model.precision: unknown setting in this section — it belongs at train.precision",
        "train.resolutions: unknown setting in this section — it belongs at datasets[].resolutions",
        "steps: unknown setting in this section — it belongs at train.steps or sample.steps",
    ]


def test_missing_required_fields():
    lines = problems({"datasets": []})
    assert lines == [
        "name: required, but missing",
        "trigger: required, but missing",
        "datasets: needs at least 1 item(s)",
    ]


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        (
            {"train": {"steps": 100, "warmup_steps": 100}},
            "train.warmup_steps: must be below steps (100), got 100",
        ),
        (
            {"train": {"scheduler": "constant_with_warmup"}},
            "train.warmup_steps: scheduler 'constant_with_warmup' needs warmup_steps > 0 "
            "(e.g. 100), or use scheduler 'constant'",
        ),
        (
            {"model": {"source": "single_file"}},
            "model.transformer_file: required when source is 'single_file' (the ComfyUI "
            ".safetensors of the diffusion model)",
        ),
        (
            {"model": {"vae_file": "/m/vae.safetensors"}},
            "model.vae_file: only used when source is 'single_file' (source is 'hub'); set "
            "source: single_file or remove it",
        ),
        (
            {"model": {"variant": "base", "training_adapter": {"enabled": True}}},
            "model.training_adapter.enabled: the training adapter de-distils Turbo; turn it "
            "off for the Base variant",
        ),
        (
            {"datasets": [{"folder": "/a", "resolutions": [512, 512]}]},
            "datasets[0].resolutions: listed twice in [512, 512]",
        ),
        (
            {"datasets": [{"folder": "/a"}, {"folder": "/a"}]},
            "datasets[1].folder: /a is listed twice",
        ),
        (
            {"trigger": "l3yla, woman"},
            "trigger: must be one token without commas, tabs or line breaks, got 'l3yla, woman'",
        ),
        ({"network": {"target_modules": "layers.(("}}, "network.target_modules: not a valid"),
        ({"network": {"alpha": 0}}, "network.alpha: must be > 0, got 0"),
        (
            {"model": {"training_adapter": {"path": "ostris/zimage_turbo_training_adapter"}}},
            "model.training_adapter.path: give the adapter's .safetensors file",
        ),
        ({"device": "gpu"}, "device: use auto, cpu, mps, cuda or cuda:N; got 'gpu'"),
        ({"sample": {"width": 1000}}, "sample.width: must be a multiple of 16, got 1000"),
        ({"schema_version": 7}, "schema_version: this config was written by a newer Likeness"),
    ],
)
def test_cross_field_checks(over, expected):
    lines = problems(minimal(**over))
    assert any(line.startswith(expected) for line in lines), lines


def test_assignment_is_validated_too():
    cfg = validate_config(minimal())
    with pytest.raises(ValueError):
        cfg.train.lr = -1


# -- files -----------------------------------------------------------------------------------
def test_yaml_and_json_round_trip(tmp_path):
    cfg = default_config(
        "leyla", "l3yla", tmp_path / "ds", preset="12gb",
        train={"optimizer": "prodigy", "lr": 1.0, "optimizer_args": {"d0": 0.05, "betas": [0.9, 0.99]}},
        sample={"prompts": ["[trigger] rowing a boat"]}, training_folder=str(tmp_path / "runs"),
    )  # fmt: skip
    for name in ("run.yaml", "run.json"):
        path = save_config(cfg, tmp_path / name)
        assert load_config(path) == cfg
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    text = (tmp_path / "run.yaml").read_text()
    assert yaml.safe_load(text)["train"]["optimizer_args"]["betas"] == [0.9, 0.99]
    assert json.loads((tmp_path / "run.json").read_text())["sample"]["prompts"] == [
        "l3yla rowing a boat"
    ]


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "run.yaml"
    path.write_text(
        "name: leyla\ntrigger: l3yla\ntraining_folder: runs\n"
        "datasets:\n  - folder: ../data/leyla\n    repeats: 2\n"
        "train:\n  lr: 1e-4\n"  # YAML 1.1 reads 1e-4 as text; it still validates
    )
    cfg = load_config(path)
    assert cfg.training_folder == tmp_path / "cfg" / "runs"
    assert cfg.datasets[0].folder == (tmp_path / "cfg" / "../data/leyla")
    assert cfg.train.lr == 1e-4
    assert load_config(path, resolve_paths=False).training_folder == Path("runs")


@pytest.mark.parametrize(
    ("text", "suffix", "expected"),
    [
        ("name: [unclosed", ".yaml", "not valid YAML"),
        ("{", ".json", "not valid JSON"),
        ("- a\n- b\n", ".yaml", "expected a mapping of settings"),
        ("job: extension\nconfig: {name: x}\n", ".yaml", "this is an ai-toolkit job"),
    ],
)
def test_unreadable_files_give_one_clear_error(tmp_path, text, suffix, expected):
    path = tmp_path / f"bad{suffix}"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")


def test_check_paths_lists_missing_folders_and_files(tmp_path):
    cfg = validate_config(
        minimal(
            datasets=[{"folder": str(tmp_path)}, {"folder": str(tmp_path / "gone")}],
            model={"source": "single_file", "transformer_file": str(tmp_path / "zit.safetensors")},
        )
    )
    assert check_paths(cfg) == [
        ("datasets[1].folder", f"folder not found: {tmp_path / 'gone'}"),
        ("model.transformer_file", f"file not found: {tmp_path / 'zit.safetensors'}"),
    ]


def test_warnings_for_valid_but_doubtful_settings():
    cfg = validate_config(
        minimal(train={"optimizer": "prodigy", "lr": 1e-4}, network={"rank": 128})
    )
    text = "\n".join(config_warnings(cfg))
    assert "Prodigy adapts the step size itself" in text and "overfit" in text
    short = validate_config(minimal(train={"steps": 200}))
    assert [w.split(":")[0] for w in config_warnings(short)] == ["save.every", "sample.every"]


# -- presets ---------------------------------------------------------------------------------
def test_every_preset_is_valid_and_fits_its_card():
    assert [p.name for p in list_presets()] == list(PRESET_NAMES)
    base = validate_config(minimal(datasets=[{"folder": "/a"}, {"folder": "/b", "repeats": 3}]))
    got = {name: apply_preset(base, name) for name in PRESET_NAMES}
    assert got["8gb"].model.quantize_transformer == "nf4"
    assert got["8gb"].model.quantize_text_encoder == "nf4"
    assert got["8gb"].resolutions == [512, 768] and got["8gb"].network.rank == 16
    assert got["12gb"].resolutions == [512, 768]
    assert got["16gb"].resolutions == [512, 768, 1024]
    assert got["16gb"].model.quantize_transformer == "nf4"
    assert got["24gb"].model.quantize_transformer == "none" and got["24gb"].train.batch_size == 2
    for cfg in got.values():  # the datasets themselves are kept, all get the preset's sizes
        assert [str(d.folder) for d in cfg.datasets] == ["/a", "/b"]
        assert cfg.datasets[1].repeats == 3
        assert cfg.datasets[0].resolutions == cfg.datasets[1].resolutions


@pytest.mark.parametrize("alias", ["24+", "24GB", "24 gb+", "24gb"])
def test_preset_names_are_forgiving(alias):
    assert load_preset(alias).name == "24gb"


def test_unknown_preset():
    with pytest.raises(ConfigError, match="choose one of 8gb, 12gb, 16gb, 24gb"):
        load_preset("6gb")


def test_user_settings_win_over_the_preset():
    cfg = default_config("leyla", "l3yla", "/a", preset="8gb", network={"rank": 24, "alpha": 24})
    assert cfg.network.rank == 24 and cfg.model.quantize_transformer == "nf4"
    assert isinstance(cfg, RunConfig)


# -- self-documenting files ------------------------------------------------------------------
def test_every_setting_has_one_line_of_help():
    from training.config_docs import FIELD_HELP, field_help
    from training.config_errors import field_paths

    paths = field_paths(RunConfig)
    assert "datasets[].folder" in paths and "train.ema.decay" in paths
    assert sorted(set(paths) - set(FIELD_HELP)) == []  # a new setting needs its help line
    assert sorted(set(FIELD_HELP) - set(paths)) == []  # no help for settings that are gone
    assert field_help("datasets[3].repeats").startswith("times each image is seen")


def test_saved_yaml_explains_each_setting(tmp_path):
    cfg = default_config("leyla", "l3yla", ["/a", "/b"], training_folder=str(tmp_path))
    text = save_config(cfg, tmp_path / "run.yaml").read_text()
    assert "  # learning rate (1e-4 for AdamW; 1.0 for Prodigy)\n  lr: 0.0001\n" in text
    assert "  # the dataset folder\n- folder: /a\n" in text
    assert "  resolutions: [512, 768, 1024]\n" in text
    assert load_config(tmp_path / "run.yaml") == cfg


# -- numbers: no booleans, sane upper bounds (issue 8) ---------------------------------------


@pytest.mark.parametrize(
    ("over", "expected"),
    [
        ({"train": {"steps": True}}, "train.steps: must be a number, got true"),
        ({"train": {"lr": False}}, "train.lr: must be a number, got false"),
        ({"network": {"rank": True}}, "network.rank: must be a number, got true"),
        (
            {"datasets": [{"folder": "/d", "repeats": True}]},
            "datasets[0].repeats: must be a number",
        ),
        ({"train": {"steps": 10**20}}, "train.steps: must be <= 1000000"),
        ({"train": {"steps": 1e20}}, "train.steps: is far too large"),
        ({"network": {"rank": 1024}}, "network.rank: must be <= 256"),
        ({"datasets": [{"folder": "/d", "resolutions": [4096]}]}, "must be <= 2048"),
        ({"datasets": [{"folder": "/d", "repeats": 5000}]}, "repeats: must be <= 1000"),
        ({"save": {"every": 10**9}}, "save.every: must be <= 1000000"),
        ({"train": {"seed": 2**40}}, "train.seed: must be <="),
    ],
)
def test_numbers_are_numbers_within_bounds(over, expected):
    lines = problems(minimal(**over))
    assert any(expected in line for line in lines), lines


def test_booleans_stay_booleans():
    cfg = validate_config(minimal(train={"gradient_checkpointing": False}, sample={"enabled": 0}))
    assert cfg.train.gradient_checkpointing is False and cfg.sample.enabled is False
