"""Model loading, LoRA targets, the training adapter and NF4 on the tiny Z-Image."""

from __future__ import annotations

import re

import pytest

from tests.training.tiny_zimage import (
    save_comfy_transformer,
    tiny_config,
    tiny_model_dir,
    write_config,
)

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory)


def _cfg(tmp_path, model_dir, **kw):
    from training.config import validate_config

    (tmp_path / "d").mkdir(exist_ok=True)
    return validate_config(tiny_config(tmp_path, model_dir, tmp_path / "d", **kw))


def _forward(transformer, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = [torch.randn(16, 1, 4, 4, generator=g)]
    cap = [torch.randn(6, 32, generator=g)]
    with torch.no_grad():
        return transformer(x, torch.tensor([0.4]), cap, return_dict=False)[0][0]


def test_single_file_transformer_loads_like_the_folder(model_dir, tmp_path):
    from training.model import load_components

    file = save_comfy_transformer(model_dir, tmp_path / "z_image_turbo.safetensors")
    folder = load_components(_cfg(tmp_path, model_dir), torch.float32)
    single = load_components(
        _cfg(
            tmp_path,
            model_dir,
            model={
                "source": "single_file",
                "name_or_path": str(model_dir),
                "transformer_file": str(file),
                "training_adapter": {"enabled": False},
            },
        ),
        torch.float32,
    )
    a, b = folder.transformer.state_dict(), single.transformer.state_dict()
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)
    assert "z_image_turbo.safetensors" in single.description


def test_lora_targets_only_the_main_layers(model_dir, tmp_path):
    from training.model import USER_ADAPTER, add_lora, load_components

    cfg = _cfg(tmp_path, model_dir)
    comps = load_components(cfg, torch.float32)
    params = add_lora(comps.transformer, cfg.network)
    targeted = sorted(
        {n.split(".lora_")[0] for n, _ in comps.transformer.named_parameters() if ".lora_" in n}
    )
    assert len(targeted) == 2 * 8
    pattern = re.compile(
        r"^layers\.\d+\.(attention\.(to_q|to_k|to_v|to_out\.0)|feed_forward\.(w1|w2|w3)"
        r"|adaLN_modulation\.0)$"
    )
    assert all(pattern.match(t) for t in targeted), targeted
    assert not any(
        t.startswith(("all_final_layer", "noise_refiner", "context_refiner")) for t in targeted
    )
    trainable = [n for n, p in comps.transformer.named_parameters() if p.requires_grad]
    assert len(trainable) == len(params) == 2 * 16
    assert all(f".{USER_ADAPTER}." in n for n in trainable)
    assert all(p.dtype == torch.float32 for p in params)


def _random_adapter(transformer, path):
    from safetensors.torch import save_file

    g = torch.Generator().manual_seed(3)
    sd = {}
    for name, mod in transformer.named_modules():
        if re.match(r"^layers\.\d+\.attention\.(to_q|to_v)$", name):
            sd[f"diffusion_model.{name}.lora_A.weight"] = (
                torch.randn(2, mod.in_features, generator=g) * 0.3
            )
            sd[f"diffusion_model.{name}.lora_B.weight"] = (
                torch.randn(mod.out_features, 2, generator=g) * 0.3
            )
    save_file(sd, str(path))
    return path


def test_training_adapter_is_merged_and_undone_for_previews(model_dir, tmp_path):
    from training.model import (
        TRAINING_ADAPTER,
        USER_ADAPTER,
        load_components,
        prepare_transformer,
        training_adapter_state,
    )

    cfg = _cfg(tmp_path, model_dir)
    comps = load_components(cfg, torch.float32)
    original = _forward(comps.transformer)
    w_before = comps.transformer.layers[0].attention.to_q.weight.detach().clone()
    path = _random_adapter(comps.transformer, tmp_path / "adapter.safetensors")
    adapter = training_adapter_state(str(path))
    prepare_transformer(comps, cfg, torch.device("cpu"), torch.float32, adapter)
    t = comps.transformer
    merged_w = t.layers[0].attention.to_q.base_layer.weight
    assert not torch.allclose(merged_w, w_before)  # merged into the base weights
    merged = _forward(t)
    assert not torch.allclose(merged, original, atol=1e-4)
    t.eval()
    t.set_adapters([USER_ADAPTER, TRAINING_ADAPTER], [1.0, -1.0])  # preview setting
    assert torch.allclose(_forward(t), original, atol=1e-4)  # de-distillation undone
    t.set_adapters([USER_ADAPTER], [1.0])
    assert torch.allclose(_forward(t), merged, atol=1e-6)


def test_run_with_training_adapter_and_previews(model_dir, tmp_path):
    from diffusers import ZImageTransformer2DModel

    from training.events import ListSink
    from training.runner import run

    transformer = ZImageTransformer2DModel.from_pretrained(str(model_dir), subfolder="transformer")
    adapter = _random_adapter(transformer, tmp_path / "adapter.safetensors")
    cfg = tiny_config(
        tmp_path,
        model_dir,
        train={"steps": 2},
        model={
            "source": "local",
            "name_or_path": str(model_dir),
            "training_adapter": {"enabled": True, "path": str(adapter)},
        },
    )
    sink = ListSink()
    assert run(write_config(tmp_path / "a.yaml", cfg), resume=False, sink=sink) == 0, sink.of(
        "error"
    )
    manifest = (tmp_path / "runs" / "tiny" / "samples" / "2" / "manifest.json").read_text()
    assert '"training_adapter_weight": -1.0' in manifest
    from safetensors import safe_open

    with safe_open(str(tmp_path / "runs" / "tiny" / "tiny.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert keys and not any("training_adapter" in k for k in keys)  # never shipped in the LoRA
    assert len(keys) == 2 * 8 * 2


def test_nf4_quantises_all_but_embedders_and_final_layer(model_dir, tmp_path):
    bnb = pytest.importorskip("bitsandbytes")
    from training.model import add_lora, load_components, quantize_nf4

    cfg = _cfg(tmp_path, model_dir)
    comps = load_components(cfg, torch.float32)
    n = quantize_nf4(comps.transformer, torch.float32)
    comps.transformer.to("cpu")
    t = comps.transformer
    assert n > 0
    assert isinstance(t.layers[0].attention.to_q, bnb.nn.Linear4bit)
    assert isinstance(t.layers[0].adaLN_modulation[0], bnb.nn.Linear4bit)
    assert type(t.all_final_layer["2-1"].linear) is torch.nn.Linear
    assert type(t.cap_embedder[1]) is torch.nn.Linear
    assert type(t.all_x_embedder["2-1"]) is torch.nn.Linear
    assert type(t.t_embedder.mlp[0]) is torch.nn.Linear
    add_lora(t, cfg.network)
    assert (
        "Linear4bit"
        in type(t.layers[0].attention.to_q).__module__ + type(t.layers[0].attention.to_q).__name__
    )
    assert torch.isfinite(_forward(t)).all()


def test_nf4_run_trains_on_cpu(model_dir, tmp_path):
    pytest.importorskip("bitsandbytes")
    from training.events import ListSink
    from training.runner import run

    cfg = tiny_config(
        tmp_path,
        model_dir,
        train={"steps": 2, "optimizer": "adamw8bit"},
        model={
            "source": "local",
            "name_or_path": str(model_dir),
            "quantize_transformer": "nf4",
            "training_adapter": {"enabled": False},
        },
        sample={"enabled": False},
    )
    sink = ListSink()
    assert run(write_config(tmp_path / "q.yaml", cfg), resume=False, sink=sink) == 0, sink.of(
        "error"
    )
    losses = [e["loss"] for e in sink.of("step")]
    assert len(losses) == 2 and all(0 < x < 100 for x in losses)


def test_comfy_text_encoder_file_loads(model_dir, tmp_path):
    from safetensors.torch import save_file
    from transformers import AutoModel

    from training.errors import ModelLoadError
    from training.model import _text_encoder_from_file

    te = AutoModel.from_pretrained(str(model_dir), subfolder="text_encoder")
    state = {f"model.{k}": v.contiguous() for k, v in te.state_dict().items()}
    save_file(state, str(tmp_path / "qwen_3.safetensors"))
    loaded = _text_encoder_from_file(str(model_dir), tmp_path / "qwen_3.safetensors", torch.float32)
    a, b = te.state_dict(), loaded.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    save_file({"model.norm.weight": a["norm.weight"]}, str(tmp_path / "wrong.safetensors"))
    with pytest.raises(ModelLoadError, match="does not match"):
        _text_encoder_from_file(str(model_dir), tmp_path / "wrong.safetensors", torch.float32)


@pytest.mark.gpu
def test_bf16_nf4_run_on_cuda(model_dir, tmp_path):
    """On a GPU: bf16 autocast, NF4 transformer and text encoder, VRAM in the step events."""
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    from training.events import ListSink
    from training.runner import run

    cfg = tiny_config(
        tmp_path,
        model_dir,
        device="cuda",
        train={"steps": 3, "optimizer": "adamw8bit"},
        model={
            "source": "local",
            "name_or_path": str(model_dir),
            "quantize_transformer": "nf4",
            "quantize_text_encoder": "nf4",
            "training_adapter": {"enabled": False},
        },
    )
    sink = ListSink()
    assert run(write_config(tmp_path / "g.yaml", cfg), resume=False, sink=sink) == 0, sink.of(
        "error"
    )
    steps = sink.of("step")
    assert len(steps) == 3 and all(e["vram_gb"] is not None and e["vram_gb"] > 0 for e in steps)
    assert not any(w["code"] == "no_gpu" for w in sink.of("warning"))
    assert sink.of("sample_saved")
