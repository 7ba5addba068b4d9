"""A tiny random Z-Image pipeline built offline, for the trainer's CPU tests.

Every component is the real class the full model uses (byte-level ``Qwen2Tokenizer`` with a
chat template, ``Qwen3Model``, a 16-channel ``AutoencoderKL`` that downsamples 8x,
``ZImageTransformer2DModel``, ``FlowMatchEulerDiscreteScheduler`` with shift 3), only with
tiny sizes and random weights. ``build_tiny_pipeline(folder)`` writes it with
``save_pretrained`` so the trainer goes through its real loading path.
"""

from __future__ import annotations

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}"
    "<think>\n\n</think>\n\n{% endif %}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]

TEXT_DIM = 32
TRANSFORMER_DIM = 32
TRANSFORMER_HEADS = 2
AXES_DIMS = [4, 6, 6]  # sum == TRANSFORMER_DIM / TRANSFORMER_HEADS
# Wide enough that every LoRA matrix of rank >= 16 has >= 4096 elements, the size from which
# bitsandbytes' 8-bit optimizers quantise their state (``min_8bit_size``) and share their
# quantisation maps between parameters: the real code path of every preset.
REAL_PATH_DIM = 256


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins GPT-2 style byte-level BPE uses for raw bytes."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def build_tokenizer():
    from transformers import Qwen2Tokenizer

    vocab = {tok: i for i, tok in enumerate(SPECIAL_TOKENS)}
    for ch in _byte_alphabet():
        vocab.setdefault(ch, len(vocab))
    return Qwen2Tokenizer(vocab=vocab, merges=[], chat_template=CHAT_TEMPLATE)


def build_components(seed: int = 0, dim: int = TRANSFORMER_DIM) -> dict:
    import torch
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler, ZImageTransformer2DModel
    from transformers import Qwen3Config, Qwen3Model

    torch.manual_seed(seed)
    tokenizer = build_tokenizer()
    text_config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=TEXT_DIM,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=1024,
    )
    text_encoder = Qwen3Model(text_config).eval()
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16),
        layers_per_block=1,
        latent_channels=16,
        norm_num_groups=8,
        sample_size=64,
        scaling_factor=0.3611,
        shift_factor=0.1159,
        use_quant_conv=False,
        use_post_quant_conv=False,
        mid_block_add_attention=True,
    ).eval()
    transformer = ZImageTransformer2DModel(
        all_patch_size=(2,),
        all_f_patch_size=(1,),
        in_channels=16,
        dim=dim,
        n_layers=2 if dim == TRANSFORMER_DIM else 1,  # wide models: one layer, for speed
        n_refiner_layers=1,
        n_heads=TRANSFORMER_HEADS,
        n_kv_heads=TRANSFORMER_HEADS,
        cap_feat_dim=TEXT_DIM,
        axes_dims=AXES_DIMS if dim == TRANSFORMER_DIM else _axes(dim // TRANSFORMER_HEADS),
        axes_lens=[1024, 64, 64],
    ).eval()
    # The pad tokens start at zero in the real init; random values make the test stronger.
    with torch.no_grad():
        for p in transformer.parameters():
            if p.abs().sum() == 0:
                p.normal_(0, 0.02)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    return {
        "tokenizer": tokenizer,
        "text_encoder": text_encoder,
        "vae": vae,
        "transformer": transformer,
        "scheduler": scheduler,
    }


def _axes(head_dim: int) -> list[int]:
    """Rotary axes (frame, height, width) summing to ``head_dim``, each even."""
    side = (head_dim // 3) // 2 * 2
    return [head_dim - 2 * side, side, side]


def build_tiny_pipeline(folder: Path, seed: int = 0, dim: int = TRANSFORMER_DIM) -> Path:
    """Write a tiny random Z-Image pipeline (diffusers layout) into ``folder``."""
    from diffusers import ZImagePipeline

    pipe = ZImagePipeline(**build_components(seed, dim))
    pipe.save_pretrained(str(folder), safe_serialization=True)
    return folder


def comfy_transformer_state_dict(transformer) -> dict:
    """The transformer's weights under the original (ComfyUI single-file) names."""
    import torch

    sd = {k: v.detach().clone() for k, v in transformer.state_dict().items()}
    out: dict = {}
    for key in list(sd):
        if key.endswith(".attention.to_q.weight"):
            base = key[: -len(".to_q.weight")]
            out[f"{base}.qkv.weight"] = torch.cat(
                [sd[f"{base}.to_q.weight"], sd[f"{base}.to_k.weight"], sd[f"{base}.to_v.weight"]]
            )
    for key, value in sd.items():
        if any(key.endswith(f".attention.to_{p}.weight") for p in "qkv"):
            continue
        new = (
            key.replace("all_final_layer.2-1.", "final_layer.")
            .replace("all_x_embedder.2-1.", "x_embedder.")
            .replace(".attention.to_out.0.", ".attention.out.")
            .replace(".attention.norm_q.", ".attention.q_norm.")
            .replace(".attention.norm_k.", ".attention.k_norm.")
        )
        out[new] = value
    return out


def save_comfy_transformer(folder: Path, path: Path) -> Path:
    """Save the tiny pipeline's transformer as a ComfyUI-style single file."""
    from diffusers import ZImageTransformer2DModel
    from safetensors.torch import save_file

    transformer = ZImageTransformer2DModel.from_pretrained(str(folder), subfolder="transformer")
    save_file(
        {k: v.contiguous() for k, v in comfy_transformer_state_dict(transformer).items()}, str(path)
    )
    return path


def make_dataset(folder: Path, count: int = 4, size: tuple[int, int] = (256, 256)) -> Path:
    """Small coloured images with captions, in a kohya ``2_t0ken`` folder (2 repeats)."""
    import numpy as np
    from PIL import Image

    sub = folder / "2_t0ken"
    sub.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    for i in range(count):
        w, h = size if i % 2 == 0 else (size[0], int(size[1] * 1.5))
        arr = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        arr[: h // 2] = (arr[: h // 2] // 4) + np.array([40 * i, 20, 200 - 30 * i], dtype=np.uint8)
        Image.fromarray(arr).save(sub / f"img{i}.png")
        (sub / f"img{i}.txt").write_text(f"a photo of t0ken, pose {i}", encoding="utf-8")
    return folder


# ---- pytest helpers ------------------------------------------------------------------------

_BUILT: dict[str, Path] = {}


def tiny_model_dir(tmp_path_factory, dim: int = TRANSFORMER_DIM) -> Path:
    """Build the tiny pipeline once per test session (shared by every test module)."""
    key = f"model-{dim}"
    if key not in _BUILT:
        folder = tmp_path_factory.mktemp(f"tiny-zimage-{dim}") / "model"
        _BUILT[key] = build_tiny_pipeline(folder, dim=dim)
    return _BUILT[key]


def tiny_config(tmp_path: Path, model_dir: Path, data_dir: Path | None = None, **sections) -> dict:
    """A run config dict for the tiny model; ``sections`` are merged into the defaults."""
    if data_dir is None:
        data_dir = make_dataset(tmp_path / "data")
    cfg = {
        "name": "tiny",
        "trigger": "t0ken",
        "training_folder": str(tmp_path / "runs"),
        "device": "cpu",
        "model": {
            "source": "local",
            "name_or_path": str(model_dir),
            "training_adapter": {"enabled": False},
        },
        "network": {"rank": 4, "alpha": 4},
        "train": {"steps": 4, "optimizer": "adamw", "lr": 1e-3, "caption_dropout": 0.0},
        "save": {"every": 2, "keep_last": 3},
        "datasets": [{"folder": str(data_dir), "resolutions": [256]}],
        "sample": {
            "every": 2,
            "prompts": ["a photo of t0ken"],
            "width": 256,
            "height": 256,
            "steps": 2,
        },
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key] = {**cfg[key], **value}
        else:
            cfg[key] = value
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path
