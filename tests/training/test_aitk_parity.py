"""ai-toolkit parity: an imported job trains what ai-toolkit would train, with the numbers.

The expectations restate ai-toolkit's behaviour as read in its source (toolkit/optimizer.py,
toolkit/scheduler.py, the Z-Image extension, BaseSDTrainProcess, SDTrainer, the data loader):
``aitk_scheduler`` and ``aitk_optimizer`` below build what ai-toolkit builds for a job's
train section, with the same torch / bitsandbytes / prodigyopt classes.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from training.aitk import export_aitk, import_aitk, import_aitk_dict
from training.config import validate_config

torch = pytest.importorskip("torch")

FIXTURES = Path(__file__).parent / "fixtures" / "aitk"
UI_JOB = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "aitk"
UI_JOB = UI_JOB / "ui_zimage_turbo.job_config.json"
P0 = "config.process[0]"


def ui_job() -> dict:
    if not UI_JOB.is_file():
        pytest.skip("needs ../shared/fixtures/aitk/ui_zimage_turbo.job_config.json")
    return json.loads(UI_JOB.read_text())


def with_train(**train) -> dict:
    job = ui_job()
    job["config"]["process"][0]["train"].update(train)
    return job


def aitk_scheduler(train: dict, optimizer):
    """The scheduler ai-toolkit builds: its params plus total_iters = steps, by name."""
    from diffusers.optimization import get_constant_schedule_with_warmup

    kw = dict(train.get("lr_scheduler_params", {}))
    kw["total_iters"] = train["steps"]
    name = train.get("lr_scheduler", "constant")
    sched = torch.optim.lr_scheduler
    if name == "cosine":
        kw["T_max"] = kw.pop("total_iters")
        return sched.CosineAnnealingLR(optimizer, **kw)
    if name == "cosine_with_restarts":
        kw["T_0"] = kw.pop("total_iters")
        return sched.CosineAnnealingWarmRestarts(optimizer, **kw)
    if name == "constant":
        kw.setdefault("factor", 1.0)
        return sched.ConstantLR(optimizer, **kw)
    if name == "linear":
        return sched.LinearLR(optimizer, **kw)
    assert name == "constant_with_warmup"
    kw.setdefault("num_warmup_steps", 1000)
    del kw["total_iters"]
    return get_constant_schedule_with_warmup(optimizer, **kw)


def aitk_optimizer(train: dict, params: list):
    """The optimizer ai-toolkit builds for the names Likeness maps exactly."""
    import bitsandbytes as bnb
    from prodigyopt import Prodigy

    name, lr = train["optimizer"].lower(), train["lr"]
    extra = dict(train.get("optimizer_params", {}))
    if name.startswith("prodigy"):
        return Prodigy(params, lr=1.0 if lr < 0.1 else lr, eps=1e-6, **extra)
    if name == "adamw8bit":
        return bnb.optim.AdamW8bit(params, lr=lr, eps=1e-6, **extra)
    assert name == "adamw"
    return torch.optim.AdamW(params, lr=lr, eps=1e-6, **extra)


def lr_curve(scheduler, optimizer, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


# -- the ai-toolkit UI's own Z-Image Turbo job ---------------------------------------------


def test_the_ui_job_imports_as_ai_toolkit_trains_it():
    cfg, report = import_aitk_dict(ui_job())
    assert report.unmapped_paths == [
        f"{P0}.sqlite_db_path", f"{P0}.performance_log_every", f"{P0}.logging",
    ]  # fmt: skip
    # the one deliberate difference: no 8-bit quantisation in Likeness
    assert report.approximated_paths == [f"{P0}.model.qtype", f"{P0}.model.qtype_te"]
    assert report.as_aitk == [] and report.notes == []
    t, a = cfg.train, cfg.train.optimizer_args
    assert (t.optimizer, t.lr, t.weight_decay, a.eps) == ("adamw8bit", 1e-4, 1e-4, 1e-6)
    assert (t.scheduler, t.warmup_steps, t.timestep_sampling) == ("constant", 0, "weighted")
    assert (t.caption_dropout, t.caption_dropout_mode, t.caption_source) == (
        0.05, "trigger", "captions",
    )  # fmt: skip
    assert (t.steps, t.batch_size, t.gradient_accumulation, t.loss) == (3000, 1, 1, "mse")
    assert (cfg.network.rank, cfg.network.alpha) == (32, 32.0)
    ds = cfg.datasets[0]
    assert (ds.cache_latents, ds.cache_text_embeddings, ds.repeats) == (False, False, 1)
    m = cfg.model
    assert m.uses_training_adapter and m.training_adapter.path.endswith("adapter_v2.safetensors")
    assert cfg.sample.add_trigger is False  # ai-toolkit never adds the trigger to samples
    assert cfg.sample.prompts[0].startswith("woman with red hair")
    assert (cfg.sample.steps, cfg.sample.guidance, cfg.sample.skip_first) == (9, 1.0, False)


def test_the_ui_job_exports_back_to_the_same_meaning():
    cfg, _ = import_aitk_dict(ui_job())
    job, notes = export_aitk(cfg)
    assert "likeness" not in job["meta"]  # every setting in ai-toolkit's own keys
    assert [n.split(":")[0] for n in notes] == [
        "NF4 quantisation of the transformer", "NF4 quantisation of the text encoder",
    ]  # fmt: skip
    back, report = import_aitk_dict(copy.deepcopy(job))
    assert back == cfg and report.unmapped == [] and report.as_aitk == []
    train = job["config"]["process"][0]["train"]
    assert train["timestep_type"] == "weighted" and train["unload_text_encoder"] is False
    assert "eps" not in train["optimizer_params"]


# -- optimizers: effective lr and eps ------------------------------------------------------


@pytest.mark.parametrize("name", ["prodigy", "prodigyopt", "Prodigy", "prodigy_schedulefree"])
def test_prodigy_runs_as_ai_toolkit_builds_it(name):
    from training.optim import build_optimizer

    job = with_train(optimizer=name, lr=1e-4, optimizer_params={"weight_decay": 0.01})
    cfg, report = import_aitk_dict(job)
    t = cfg.train
    assert (t.optimizer, t.lr, t.weight_decay) == ("prodigy", 1.0, 0.01)
    assert report.approximated_paths == [f"{P0}.model.qtype", f"{P0}.model.qtype_te"]
    assert report.as_aitk_paths == [f"{P0}.train.lr"]
    assert "set train.lr: 0.0001 in Likeness" in report.as_aitk[0].reason
    ours = build_optimizer(t, [torch.nn.Parameter(torch.ones(8, 8))])
    theirs = aitk_optimizer(job["config"]["process"][0]["train"],
                            [torch.nn.Parameter(torch.ones(8, 8))])  # fmt: skip
    g_ours, g_theirs = ours.param_groups[0], theirs.param_groups[0]
    for key in ("lr", "eps", "weight_decay", "d0", "betas", "use_bias_correction",
                "safeguard_warmup", "d_coef", "decouple"):  # fmt: skip
        assert g_ours[key] == g_theirs[key], key
    assert (g_ours["lr"], g_ours["eps"], g_ours["use_bias_correction"]) == (1.0, 1e-6, False)
    assert g_ours["safeguard_warmup"] is False


def test_prodigy_at_a_real_lr_keeps_it():
    cfg, report = import_aitk_dict(with_train(optimizer="prodigy", lr=0.5))
    assert cfg.train.lr == 0.5 and report.as_aitk == []


@pytest.mark.parametrize("name", ["adamw8bit", "adamw"])
def test_adam_types_step_exactly_like_ai_toolkit(name):
    from training.optim import build_optimizer

    job = with_train(optimizer=name, lr=1e-3)
    cfg, _ = import_aitk_dict(job)
    assert cfg.train.optimizer_args.eps == 1e-6
    torch.manual_seed(0)
    start = torch.randn(64, 80)
    p_ours, p_theirs = torch.nn.Parameter(start.clone()), torch.nn.Parameter(start.clone())
    ours = build_optimizer(cfg.train, [p_ours])
    theirs = aitk_optimizer(job["config"]["process"][0]["train"], [p_theirs])
    assert ours.param_groups[0]["eps"] == theirs.param_groups[0]["eps"] == 1e-6
    for _ in range(3):
        for p, opt in ((p_ours, ours), (p_theirs, theirs)):
            (p**2).sum().backward()
            opt.step()
            opt.zero_grad()
    assert torch.equal(p_ours.detach(), p_theirs.detach())


def test_weight_decay_defaults_are_the_optimizers_own():
    for name, expected in (("adamw8bit", 0.01), ("adamw", 0.01), ("prodigy", 0.0),
                           ("lion8bit", 0.0), ("adafactor", 0.0)):  # fmt: skip
        job = with_train(optimizer=name)
        del job["config"]["process"][0]["train"]["optimizer_params"]
        assert import_aitk_dict(job)[0].train.weight_decay == expected, name


def test_eps_in_optimizer_params_is_reported():
    """ai-toolkit passes eps=1e-6 itself; a second eps is a TypeError there."""
    job = with_train(optimizer_params={"weight_decay": 0.0, "eps": 1e-8})
    cfg, report = import_aitk_dict(job)
    assert cfg.train.optimizer_args.eps == 1e-8
    item = [i for i in report.approximated if i.path.endswith("optimizer_params.eps")][0]
    assert "stops with an error" in item.reason
    with pytest.raises(TypeError):
        aitk_optimizer(job["config"]["process"][0]["train"], [torch.nn.Parameter(torch.ones(2))])


def test_adafactor_is_never_clipped():
    cfg, report = import_aitk_dict(with_train(optimizer="adafactor", max_grad_norm=1.0))
    assert cfg.train.max_grad_norm == 0.0
    assert report.as_aitk_paths == [f"{P0}.train.max_grad_norm"]


# -- schedules ---------------------------------------------------------------------------------


def test_linear_is_torchs_linear_lr_rising_from_a_third():
    from training.optim import build_optimizer, build_scheduler

    job = with_train(lr_scheduler="linear", steps=100)
    cfg, report = import_aitk_dict(job)
    assert cfg.train.scheduler == "linear_lr"
    assert report.as_aitk_paths == [f"{P0}.train.lr_scheduler"]
    opt = build_optimizer(cfg.train, [torch.nn.Parameter(torch.zeros(2))])
    lrs = lr_curve(build_scheduler(cfg.train, opt), opt, 100)
    # lr x (1/3 + 2/3 x step / 100)
    assert lrs[0] == pytest.approx(1e-4 / 3)
    assert lrs[50] == pytest.approx(2e-4 / 3)
    assert lrs[99] == pytest.approx(1e-4 * (1 / 3 + 2 / 3 * 0.99))


@pytest.mark.parametrize(
    "sched",
    [
        {"lr_scheduler": "constant"},
        {"lr_scheduler": "cosine"},
        {"lr_scheduler": "cosine_with_restarts"},
        {"lr_scheduler": "linear"},
        {"lr_scheduler": "linear", "lr_scheduler_params": {"start_factor": 0.1, "end_factor": 0.5}},
        {"lr_scheduler": "constant_with_warmup", "lr_scheduler_params": {"num_warmup_steps": 20}},
        {"lr_scheduler": "constant_with_warmup"},  # ai-toolkit's default warm-up of 1000
    ],
)
def test_imported_schedules_match_ai_toolkit_step_by_step(sched):
    from training.optim import build_optimizer, build_scheduler

    job = with_train(steps=1200, **sched)
    cfg, _ = import_aitk_dict(job)
    ours_opt = build_optimizer(cfg.train, [torch.nn.Parameter(torch.zeros(2))])
    ours = lr_curve(build_scheduler(cfg.train, ours_opt), ours_opt, 1200)
    theirs_opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-4)
    theirs = lr_curve(aitk_scheduler(job["config"]["process"][0]["train"], theirs_opt),
                      theirs_opt, 1200)  # fmt: skip
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize(
    ("train", "noted"),
    [
        ({"scheduler": "constant"}, None),
        ({"scheduler": "cosine"}, None),
        ({"scheduler": "cosine", "warmup_steps": 30}, "warm-up"),
        ({"scheduler": "cosine_with_restarts", "num_cycles": 1}, None),
        ({"scheduler": "cosine_with_restarts", "num_cycles": 3}, "cosine cycles"),
        ({"scheduler": "constant_with_warmup", "warmup_steps": 30}, None),
        ({"scheduler": "linear"}, None),
        ({"scheduler": "linear", "warmup_steps": 30}, "warm-up"),
        ({"scheduler": "linear_lr", "lr_start_factor": 0.5, "lr_end_factor": 0.0}, None),
    ],
)
def test_exported_schedules_run_in_ai_toolkit_and_mean_the_same(train, noted):
    from training.optim import build_optimizer, build_scheduler

    cfg = validate_config({
        "name": "x", "trigger": "t0k", "datasets": [{"folder": "/d"}],
        "train": {"steps": 200, "optimizer": "adamw", "lr": 1e-4, **train},
    })  # fmt: skip
    job, notes = export_aitk(cfg)
    aitk_train = job["config"]["process"][0]["train"]
    theirs_opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1e-4)
    theirs = lr_curve(aitk_scheduler(aitk_train, theirs_opt), theirs_opt, 200)  # no TypeError
    sched_notes = [n for n in notes if noted and noted in n]
    if noted is None:
        ours_opt = build_optimizer(cfg.train, [torch.nn.Parameter(torch.zeros(2))])
        ours = lr_curve(build_scheduler(cfg.train, ours_opt), ours_opt, 200)
        assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-12)
    else:
        assert len(sched_notes) == 1, notes
    assert import_aitk_dict(job)[0] == cfg


def test_scheduler_keys_that_crash_ai_toolkit_are_reported():
    job = with_train(lr_scheduler="cosine", lr_scheduler_params={"num_warmup_steps": 50})
    cfg, report = import_aitk_dict(job)
    assert cfg.train.warmup_steps == 50
    item = [i for i in report.approximated if i.path.endswith("num_warmup_steps")][0]
    assert "stops with an error" in item.reason
    with pytest.raises(TypeError):
        aitk_scheduler(job["config"]["process"][0]["train"],
                       torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))]))  # fmt: skip
    job = with_train(lr_scheduler="cosine_with_restarts", lr_scheduler_params={"num_cycles": 3})
    cfg, report = import_aitk_dict(job)
    assert cfg.train.num_cycles == 3 and any("num_cycles" in p for p in report.approximated_paths)


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
