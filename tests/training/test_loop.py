"""The training loop on the tiny random Z-Image: objective, timestep sampling, a full run.

Small ranks here: the objective and sampling do not depend on them; the real sizes of every
preset are in ``test_real_sizes.py``.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.training.tiny_zimage import tiny_config, tiny_model_dir, write_config

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory)


def test_sigmas_are_in_range_deterministic_and_shaped():
    from training.objective import sample_sigmas

    for kind in ("sigmoid", "uniform", "shift", "weighted"):
        a = sample_sigmas(kind, 4000, torch.Generator().manual_seed(1), 3.0)
        b = sample_sigmas(kind, 4000, torch.Generator().manual_seed(1), 3.0)
        assert torch.equal(a, b)
        assert float(a.min()) > 0 and float(a.max()) < 1
    sig = sample_sigmas("sigmoid", 4000, torch.Generator().manual_seed(2))
    assert abs(float(sig.median()) - 0.5) < 0.03  # logit-normal(0, 1) is centred
    assert float(sig.std()) < float(sample_sigmas("uniform", 4000, torch.Generator()).std())
    shifted = sample_sigmas("shift", 4000, torch.Generator().manual_seed(3), 3.0)
    assert float(shifted.mean()) > 0.65  # shift 3 pushes towards noise
    with pytest.raises(ValueError):
        sample_sigmas("nope", 1, torch.Generator())


def test_flow_matching_loss_matches_the_objective(model_dir):
    from diffusers import ZImageTransformer2DModel

    from training.objective import flow_matching_loss

    transformer = ZImageTransformer2DModel.from_pretrained(str(model_dir), subfolder="transformer")
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(2, 16, 4, 4, generator=g)
    noise = torch.randn(2, 16, 4, 4, generator=g)
    embeds = [torch.randn(5, 32, generator=g), torch.randn(7, 32, generator=g)]
    sigmas = torch.tensor([0.3, 0.8])
    loss = flow_matching_loss(transformer, x0, embeds, sigmas, noise)

    s = sigmas.view(-1, 1, 1, 1)
    x_t = (1 - s) * x0 + s * noise
    with torch.no_grad():
        out = transformer([x.unsqueeze(1) for x in x_t], 1 - sigmas, embeds, return_dict=False)[0]
    manual = ((-torch.stack([o.squeeze(1) for o in out]) - (noise - x0)) ** 2).mean()
    assert torch.allclose(loss, manual, atol=1e-6)


def test_per_sample_losses_mean_back_to_the_logged_loss(model_dir, tmp_path):
    """Step.items: one (image, loss, t) per sample, from the same forward pass as the loss."""
    from training.events import ListSink
    from training.objective import flow_matching_loss, flow_matching_sample_losses
    from training.runner import run

    cfg = tiny_config(tmp_path, model_dir, sample={"enabled": False})
    cfg["train"].update({"steps": 3, "gradient_accumulation": 3, "timestep_sampling": "weighted"})
    sink = ListSink()
    assert run(write_config(tmp_path / "run.yaml", cfg), resume=False, sink=sink) == 0
    data = tmp_path / "data"
    rels = {q.relative_to(data).as_posix() for q in data.rglob("*") if q.suffix in (".png", ".jpg")}
    seen_t = set()
    for e in sink.of("step"):
        items = e["items"]
        assert len(items) == 3  # batch 1 x 3 micro-batches
        assert {it["image"] for it in items} <= rels
        assert all(0 < it["t"] < 1 and it["loss"] > 0 for it in items)
        mean = sum(it["loss"] for it in items) / len(items)
        assert mean == pytest.approx(e["loss"], rel=1e-6)
        seen_t |= {it["t"] for it in items}
    assert len(seen_t) > 3  # real per-sample timesteps, not one value repeated

    # a batch of two: the per-sample losses average to the batch loss
    from diffusers import ZImageTransformer2DModel

    transformer = ZImageTransformer2DModel.from_pretrained(str(model_dir), subfolder="transformer")
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, 16, 4, 4, generator=g), torch.randn(2, 16, 4, 4, generator=g)
    embeds = [torch.randn(5, 32, generator=g), torch.randn(7, 32, generator=g)]
    sigmas, w = torch.tensor([0.2, 0.9]), torch.tensor([0.5, 1.5])
    with torch.no_grad():
        per = flow_matching_sample_losses(transformer, x0, embeds, sigmas, noise, "mse", w)
        whole = flow_matching_loss(transformer, x0, embeds, sigmas, noise, "mse", w)
    assert per.shape == (2,) and per[0] != per[1]
    assert torch.allclose(per.mean(), whole, atol=1e-7)


def test_end_to_end_run_caches_trains_samples_and_saves_a_comfy_lora(model_dir, tmp_path):
    from diffusers import ZImagePipeline
    from safetensors import safe_open

    from training.events import ListSink
    from training.runner import run

    cfg = tiny_config(tmp_path, model_dir, network={"rank": 4, "alpha": 8})
    path = write_config(tmp_path / "run.yaml", cfg)
    sink = ListSink()
    assert run(path, resume=False, sink=sink) == 0, sink.of("error")

    names = [e["event"] for e in sink.events]
    assert names.index("started") < names.index("cache_progress") < names.index("step")
    assert names[-1] == "done" and sink.events[-1]["reason"] == "finished"
    steps = sink.of("step")
    assert [e["step"] for e in steps] == [1, 2, 3, 4]
    for e in steps:
        assert set(e) == {"event", "step", "loss", "lr", "it_s", "eta_s", "vram_gb", "items"}
        assert e["loss"] > 0 and e["lr"] == pytest.approx(1e-3)
    assert any(w["code"] == "no_gpu" for w in sink.of("warning"))
    stages = {e["stage"] for e in sink.of("cache_progress")}
    assert stages == {"latents", "text"}

    run_dir = tmp_path / "runs" / "tiny"
    saved = [e["path"] for e in sink.of("checkpoint_saved")]
    assert saved[0].endswith("tiny_000000002.safetensors")
    assert saved[-1].endswith("tiny.safetensors")
    assert (run_dir / "config.yaml").exists()

    # samples: samples/<step>/<index>_<seed>.png + manifest
    samples = sink.of("sample_saved")
    assert {(e["step"], e["index"], e["seed"]) for e in samples} == {(2, 0, 42), (4, 0, 42)}
    manifest = json.loads((run_dir / "samples" / "4" / "manifest.json").read_text())
    assert manifest["items"][0]["file"] == "0_42.png" and manifest["steps"] == 2
    assert manifest["items"][0]["prompt"].startswith("a photo of t0ken")

    # keys: exactly the modules ComfyUI maps for Z-Image, with .alpha since alpha != rank
    final = run_dir / "tiny.safetensors"
    with safe_open(str(final), "pt") as f:
        keys = set(f.keys())
        meta = f.metadata()
        dtypes = {f.get_tensor(k).dtype for k in keys}
    pattern = re.compile(
        r"^diffusion_model\.layers\.\d+\.(attention\.(to_q|to_k|to_v|to_out\.0)"
        r"|feed_forward\.(w1|w2|w3)|adaLN_modulation\.0)\.(lora_A\.weight|lora_B\.weight|alpha)$"
    )
    assert keys and all(pattern.match(k) for k in keys), sorted(keys)[:5]
    assert len(keys) == 2 * 8 * 3  # 2 layers x 8 modules x (A, B, alpha)
    assert dtypes == {torch.bfloat16}
    assert meta["likeness.trigger"] == "t0ken" and meta["likeness.step"] == "4"
    assert meta["likeness.rank"] == "4" and float(meta["likeness.alpha"]) == 8.0
    assert json.loads(meta["likeness.run_config"])["name"] == "tiny"
    assert json.loads(meta["likeness.resolutions"]) == [256]

    # the LoRA loads through diffusers and changes the output
    pipe = ZImagePipeline.from_pretrained(str(model_dir))
    pipe.set_progress_bar_config(disable=True)

    def render():
        out = pipe(
            "a photo of t0ken",
            height=256,
            width=256,
            num_inference_steps=2,
            guidance_scale=0.0,
            generator=torch.Generator().manual_seed(5),
            output_type="pt",
        )
        return out.images

    before = render()
    pipe.load_lora_weights(str(final))
    after = render()
    assert (after - before).abs().max() > 1e-3


def test_lora_weights_actually_train(model_dir, tmp_path):
    """lora_B starts at zero and trains; diffusers reads the file as W + alpha/rank * B @ A."""
    from safetensors.torch import load_file

    from training.events import ListSink
    from training.runner import run

    cfg = tiny_config(
        tmp_path,
        model_dir,
        train={
            "steps": 2,
            "optimizer": "adamw8bit",
            "lr": 1e-2,
            "gradient_accumulation": 2,
            "batch_size": 2,
            "scheduler": "cosine",
            "timestep_sampling": "weighted",
            "ema": {"enabled": True, "decay": 0.5},
        },
        sample={"enabled": False},
        save={"every": 10, "dtype": "fp32"},
        network={"rank": 4, "alpha": 8},
    )
    sink = ListSink()
    assert run(write_config(tmp_path / "r.yaml", cfg), resume=False, sink=sink) == 0, sink.of(
        "error"
    )
    final = tmp_path / "runs" / "tiny" / "tiny.safetensors"
    sd = load_file(str(final))
    b = [v for k, v in sd.items() if k.endswith("lora_B.weight")]
    assert b and all(v.dtype == torch.float32 for v in b)
    assert max(float(v.abs().max()) for v in b) > 0
    alphas = {k: float(v) for k, v in sd.items() if k.endswith(".alpha")}
    assert alphas and set(alphas.values()) == {8.0}  # alpha 8 != rank 4

    # diffusers reads the file with the standard LoRA maths: W + alpha / rank * B @ A
    from diffusers import ZImageTransformer2DModel

    merged = ZImageTransformer2DModel.from_pretrained(str(model_dir), subfolder="transformer")
    with torch.no_grad():
        for key, a in sd.items():
            if not key.endswith(".lora_A.weight"):
                continue
            module = key.removeprefix("diffusion_model.").removesuffix(".lora_A.weight")
            b_w = sd[key.replace("lora_A", "lora_B")]
            scale = alphas[f"diffusion_model.{module}.alpha"] / a.shape[0]
            merged.get_submodule(module).weight += scale * (b_w @ a)
    loaded = ZImageTransformer2DModel.from_pretrained(str(model_dir), subfolder="transformer")
    from diffusers import ZImagePipeline

    ZImagePipeline.load_lora_into_transformer(
        ZImagePipeline.lora_state_dict(str(final)), transformer=loaded
    )
    g = torch.Generator().manual_seed(1)
    x = [torch.randn(16, 1, 4, 4, generator=g)]
    cap = [torch.randn(6, 32, generator=g)]
    with torch.no_grad():
        want = merged(x, torch.tensor([0.3]), cap, return_dict=False)[0][0]
        got = loaded(x, torch.tensor([0.3]), cap, return_dict=False)[0][0]
    assert torch.allclose(got, want, atol=1e-5), float((got - want).abs().max())


@pytest.mark.parametrize("kind", ["adamw", "adamw8bit", "lion8bit", "prodigy", "adafactor"])
def test_every_optimizer_builds_steps_and_round_trips_its_state(kind):
    from training.config import TrainConfig
    from training.optim import build_optimizer, build_scheduler, current_lr

    train = TrainConfig(optimizer=kind, lr=1.0 if kind == "prodigy" else 1e-3, steps=10)
    p = torch.nn.Parameter(torch.randn(64, 80))
    opt = build_optimizer(train, [p])
    sched = build_scheduler(train, opt)
    before = p.detach().clone()
    for _ in range(2):
        (p**2).sum().backward()
        opt.step()
        sched.step()
        opt.zero_grad()
    assert not torch.equal(before, p.detach())
    assert current_lr(opt, sched) > 0
    again = build_optimizer(train, [torch.nn.Parameter(p.detach().clone())])
    again.load_state_dict(opt.state_dict())  # resumable


@pytest.mark.parametrize(
    ("name", "extra", "check"),
    [
        ("constant", {}, lambda lrs: len(set(lrs)) == 1),
        (
            "constant_with_warmup",
            {"warmup_steps": 4},
            lambda lrs: lrs[0] < lrs[3] < lrs[4] == lrs[9],
        ),
        ("cosine", {}, lambda lrs: lrs[0] > lrs[5] > lrs[9]),
        ("linear", {"warmup_steps": 2}, lambda lrs: lrs[0] < lrs[2] > lrs[9]),
        ("cosine_with_restarts", {"num_cycles": 2}, lambda lrs: lrs[4] < lrs[5]),
    ],
)
def test_lr_schedules(name, extra, check):
    from training.config import TrainConfig
    from training.optim import build_optimizer, build_scheduler

    train = TrainConfig(optimizer="adamw", lr=1e-3, steps=10, scheduler=name, **extra)
    opt = build_optimizer(train, [torch.nn.Parameter(torch.zeros(2))])
    sched = build_scheduler(train, opt)
    lrs = []
    for _ in range(10):
        lrs.append(sched.get_last_lr()[0])
        opt.step()
        sched.step()
    assert check(lrs), lrs


def test_render_samples_with_guidance_walked_seeds_and_manifest(model_dir, tmp_path):
    from diffusers import ZImagePipeline

    from training.sampling import SamplePlan, render_samples

    pipe = ZImagePipeline.from_pretrained(str(model_dir))
    embeds = [pipe._encode_prompt(p, device=torch.device("cpu"))[0] for p in ("t0ken a", "t0ken b")]
    negative = pipe._encode_prompt("", device=torch.device("cpu"))[0]
    saved = []

    def plan(guidance):
        return SamplePlan(["t0ken a", "t0ken b"], embeds, negative, 256, 256, 2, guidance, 7, True)

    paths = render_samples(
        plan(2.0),
        transformer=pipe.transformer,
        vae=pipe.vae,
        scheduler=pipe.scheduler,
        device=torch.device("cpu"),
        step=5,
        run_dir=tmp_path,
        has_training_adapter=False,
        on_saved=lambda *a: saved.append(a),
    )
    assert [p.name for p in paths] == ["0_7.png", "1_8.png"]  # walked seeds
    assert [(i, seed) for i, seed, _, _ in saved] == [(0, 7), (1, 8)]
    import json

    manifest = json.loads((tmp_path / "samples" / "5" / "manifest.json").read_text())
    assert manifest["guidance"] == 2.0 and len(manifest["items"]) == 2
    no_cfg = render_samples(
        plan(1.0),
        transformer=pipe.transformer,
        vae=pipe.vae,
        scheduler=pipe.scheduler,
        device=torch.device("cpu"),
        step=6,
        run_dir=tmp_path,
        has_training_adapter=False,
    )
    from PIL import Image

    a, b = Image.open(paths[0]), Image.open(no_cfg[0])
    assert a.size == (256, 256) and list(a.getdata()) != list(b.getdata())  # guidance matters
