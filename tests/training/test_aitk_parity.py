"""ai-toolkit parity: an imported job trains what ai-toolkit would train, with the numbers.

The expectations restate ai-toolkit's behaviour as read in its source (toolkit/optimizer.py,
toolkit/scheduler.py, the Z-Image extension, BaseSDTrainProcess, SDTrainer, the data loader):
``aitk_scheduler`` and ``aitk_optimizer`` below build what ai-toolkit builds for a job's
train section, with the same torch / bitsandbytes / prodigyopt classes.
"""

from __future__ import annotations

import copy

import pytest

from tests.training.aitk_jobs import ui_job, with_train
from training.aitk import export_aitk, import_aitk_dict
from training.config import validate_config

torch = pytest.importorskip("torch")

P0 = "config.process[0]"


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
    if name == "lion8bit":
        return bnb.optim.Lion8bit(params, lr=lr, **extra)
    if name == "adafactor":  # ai-toolkit's own Adafactor takes the same keywords as this one
        from transformers.optimization import Adafactor

        flags = {"relative_step": False, "scale_parameter": False, "warmup_init": False}
        return Adafactor(params, lr=lr, **{**flags, **extra})
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
    p_ours, p_theirs = ours.param_groups[0]["params"][0], theirs.param_groups[0]["params"][0]
    for _ in range(3):  # the same steps, so the same adapted step size d
        for p, opt in ((p_ours, ours), (p_theirs, theirs)):
            (p**2).sum().backward()
            opt.step()
            opt.zero_grad()
    assert torch.equal(p_ours.detach(), p_theirs.detach())
    assert ours.param_groups[0]["d"] == theirs.param_groups[0]["d"] > 1e-6


def test_other_lr_free_optimizers_never_keep_lr_1_on_adamw():
    cfg, report = import_aitk_dict(with_train(optimizer="dadaptation", lr=1.0))
    assert (cfg.train.optimizer, cfg.train.lr) == ("prodigy", 1.0)
    cfg, report = import_aitk_dict(with_train(optimizer="automagic", lr=1.0))
    assert (cfg.train.optimizer, cfg.train.lr) == ("adamw8bit", 1e-4)
    assert any("would diverge" in i.reason for i in report.approximated)


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


@pytest.mark.parametrize("name", ["adamw", "adamw8bit", "prodigy", "lion8bit", "adafactor"])
def test_exported_optimizers_build_in_ai_toolkit(name):
    """Every optimizer_params key written is one the optimizer ai-toolkit builds accepts."""
    args = {"betas": [0.9, 0.99], "eps": 1e-7, "d0": 1e-5}
    cfg = validate_config({
        "name": "x", "trigger": "t0k", "datasets": [{"folder": "/d"}],
        "train": {"optimizer": name, "lr": 1.0 if name == "prodigy" else 1e-4,
                  "optimizer_args": args},
    })  # fmt: skip
    job, notes = export_aitk(cfg)
    train = job["config"]["process"][0]["train"]
    aitk_optimizer(train, [torch.nn.Parameter(torch.ones(4, 4))])  # no TypeError
    assert "eps" not in train["optimizer_params"]
    assert any(n.startswith("optimizer eps 1e-07") for n in notes)
    assert import_aitk_dict(job)[0] == cfg


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


def test_no_clipping_exports_as_a_norm_no_gradient_reaches():
    """ai-toolkit clips every step (but Adafactor); a norm of 0 would zero every gradient."""
    cfg = validate_config({"name": "x", "trigger": "t0k", "datasets": [{"folder": "/d"}],
                           "train": {"max_grad_norm": 0.0}})  # fmt: skip
    job, notes = export_aitk(cfg)
    assert job["config"]["process"][0]["train"]["max_grad_norm"] == 1e9
    assert not any("clip" in n for n in notes) and import_aitk_dict(job)[0] == cfg
    back, report = import_aitk_dict(with_train(max_grad_norm=0))
    assert back.train.max_grad_norm == 0.0
    assert any("zeroes every gradient" in i.reason for i in report.approximated)
    p = torch.nn.Parameter(torch.ones(3))
    (p**2).sum().backward()
    torch.nn.utils.clip_grad_norm_([p], 0.0)  # what ai-toolkit does with 0
    assert float(p.grad.abs().max()) == 0.0


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
