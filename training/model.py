"""Loading Z-Image for training: the components, the training adapter, NF4, and the LoRA.

* Sources: a Hugging Face id (resolved through the HF cache; downloaded when online), a local
  diffusers folder (``model_index.json``), or ComfyUI single files for the transformer / text
  encoder / VAE (``from_single_file``, with the configs and tokenizer from ``name_or_path``).
* The training adapter (a LoRA that de-distils Turbo) is merged into the full-precision
  transformer weights *before* optional NF4 quantisation; the same adapter is kept as an
  inactive peft adapter so previews can apply it at weight -1.
* NF4 (bitsandbytes) replaces the frozen transformer's Linear layers, except the embedders and
  the final layer, which stay in the compute dtype.
* The user LoRA (peft) targets ``layers.N`` attention q/k/v/out, feed_forward w1/w2/w3 and
  adaLN_modulation.0 through an anchored regex; its weights are float32.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.errors import ModelLoadError, is_cuda_oom

log = logging.getLogger(__name__)

USER_ADAPTER = "default"
TRAINING_ADAPTER = "training_adapter"
# Never quantised: precision-sensitive input embedders and the output layer.
NF4_SKIP = re.compile(
    r"^(all_x_embedder|cap_embedder|t_embedder|all_final_layer|siglip_embedder)\b"
)


@dataclass
class Components:
    tokenizer: Any
    text_encoder: Any
    vae: Any
    transformer: Any
    scheduler: Any
    description: str


def resolve_device(spec: str) -> tuple[Any, str | None]:
    """The torch device for ``cfg.device`` and a warning when it falls back to the CPU."""
    import torch

    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device()), None
        return torch.device("cpu"), (
            "no CUDA GPU found: training runs on the CPU, which is only practical for tiny "
            "test models (install the CUDA build of torch to use your GPU)"
        )
    if spec.startswith("cuda") and not torch.cuda.is_available():
        return torch.device(
            "cpu"
        ), f"device '{spec}' asked for, but no CUDA GPU is available: using the CPU"
    device = torch.device(spec)
    if device.type == "cpu":
        return device, "device is set to cpu: training is only practical for tiny test models"
    return device, None


def describe_device(device: Any) -> str:
    import torch

    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


def _load(what: str, source: str, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - every loader raises its own types (SafetensorError, ...)
        if is_cuda_oom(exc):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = (
            "it must be a .safetensors file of that component (no pickled .ckpt / .bin)"
            if Path(source).is_file()
            else "Check model.name_or_path (a Hugging Face id already downloaded, or a "
            "diffusers folder with model_index.json)"
        )
        raise ModelLoadError(f"cannot load the {what} from '{source}': {first}. {hint}") from exc


def _check_source(model_cfg: Any, name: str | None = None) -> str:
    """``name`` (default ``name_or_path``) as a hub id, or a checked local diffusers folder."""
    src = name or model_cfg.name_or_path
    local = model_cfg.source == "local" and name is None
    if local or Path(src).expanduser().is_absolute() or Path(src).exists():
        folder = Path(src).expanduser()
        if not folder.is_dir():
            raise ModelLoadError(f"model folder not found: {folder}")
        if not (folder / "model_index.json").is_file():
            raise ModelLoadError(
                f"{folder} is not a diffusers model folder (no model_index.json); for ComfyUI "
                f".safetensors files use model.source: single_file"
            )
        index = (folder / "model_index.json").read_text(encoding="utf-8", errors="replace")
        if "ZImage" not in index:
            raise ModelLoadError(
                f"{folder} is not a Z-Image model (model_index.json names another pipeline)"
            )
        return str(folder)
    return src


def load_components(
    cfg: Any,
    dtype: Any,
    *,
    text_encoder_nf4: bool = False,
    with_transformer: bool = True,
    vae_dtype: Any = None,
    device: Any = None,
) -> Components:
    """Load tokenizer, text encoder, VAE, scheduler and (optionally) the transformer on the CPU.

    The trainer loads the transformer only after the caches are built and the text encoder
    is freed (``load_transformer``), so both never sit in memory together.
    """
    from diffusers import AutoencoderKL, FlowMatchEulerDiscreteScheduler
    from transformers import AutoModel, AutoTokenizer

    m = cfg.model
    src = _check_source(m)
    if m.source == "single_file" and not Path(m.transformer_file).is_file():
        raise ModelLoadError(f"transformer file not found: {m.transformer_file}")
    common = {"revision": m.revision} if m.revision else {}
    main_src = src
    if m.extras_name_or_path:  # the parts besides the transformer come from elsewhere
        src, common = _check_source(m, m.extras_name_or_path), {}
    tokenizer = _load(
        "tokenizer", src, AutoTokenizer.from_pretrained, src, subfolder="tokenizer", **common
    )
    scheduler = _load(
        "scheduler",
        src,
        FlowMatchEulerDiscreteScheduler.from_pretrained,
        src,
        subfolder="scheduler",
        **common,
    )
    te_kwargs: dict[str, Any] = {"dtype": dtype, **common}
    if text_encoder_nf4:
        from transformers import BitsAndBytesConfig

        te_kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype
        )
        if device is not None:  # bitsandbytes quantises while loading onto the GPU
            te_kwargs["device_map"] = {"": str(device)}
    if m.source == "single_file" and m.text_encoder_file:
        text_encoder = _text_encoder_from_file(src, Path(m.text_encoder_file), dtype)
    else:
        text_encoder = _load(
            "text encoder",
            src,
            AutoModel.from_pretrained,
            src,
            subfolder="text_encoder",
            **te_kwargs,
        )
    if m.source == "single_file" and m.vae_file:
        vae = _load_file(
            "VAE",
            m.vae_file,
            AutoencoderKL.from_single_file,
            config=src,
            subfolder="vae",
            torch_dtype=vae_dtype or dtype,
        )
    else:
        vae = _load(
            "VAE",
            src,
            AutoencoderKL.from_pretrained,
            src,
            subfolder="vae",
            torch_dtype=vae_dtype or dtype,
            **common,
        )
    transformer, description = (None, main_src)
    if with_transformer:
        transformer, description = load_transformer(cfg, dtype)
    text_encoder.requires_grad_(False).eval()
    vae.requires_grad_(False).eval()
    return Components(tokenizer, text_encoder, vae, transformer, scheduler, description)


def load_transformer(cfg: Any, dtype: Any) -> tuple[Any, str]:
    """The frozen transformer (CPU) and a description of where it came from."""
    from diffusers import ZImageTransformer2DModel

    m = cfg.model
    src = _check_source(m)
    common = {"revision": m.revision} if m.revision else {}
    if m.source == "single_file":
        transformer = _load_file(
            "transformer",
            m.transformer_file,
            ZImageTransformer2DModel.from_single_file,
            config=src,
            subfolder="transformer",
            torch_dtype=dtype,
        )
        description = f"{Path(m.transformer_file).name} (configs from {src})"
    else:
        transformer = _load(
            "transformer",
            src,
            ZImageTransformer2DModel.from_pretrained,
            src,
            subfolder="transformer",
            torch_dtype=dtype,
            **common,
        )
        description = src
    transformer.requires_grad_(False)
    return transformer, description


def _load_file(what: str, path: Any, fn, **kwargs):
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{what} file not found: {path}")
    return _load(what, str(path), fn, str(path), **kwargs)


def _text_encoder_from_file(src: str, path: Path, dtype: Any):
    """A ComfyUI Qwen3 text-encoder file loaded into the diffusers folder's text encoder class."""
    from safetensors.torch import load_file
    from transformers import AutoConfig, AutoModel

    if not path.is_file():
        raise ModelLoadError(f"text encoder file not found: {path}")
    config = _load(
        "text encoder config", src, AutoConfig.from_pretrained, src, subfolder="text_encoder"
    )
    model = AutoModel.from_config(config, dtype=dtype)
    state = _load("text encoder", str(path), load_file, str(path))
    state = {k.removeprefix("model."): v for k, v in state.items() if not k.startswith("lm_head.")}
    # a weight of the wrong shape raises inside load_state_dict: model_not_found too
    missing, unexpected = _load(
        "text encoder", str(path), model.load_state_dict, state, strict=False
    )
    if missing:
        raise ModelLoadError(
            f"{path} does not match the text encoder ({len(missing)} weights missing, e.g. "
            f"{missing[0]}): use the Qwen3 file that belongs to Z-Image"
        )
    if unexpected:
        log.info("ignored %d extra text encoder weights in %s", len(unexpected), path)
    return model


def training_adapter_state(path_or_id: str) -> dict:
    """The training adapter's LoRA in diffusers format (local file, or hub ``repo/file``)."""
    from diffusers import ZImagePipeline

    path = Path(path_or_id).expanduser()
    if not path.is_file():
        parts = path_or_id.split("/")
        if len(parts) < 3 or Path(path_or_id).is_absolute():
            raise ModelLoadError(f"training adapter not found: {path_or_id}")
        from huggingface_hub import hf_hub_download

        repo, filename = "/".join(parts[:2]), "/".join(parts[2:])
        path = Path(_load("training adapter", path_or_id, hf_hub_download, repo, filename))
    state = _load("training adapter", str(path), ZImagePipeline.lora_state_dict, str(path))
    if not state:
        raise ModelLoadError(f"the training adapter {path} holds no LoRA weights")
    return {k.removeprefix("transformer."): v for k, v in state.items()}


def merge_training_adapter(transformer: Any, adapter: dict) -> None:
    """Fuse the adapter into the (unquantised) weights, then remove it as an adapter."""
    transformer.load_lora_adapter(dict(adapter), adapter_name=TRAINING_ADAPTER, prefix=None)
    transformer.fuse_lora(adapter_names=[TRAINING_ADAPTER], lora_scale=1.0)
    transformer.unload_lora()


def quantize_nf4(transformer: Any, compute_dtype: Any) -> int:
    """Replace the frozen Linear layers with bitsandbytes NF4 ones (quantised on ``.to``)."""
    import bitsandbytes as bnb
    import torch

    count = 0
    for name, module in list(transformer.named_modules()):
        if not isinstance(module, torch.nn.Linear) or NF4_SKIP.match(name):
            continue
        q = bnb.nn.Linear4bit(
            module.in_features,
            module.out_features,
            bias=module.bias is not None,
            compute_dtype=compute_dtype,
            quant_type="nf4",
            device="meta",
        )
        q.weight = bnb.nn.Params4bit(
            module.weight.data.to(compute_dtype), requires_grad=False, quant_type="nf4"
        )
        if module.bias is not None:
            q.bias = torch.nn.Parameter(module.bias.data.to(compute_dtype), requires_grad=False)
        parent_name, _, child = name.rpartition(".")
        parent = transformer.get_submodule(parent_name) if parent_name else transformer
        setattr(parent, child, q)
        count += 1
    transformer.is_loaded_in_4bit = True
    return count


def add_lora(transformer: Any, network: Any) -> list[Any]:
    """Add the trainable LoRA (float32) and return its parameters."""
    import torch
    from peft import LoraConfig

    config = LoraConfig(
        r=network.rank,
        lora_alpha=network.alpha,
        lora_dropout=network.dropout,
        target_modules=network.target_modules,
        init_lora_weights=True,
    )
    transformer.add_adapter(config, adapter_name=USER_ADAPTER)
    params = []
    for name, p in transformer.named_parameters():
        if f".{USER_ADAPTER}." in name and "lora_" in name:
            p.data = p.data.to(torch.float32)
            p.requires_grad_(True)
            params.append(p)
        else:
            p.requires_grad_(False)
    if not params:
        raise ModelLoadError(
            f"network.target_modules matched no layer of this transformer: {network.target_modules}"
        )
    return params


def lora_named_parameters(transformer: Any) -> dict[str, Any]:
    return {
        n: p for n, p in transformer.named_parameters() if f".{USER_ADAPTER}." in n and "lora_" in n
    }


def user_lora_state(transformer: Any) -> dict:
    """``layers.0.attention.to_q.lora_A.weight`` -> tensor, for the user adapter only."""
    from peft.utils import get_peft_model_state_dict

    return get_peft_model_state_dict(transformer, adapter_name=USER_ADAPTER)


def prepare_transformer(
    comps: Components, cfg: Any, device: Any, compute_dtype: Any, adapter: dict | None
) -> list[Any]:
    """Merge the training adapter, quantise (optional), move to ``device``, add the LoRA."""
    transformer = comps.transformer
    if adapter is not None:
        merge_training_adapter(transformer, adapter)
    if cfg.model.quantize_transformer == "nf4":
        n = quantize_nf4(transformer, compute_dtype)
        log.info("NF4: quantised %d Linear layers", n)
    transformer.to(device)
    params = add_lora(transformer, cfg.network)
    if adapter is not None:
        # kept inactive for training; previews apply it at -1 to undo the merged de-distillation
        transformer.load_lora_adapter(dict(adapter), adapter_name=TRAINING_ADAPTER, prefix=None)
        transformer.set_adapters([USER_ADAPTER], [1.0])
        for n, p in transformer.named_parameters():
            p.requires_grad_(f".{USER_ADAPTER}." in n and "lora_" in n)
    if cfg.train.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    transformer.train()
    return params
