"""ai-toolkit parity, part two: timesteps, text encoder and captions, samples, other keys.

See ``test_aitk_parity.py`` for the UI job, optimizers and schedules.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tests.training.aitk_jobs import ui_job, with_train
from training.aitk import export_aitk, import_aitk, import_aitk_dict
from training.config import validate_config

torch = pytest.importorskip("torch")

FIXTURES = Path(__file__).parent / "fixtures" / "aitk"
P0 = "config.process[0]"


# -- timesteps --------------------------------------------------------------------------------

# ai-toolkit's measured loss weight at every 50th of its 1000 training timesteps (index i:
# t = 1000 - i, s = t / 1000), read from toolkit/timestep_weighing/default_weighing_scheme.py.
AITK_WEIGHTS = {
    0: 0.906, 50: 1.375, 100: 1.507, 150: 1.507, 200: 1.441, 250: 1.355, 300: 1.264,
    350: 1.172, 400: 1.083, 450: 1.0, 500: 0.925, 550: 0.86, 600: 0.805, 650: 0.762,
    700: 0.731, 750: 0.715, 800: 0.716, 850: 0.729, 900: 0.716, 950: 0.582,
}  # fmt: skip


def test_weighted_timesteps_are_uniform_over_ai_toolkits_grid():
    from training.objective import sample_sigmas

    n = 999 * 200
    s = sample_sigmas("weighted", n, torch.Generator().manual_seed(0))
    t = torch.round(s * 1000).long()  # back to ai-toolkit's timesteps
    assert int(t.min()) == 2 and int(t.max()) == 1000  # indices 0..998; 999 (t = 1) never
    counts = torch.bincount(t - 2, minlength=999).float()
    assert counts.numel() == 999 and int((counts == 0).sum()) == 0
    chi2 = float(((counts - 200) ** 2 / 200).sum())
    assert chi2 < 999 + 5 * (2 * 999) ** 0.5  # a uniform draw: chi-square ~ 999 +- 45
    hist = torch.histc(s, bins=10, min=0, max=1) / n  # ten equal bands of noise level
    assert torch.allclose(hist, torch.full((10,), 0.1), atol=0.005)


def test_weighted_loss_weights_follow_ai_toolkits_table():
    from training.objective import loss_weights, weighted_loss_weights

    for i, want in AITK_WEIGHTS.items():
        assert weighted_loss_weights((1000 - i) / 1000) == pytest.approx(want, abs=0.035), i
    grid = torch.arange(1000, 1, -1, dtype=torch.float32) / 1000
    w = weighted_loss_weights(grid)
    assert float(w.mean()) == pytest.approx(1.0, abs=0.01)
    assert 0.84 < float(grid[int(w.argmax())]) < 0.92 and float(w.max()) == pytest.approx(
        1.52, abs=0.03
    )
    assert loss_weights("sigmoid", grid) is None
    assert torch.equal(loss_weights("weighted", grid), w)


def test_the_loss_is_weighted_per_sample():
    from training.objective import flow_matching_loss

    class Zero(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, xs, t, embeds, return_dict=False):
            return ([torch.zeros_like(x) for x in xs],)

    x0 = torch.zeros(2, 16, 4, 4)
    noise = torch.stack([torch.ones(16, 4, 4), 2 * torch.ones(16, 4, 4)])
    sig, emb = torch.tensor([0.5, 0.5]), [torch.zeros(3, 8)] * 2
    plain = flow_matching_loss(Zero(), x0, emb, sig, noise)
    weighted = flow_matching_loss(Zero(), x0, emb, sig, noise, weights=torch.tensor([2.0, 0.5]))
    assert float(plain) == pytest.approx((1 + 4) / 2)
    assert float(weighted) == pytest.approx((2 * 1 + 0.5 * 4) / 2)


# -- text encoder, captions, samples -------------------------------------------------------


def test_unloaded_text_encoder_without_cache_trains_on_the_trigger():
    cfg, report = import_aitk_dict(with_train(unload_text_encoder=True))
    assert cfg.train.caption_source == "trigger_only" and cfg.model.offload_text_encoder
    assert report.as_aitk_paths == [f"{P0}.train.unload_text_encoder"]
    job, _ = export_aitk(cfg)
    train = job["config"]["process"][0]["train"]
    assert (train["unload_text_encoder"], train["cache_text_embeddings"]) == (True, False)
    cached, report = import_aitk_dict(
        with_train(unload_text_encoder=True, cache_text_embeddings=True)
    )
    assert cached.train.caption_source == "captions" and report.as_aitk == []
    assert all(d.cache_text_embeddings for d in cached.datasets)


def test_likeness_defaults_never_export_the_trigger_only_combination():
    cfg = validate_config({"name": "x", "trigger": "t0k", "datasets": [{"folder": "/d"}]})
    assert cfg.model.offload_text_encoder  # Likeness frees the encoder either way
    for caching in (True, False):
        cfg.datasets[0].cache_text_embeddings = caching
        train = export_aitk(cfg)[0]["config"]["process"][0]["train"]
        assert train["unload_text_encoder"] is False


def test_trigger_only_captions_and_dropout_to_the_trigger(tmp_path):
    from tests.training.tiny_zimage import make_dataset
    from training.data import collect_examples
    from training.objective import draw_micro_batch

    data = make_dataset(tmp_path / "d", count=3)
    cfg = validate_config({
        "name": "x", "trigger": "t0ken",
        "datasets": [{"folder": str(data), "resolutions": [256]}],
        "train": {"caption_source": "trigger_only", "caption_dropout": 1.0,
                  "caption_dropout_mode": "trigger"},
    })  # fmt: skip

    class Sink:
        def warning(self, *a, **k):
            raise AssertionError(a)

    examples = collect_examples(cfg, Sink())
    assert examples and {ex.caption for ex in examples} == {"t0ken"}

    class Lookup:
        def get(self, key, flip=False):
            return torch.zeros(16, 4, 4) if flip is not False or key not in ("t0ken",) else key

    embeds, *_ = draw_micro_batch(
        [0], examples[:1], torch.Generator().manual_seed(0), train=cfg.train,
        texts=Lookup(), latents=Lookup(), empty="dropped", flips_on=set(), device="cpu",
    )  # fmt: skip
    assert embeds == ["dropped"]  # the loop passes the trigger's embedding here


def test_sample_prompts_stay_as_written():
    job = ui_job()
    job["config"]["process"][0]["sample"]["samples"] = [
        {"prompt": "[name] at the beach"}, {"prompt": "a lighthouse at dusk"},
    ]  # fmt: skip
    cfg, _ = import_aitk_dict(job)
    assert cfg.sample.prompts == ["l3yla at the beach", "a lighthouse at dusk"]


# -- other keys -------------------------------------------------------------------------------


def test_network_alpha_is_rank_for_z_image():
    job = ui_job()
    job["config"]["process"][0]["network"]["linear_alpha"] = 16
    cfg, report = import_aitk_dict(job)
    assert cfg.network.alpha == 32.0
    assert report.as_aitk_paths == [f"{P0}.network.linear_alpha"]
    cfg = validate_config({"name": "x", "trigger": "t0k", "datasets": [{"folder": "/d"}],
                           "network": {"rank": 32, "alpha": 16}})  # fmt: skip
    job, notes = export_aitk(cfg)
    assert job["config"]["process"][0]["network"]["linear_alpha"] == 32
    assert any(n.startswith("network alpha 16 (ai-toolkit trains") for n in notes)


@pytest.mark.parametrize(
    ("qtype", "words"),
    [
        ("qfloat8", "(8-bit) -> NF4"),
        ("float8", "(8-bit) -> NF4"),
        ("uint4", "4-bit uint4 -> NF4"),
        ("uint3", "no 3- or 2-bit"),
        ("uint4|ostris/accuracy_recovery_adapters/x_uint4.safetensors", "recovery adapter"),
    ],
)
def test_quantisation_messages_say_what_changes(qtype, words):
    job = ui_job()
    job["config"]["process"][0]["model"]["qtype"] = qtype
    _, report = import_aitk_dict(job)
    reason = [i.reason for i in report.approximated if i.path.endswith("model.qtype")][0]
    assert words in reason and "hurts" not in reason


def test_real_keys_are_not_reported_as_unknown():
    job = ui_job()
    proc = job["config"]["process"][0]
    proc["sample"]["sample_start_step"] = 500
    proc["model"]["compile"] = True
    _, report = import_aitk_dict(job)
    reasons = {i.path: i.reason for i in report.unmapped}
    assert reasons[f"{P0}.sample.sample_start_step"].startswith("Likeness samples every")
    assert reasons[f"{P0}.model.compile"].startswith("Likeness does not torch.compile")
    proc["sample"]["sample_start_step"], proc["model"]["compile"] = 0, False
    assert f"{P0}.model.compile" not in import_aitk_dict(job)[1].unmapped_paths


@pytest.mark.parametrize(
    ("memory", "disk", "cached"), [(True, False, False), (False, True, True), (True, True, True)]
)
def test_latent_caching_keys_do_not_override_each_other(memory, disk, cached):
    job = ui_job()
    ds = job["config"]["process"][0]["datasets"][0]
    ds["cache_latents"], ds["cache_latents_to_disk"] = memory, disk
    cfg, report = import_aitk_dict(job)
    assert cfg.datasets[0].cache_latents is cached
    assert not any("cache_latents" in p for p in report.unmapped_paths)


def test_legacy_accumulation():
    job = with_train(gradient_accumulation_steps=-1)
    job["config"]["process"][0]["train"]["gradient_accumulation"] = 1
    cfg, report = import_aitk_dict(job)
    assert cfg.train.steps == 3000 and cfg.train.gradient_accumulation == 1
    assert any("whole epoch" in i.reason for i in report.approximated)
    job = with_train(gradient_accumulation_steps=3, gradient_accumulation=2)
    cfg, report = import_aitk_dict(job)
    assert cfg.train.gradient_accumulation == 2 and cfg.train.steps == 3000
    assert any("stops with an error" in i.reason for i in report.approximated)


def test_de_turbo_and_base_jobs():
    job = ui_job()
    model = job["config"]["process"][0]["model"]
    del model["assistant_lora_path"]
    model.update(name_or_path="ostris/Z-Image-De-Turbo", arch="zimage:deturbo",
                 extras_name_or_path="Tongyi-MAI/Z-Image-Turbo")  # fmt: skip
    cfg, report = import_aitk_dict(job)
    assert cfg.model.variant == "deturbo" and not cfg.model.uses_training_adapter
    assert cfg.model.extras_name_or_path == "Tongyi-MAI/Z-Image-Turbo"
    assert not any("extras" in p for p in report.unmapped_paths)
    exported = export_aitk(cfg)[0]["config"]["process"][0]["model"]
    assert exported["extras_name_or_path"] == "Tongyi-MAI/Z-Image-Turbo"
    model.update(name_or_path="Tongyi-MAI/Z-Image", arch="zimage")
    del model["extras_name_or_path"]
    cfg, _ = import_aitk_dict(job)
    assert cfg.model.variant == "base" and cfg.model.extras_name_or_path is None
    model["arch"] = "zimage_l2p"
    with pytest.raises(Exception, match="Z-Image LoRAs only"):
        import_aitk_dict(job)


def test_huber_is_mse_in_ai_toolkit():
    cfg, report = import_aitk_dict(with_train(loss_type="huber"))
    assert cfg.train.loss == "mse" and report.as_aitk_paths == [f"{P0}.train.loss_type"]


def test_fixture_variants_round_trip():
    for name in ("zit_training_adapter.yaml", "low_vram_8gb.yaml", "base_prodigy.json"):
        cfg, _ = import_aitk(FIXTURES / name)
        job, _ = export_aitk(cfg)
        assert import_aitk_dict(copy.deepcopy(job))[0] == cfg


def test_ui_de_turbo_fixture():
    cfg, report = import_aitk(FIXTURES / "ui_zimage_deturbo.yaml")
    assert report.approximated_paths == [f"{P0}.model.qtype", f"{P0}.model.qtype_te"]
    assert report.as_aitk == [] and report.notes == []
    m = cfg.model
    assert (m.variant, m.name_or_path, m.extras_name_or_path) == (
        "deturbo", "ostris/Z-Image-De-Turbo", "Tongyi-MAI/Z-Image-Turbo",
    )  # fmt: skip
    assert not m.uses_training_adapter
    assert (cfg.sample.guidance, cfg.sample.steps, cfg.train.timestep_sampling) == (
        3.0, 25, "weighted",
    )  # fmt: skip
    job, _ = export_aitk(cfg)
    assert import_aitk_dict(job)[0] == cfg


def test_ui_base_prodigy_fixture():
    cfg, report = import_aitk(FIXTURES / "ui_zimage_base_prodigy.yaml")
    assert report.approximated == []
    assert report.as_aitk_paths == [
        f"{P0}.train.unload_text_encoder", f"{P0}.train.lr", f"{P0}.train.lr_scheduler",
        f"{P0}.train.gradient_accumulation_steps",
    ]  # fmt: skip
    t, a = cfg.train, cfg.train.optimizer_args
    assert (cfg.model.variant, cfg.model.quantize_transformer) == ("base", "none")
    assert (t.optimizer, t.lr, a.eps, a.use_bias_correction, a.safeguard_warmup) == (
        "prodigy", 1.0, 1e-6, False, False,
    )  # fmt: skip
    # 2000 batches, every 2nd one updates: 1000 steps; saves and samples every 125
    assert (t.steps, t.gradient_accumulation, cfg.save.every, cfg.sample.every) == (
        1000, 1, 125, 125,
    )  # fmt: skip
    assert (t.scheduler, t.lr_start_factor, t.lr_end_factor) == ("linear_lr", 1 / 3, 1.0)
    assert t.caption_source == "trigger_only"
    job, notes = export_aitk(cfg)
    assert import_aitk_dict(job)[0] == cfg
    train = job["config"]["process"][0]["train"]
    assert (train["optimizer"], train["unload_text_encoder"]) == ("prodigy", True)
    assert train["lr_scheduler_params"] == {"start_factor": 1 / 3, "end_factor": 1.0}
    assert notes == []  # everything in ai-toolkit's own keys, meaning the same


def test_caption_dropout_defaults_to_none_per_dataset():
    job = ui_job()
    datasets = job["config"]["process"][0]["datasets"]
    datasets.append({"folder_path": "/d/other"})  # no caption_dropout_rate: 0 in ai-toolkit
    cfg, report = import_aitk_dict(job)
    assert cfg.train.caption_dropout == 0.05
    assert report.approximated_paths[-1] == f"{P0}.datasets[1].caption_dropout_rate"
    del datasets[0]["caption_dropout_rate"]
    del datasets[1]
    assert import_aitk_dict(job)[0].train.caption_dropout == 0.0
