"""Reading and writing every LoRA layout, at the real key layout and real sizes."""

from __future__ import annotations

import json

import pytest

from tests.training.lora_fixtures import random_lora, small_lora

torch = pytest.importorskip("torch")


def _direct(mod):
    """B @ A * scale computed directly, in float64."""
    return (mod.up.double() @ mod.down.double()) * mod.scale


def _assert_same_delta(a, b, rel=1e-6):
    da, db = _direct(a), _direct(b)
    assert float((da - db).norm()) <= rel * float(da.norm()) + 1e-12


@pytest.fixture(scope="module")
def real_lora():
    """A rank-32 LoRA on every layer module of Z-Image-Turbo (30 layers, dim 3840), bf16."""
    return random_lora()


SAMPLED = (
    "layers.0.attention.to_q",
    "layers.0.attention.to_k",
    "layers.14.attention.to_v",
    "layers.29.attention.to_out.0",
    "layers.7.feed_forward.w2",
    "layers.29.adaLN_modulation.0",
)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["likeness", "comfyui", "diffusers", "musubi"])
def test_real_size_file_round_trips_in_every_format(real_lora, fmt, tmp_path):
    from safetensors import safe_open

    from training.lora.io import load_lora, save_lora
    from training.lora.ops import compare_loras

    out = save_lora(
        real_lora, tmp_path / f"{fmt}.safetensors", fmt=fmt, operation={"operation": "t"}
    )
    with safe_open(str(out), framework="pt") as fh:
        keys = set(fh.keys())
        meta = fh.metadata()
        if fmt == "comfyui":  # q/k/v fused onto ComfyUI's attention.qkv (rows 0/3840/7680)
            a = fh.get_tensor("diffusion_model.layers.0.attention.qkv.lora_A.weight")
            b = fh.get_tensor("diffusion_model.layers.0.attention.qkv.lora_B.weight")
            assert tuple(a.shape) == (96, 3840) and tuple(b.shape) == (11520, 96)
            assert float(b[:3840, 32:].abs().sum()) == 0.0  # block-diagonal
            assert (
                fh.get_tensor("diffusion_model.layers.5.attention.out.lora_A.weight").shape[0] == 32
            )
    expected_keys = {"likeness": 480, "comfyui": 360, "diffusers": 480, "musubi": 720}[fmt]
    assert len(keys) == expected_keys
    sample = {
        "likeness": "diffusion_model.layers.0.attention.to_q.lora_A.weight",
        "comfyui": "diffusion_model.layers.0.attention.qkv.lora_B.weight",
        "diffusers": "transformer.layers.0.attention.to_q.lora_A.weight",
        "musubi": "lora_unet_layers_0_attention_to_out_0.lora_up.weight",
    }[fmt]
    assert sample in keys
    assert meta["likeness.lora_format"] == fmt and meta["likeness.trigger"] == "l3yla"
    assert json.loads(meta["likeness.lora_history"])[0]["operation"] == "t"

    back = load_lora(out)
    assert back.source_format == fmt and back.dtype == "bf16"
    assert sorted(back.modules) == sorted(real_lora.modules)
    worst, only = compare_loras(real_lora, back)
    assert only == [] and worst == 0.0  # every layout holds the bf16 factors exactly
    for name in SAMPLED:
        _assert_same_delta(real_lora.modules[name], back.modules[name])
        assert back.modules[name].rank == 32  # the fused qkv is split back to rank 32 each


def test_refiners_modulation_and_alpha_in_every_format(tmp_path):
    from training.lora.io import load_lora, save_lora
    from training.lora.ops import compare_loras

    lora = small_lora(layers=3, refiners=True, scale=0.5)  # alpha 4 at rank 8
    lora.modules["layers.1.attention.to_k"].scale = 0.25  # q/k/v scales differ in one block
    del lora.modules["layers.2.attention.to_v"]  # and one block lacks v
    for fmt in ("likeness", "comfyui", "diffusers", "musubi", "musubi-fused"):
        back = load_lora(save_lora(lora, tmp_path / f"{fmt}.safetensors", fmt=fmt, dtype="fp32"))
        assert sorted(back.modules) == sorted(lora.modules), fmt
        worst, only = compare_loras(lora, back)
        assert not only and worst < 1e-6, (fmt, worst)
        for name in ("noise_refiner.1.adaLN_modulation.0", "layers.1.attention.to_k"):
            _assert_same_delta(lora.modules[name], back.modules[name], rel=1e-6)
    assert "context_refiner.0.adaLN_modulation.0" not in lora.modules


def test_musubi_fused_keys_are_what_comfyui_maps(tmp_path):
    """kohya-style keys on ComfyUI's own module names (``lora_unet_`` + its state-dict name with
    dots as underscores): fused qkv at rank 3r, ``attention_out``; the format is kept."""
    from safetensors import safe_open

    from training.lora.io import load_lora, save_lora

    lora = small_lora(layers=2, rank=4)
    out = save_lora(lora, tmp_path / "f.safetensors", fmt="musubi-fused")
    with safe_open(str(out), framework="pt") as fh:
        keys = set(fh.keys())
        assert fh.get_tensor("lora_unet_layers_1_attention_qkv.lora_up.weight").shape == (384, 12)
        assert float(fh.get_tensor("lora_unet_layers_1_attention_qkv.alpha")) == 12.0
    assert "lora_unet_layers_0_attention_out.lora_down.weight" in keys
    assert "lora_unet_layers_0_adaLN_modulation_0.lora_up.weight" in keys
    assert not any("to_q" in k or "to_out" in k for k in keys)
    back = load_lora(out)
    assert back.source_format == "musubi-fused" and sorted(back.modules) == sorted(lora.modules)


def _write(tmp_path, name, tensors, metadata=None):
    from safetensors.torch import save_file

    path = tmp_path / name
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path), metadata=metadata)
    return path


def test_other_trainers_layouts_are_read(tmp_path):
    """Keys exactly as ai-toolkit, peft (with its base_model.model. prefix), musubi-tuner and a
    ComfyUI fused converter write them."""
    from training.lora.io import load_lora

    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(4, 64, generator=g), torch.randn(64, 4, generator=g)
    aitk = _write(
        tmp_path,
        "aitk.safetensors",
        {
            "diffusion_model.layers.3.attention.to_q.lora_A.weight": a,
            "diffusion_model.layers.3.attention.to_q.lora_B.weight": b,
        },
        {"software": '{"name": "ai-toolkit"}'},
    )
    lora = load_lora(aitk)
    assert lora.source_format == "likeness" and lora.modules["layers.3.attention.to_q"].scale == 1
    assert any("another trainer" in n for n in lora.notes)

    peft = _write(
        tmp_path,
        "peft.safetensors",
        {
            "base_model.model.layers.0.feed_forward.w2.lora_A.weight": a,
            "base_model.model.layers.0.feed_forward.w2.lora_B.weight": b,
        },
    )
    assert load_lora(peft).source_format == "diffusers"

    musubi = _write(
        tmp_path,
        "musubi.safetensors",
        {
            "lora_unet_layers_12_attention_to_out_0.lora_down.weight": a,
            "lora_unet_layers_12_attention_to_out_0.lora_up.weight": b,
            "lora_unet_layers_12_attention_to_out_0.alpha": torch.tensor(2.0),
            "lora_unet_layers_12_feed_forward_w1.lora_down.weight": a.clone(),
            "lora_unet_layers_12_feed_forward_w1.lora_up.weight": b.clone(),
            "lora_unet_layers_12_feed_forward_w1.alpha": torch.tensor(4.0),
        },
    )
    lora = load_lora(musubi)
    assert lora.source_format == "musubi"
    assert lora.modules["layers.12.attention.to_out.0"].scale == 0.5
    assert lora.modules["layers.12.feed_forward.w1"].scale == 1.0

    # a fused qkv whose up is dense (not block-diagonal): each part shares the full down
    up = torch.randn(3 * 64, 6, generator=g)
    down = torch.randn(6, 64, generator=g)
    fused = _write(
        tmp_path,
        "fused.safetensors",
        {
            "lora_unet_layers_0_attention_qkv.lora_down.weight": down,
            "lora_unet_layers_0_attention_qkv.lora_up.weight": up,
            "lora_unet_layers_0_attention_qkv.alpha": torch.tensor(3.0),
        },
    )
    lora = load_lora(fused)
    full = up.double() @ down.double() * 0.5
    for i, comp in enumerate(("to_q", "to_k", "to_v")):
        mod = lora.modules[f"layers.0.attention.{comp}"]
        assert mod.rank == 6
        assert torch.allclose(_direct(mod), full[i * 64 : (i + 1) * 64], atol=1e-9)


@pytest.mark.parametrize(
    ("keys", "words"),
    [
        ({"lora_unet_layers_0_attention_to_q.lokr_w1": (4, 4)}, ["LoKr", "lokr_w1"]),
        ({"diffusion_model.layers.0.attention.to_q.hada_w1_a": (4, 4)}, ["LoHa", "hada_w1_a"]),
        (
            {"lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight": (4, 4)},
            ["not a Z-Image", "down_blocks_0"],
        ),
        ({"diffusion_model.layers.0.attention.to_q.lora_A.weight": (4, 8)}, ["no up weight"]),
        (
            {
                "diffusion_model.layers.0.attention.to_q.lora_A.weight": (4, 8),
                "diffusion_model.layers.0.attention.to_q.lora_B.weight": (8, 5),
            },
            ["do not fit"],
        ),
        (
            {
                "diffusion_model.layers.0.attention.to_q.lora_A.weight": (0, 8),
                "diffusion_model.layers.0.attention.to_q.lora_B.weight": (8, 0),
            },
            ["rank 0"],
        ),
        (
            {
                "diffusion_model.layers.2.attention.to_q.lora_A.weight": (4, 8),
                "diffusion_model.layers.2.attention.to_q.lora_B.weight": (8, 4, "nan"),
            },
            ["layers.2.attention.to_q", "NaN"],
        ),
    ],
)
def test_unsupported_and_broken_files_name_the_keys(tmp_path, keys, words):
    from training.lora.io import load_lora
    from training.lora.model import LoraError

    tensors = {
        k: torch.full(s[:2], float("nan")) if s[2:] == ("nan",) else torch.zeros(s)
        for k, s in keys.items()
    }
    path = _write(tmp_path, "x.safetensors", tensors)
    with pytest.raises(LoraError) as info:
        load_lora(path)
    for word in words:
        assert word in str(info.value)
    assert "x.safetensors" in str(info.value)


def test_pickle_and_garbage_files_are_refused(tmp_path):
    from training.lora.io import load_lora
    from training.lora.model import LoraError

    (tmp_path / "a.ckpt").write_bytes(b"\x80\x04not read")
    with pytest.raises(LoraError, match="pickle"):
        load_lora(tmp_path / "a.ckpt")
    (tmp_path / "b.safetensors").write_bytes(b"garbage")
    with pytest.raises(LoraError, match="not a readable safetensors"):
        load_lora(tmp_path / "b.safetensors")
    with pytest.raises(LoraError, match="cannot read"):
        load_lora(tmp_path / "missing.safetensors")


def test_outputs_never_replace_inputs_or_follow_symlinks(tmp_path):
    from training.lora.io import load_lora, save_lora
    from training.lora.model import LoraError

    src = save_lora(small_lora(layers=1), tmp_path / "a.safetensors")
    before = src.read_bytes()
    lora = load_lora(src)
    with pytest.raises(LoraError, match="input"):
        save_lora(lora, src, overwrite=True)
    (tmp_path / "link.safetensors").symlink_to(tmp_path / "elsewhere.safetensors")
    with pytest.raises(LoraError, match="symbolic link"):
        save_lora(lora, tmp_path / "link.safetensors")
    save_lora(lora, tmp_path / "b.safetensors")
    with pytest.raises(LoraError, match="exists"):
        save_lora(lora, tmp_path / "b.safetensors")
    src.chmod(0o640)
    save_lora(lora, tmp_path / "b.safetensors", overwrite=True)
    assert (tmp_path / "b.safetensors").stat().st_mode & 0o777 == 0o640  # like its input
    assert src.read_bytes() == before
    assert not (tmp_path / "elsewhere.safetensors").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.safetensors",
        "b.safetensors",
        "link.safetensors",
    ]  # no temporary files left


@pytest.mark.parametrize("fmt", ["likeness", "musubi", "diffusers"])
def test_diffusers_reads_our_files_as_the_same_deltas(tmp_path, fmt):
    """diffusers' own Z-Image LoRA reader (``ZImageLoraLoaderMixin.lora_state_dict``, which
    ``load_lora_weights`` uses) turns each written layout into the same B @ A * scale, with no
    key left over. (The ``comfyui`` layout is for ComfyUI: diffusers has no fused qkv module.)"""
    from diffusers.loaders.lora_pipeline import ZImageLoraLoaderMixin

    from training.lora.io import save_lora

    lora = small_lora(layers=2, refiners=True, scale=0.5, dtype="fp32")
    path = save_lora(lora, tmp_path / f"{fmt}.safetensors", fmt=fmt)
    state = ZImageLoraLoaderMixin.lora_state_dict(str(path))
    assert len(state) == 2 * len(lora.modules)
    for name, mod in lora.modules.items():
        down = state[f"transformer.{name}.lora_A.weight"].double()
        up = state[f"transformer.{name}.lora_B.weight"].double()
        assert torch.allclose(up @ down, _direct(mod), rtol=1e-5, atol=1e-9), name
