"""GPU probe without torch, presets, steps, and model discovery."""

from __future__ import annotations

import sys

from training.machine import detect_gpu, find_models, preset_for_vram, suggest_steps


def test_detect_gpu_reads_nvidia_smi(tmp_path):
    fake = tmp_path / "nvidia-smi"
    fake.write_text(f"#!{sys.executable}\nprint('NVIDIA GeForce RTX 4090, 24564')\n")
    fake.chmod(0o755)
    gpu = detect_gpu(nvidia_smi=str(fake))
    assert gpu.name == "NVIDIA GeForce RTX 4090" and round(gpu.vram_gb) == 24
    assert preset_for_vram(gpu.vram_gb) == "24gb"
    bad = tmp_path / "broken"
    bad.write_text(f"#!{sys.executable}\nprint('No devices were found')\n")
    bad.chmod(0o755)
    assert detect_gpu(nvidia_smi=str(bad)) is None
    assert detect_gpu(nvidia_smi=str(tmp_path / "missing")) is None


def test_presets_and_steps():
    assert [preset_for_vram(v) for v in (None, 8, 12, 16, 24, 80)] == [
        "8gb", "8gb", "12gb", "16gb", "24gb", "24gb"
    ]  # fmt: skip
    assert suggest_steps(15, 10) == 1500 and suggest_steps(25, 8) == 2000
    assert suggest_steps(200, 8) == 3000 and suggest_steps(3, 1) == 1500


def test_find_models_in_comfy_and_hf_cache(tmp_path):
    comfy = tmp_path / "ComfyUI"
    (comfy / "models" / "unet").mkdir(parents=True)
    (comfy / "models" / "unet" / "z_image_turbo_bf16.safetensors").write_bytes(b"x")
    (comfy / "models" / "vae").mkdir()
    (comfy / "models" / "vae" / "ae.safetensors").write_bytes(b"x")
    found = find_models(comfy, hf_cache=tmp_path / "hf")
    assert found.comfy_complete and set(found.comfy) == {"transformer", "vae"}
    assert any("qwen_3_4b.safetensors" in m and "text_encoders" in m for m in found.missing)
    nothing = find_models(None, hf_cache=tmp_path / "hf")
    assert nothing.hub_snapshot is None and "huggingface-cli download" in nothing.missing[0]
    snap = tmp_path / "hf" / "models--Tongyi-MAI--Z-Image-Turbo" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "model_index.json").write_text("{}")
    assert find_models(None, hf_cache=tmp_path / "hf").hub_snapshot == snap
