"""``likeness lora ...`` and ``likeness comfyui-workflow`` as a user runs them."""

from __future__ import annotations

import json

import pytest

from desktop.cli import main
from tests.training.lora_fixtures import small_lora

torch = pytest.importorskip("torch")


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def lora_file(tmp_path):
    from training.lora.io import save_lora

    return save_lora(small_lora(layers=30, rank=8, scale=0.5), tmp_path / "leyla.safetensors")


def test_inspect_text_and_json(capsys, lora_file):
    code, out, _ = run(capsys, "lora", "inspect", lora_file)
    assert code == 0
    assert "likeness (bf16), 240 modules in 30 blocks" in out and "l3yla" in out
    assert "layers.29" in out and "#" in out  # the per-block bar chart
    code, out, _ = run(capsys, "lora", "inspect", lora_file, "--json")
    data = json.loads(out)
    assert data["format"] == "likeness" and data["ranks"] == [8] and data["alphas"] == [4.0]
    assert data["facts"]["trigger"] == "l3yla"
    assert len(data["block_norms"]) == 30 and all(v > 0 for v in data["block_norms"].values())
    assert data["blocks"]["layers.0"][0] == "adaLN_modulation.0"


def test_scale_merge_resize_convert_write_new_files_with_history(capsys, lora_file, tmp_path):
    from training.lora.io import history, load_lora

    src = lora_file.read_bytes()
    scaled = tmp_path / "scaled.safetensors"
    code, out, err = run(
        capsys, "lora", "scale", lora_file, scaled, "--strength", "0.8", "--layers", "0-9=0.5",
        "--component", "adaLN=0", "--component", "attention.to_z=2", "--json",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["dropped"] == 30
    assert "attention.to_z matches no module" in err
    got = load_lora(scaled)
    assert got.modules["layers.3.attention.to_q"].scale == pytest.approx(0.5 * 0.8 * 0.5)
    assert history(got)[-1]["operation"] == "scale"

    merged = tmp_path / "merged.safetensors"
    code, out, err = run(
        capsys, "lora", "merge", f"{lora_file}:0.6", f"{scaled}:0.4", merged, "--rank", "8",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["ranks"] == [8] and 0.99 < data["energy"]["energy_kept_mean"] <= 1.0
    entry = history(load_lora(merged))[-1]
    assert entry["inputs"] == [
        {"file": "leyla.safetensors", "weight": 0.6},
        {"file": "scaled.safetensors", "weight": 0.4},
    ]

    code, out, _ = run(capsys, "lora", "resize", lora_file, tmp_path / "r4.safetensors",
                       "--rank", "4")  # fmt: skip
    assert code == 0 and "energy kept: mean" in out

    code, out, err = run(capsys, "lora", "convert", lora_file, tmp_path / "c.safetensors",
                         "--to", "comfyui", "--json")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["max_relative_delta_difference"] == 0.0
    assert lora_file.read_bytes() == src  # the input was never written


def test_refusals_are_one_clear_line(capsys, lora_file, tmp_path):
    code, _, err = run(capsys, "lora", "convert", lora_file, lora_file, "--to", "musubi")
    assert code == 1 and "one of the input files" in err
    code, _, err = run(capsys, "lora", "convert", lora_file, tmp_path / "x.safetensors")
    assert code == 1 and "--to" in err
    code, _, err = run(capsys, "lora", "scale", lora_file, tmp_path / "y.safetensors",
                       "--layers", "0-9")  # fmt: skip
    assert code == 1 and "WHAT=MULTIPLIER" in err
    code, _, err = run(capsys, "lora", "merge", lora_file, tmp_path / "z.safetensors")
    assert code == 1 and "at least two" in err
    (tmp_path / "bad.safetensors").write_bytes(b"nope")
    code, _, err = run(capsys, "lora", "inspect", tmp_path / "bad.safetensors")
    assert code == 1 and err.startswith("likeness: bad.safetensors")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.safetensors", "leyla.safetensors"]


def test_weighted_paths_keep_windows_drive_letters():
    from desktop.cli.cmd_lora import split_weighted

    assert split_weighted("a.safetensors:0.5") == ("a.safetensors", 0.5)
    assert split_weighted(r"C:\loras\a.safetensors") == (r"C:\loras\a.safetensors", 1.0)
    assert split_weighted(r"C:\loras\a.safetensors:-1") == (r"C:\loras\a.safetensors", -1.0)


def test_comfyui_workflow_files_and_send(capsys, lora_file, tmp_path, monkeypatch):
    out = tmp_path / "wf.json"
    code, stdout, err = run(capsys, "comfyui-workflow", lora_file, out, "--format", "both")
    assert code == 0, err
    ui = json.loads(out.read_text())
    api = json.loads((tmp_path / "wf.api.json").read_text())
    assert any(n["widgets_values"] == ["a photo of l3yla"] for n in ui["nodes"])
    assert {n["class_type"] for n in api.values()} >= {"LoraLoaderModelOnly", "KSampler"}
    code, _, err = run(capsys, "comfyui-workflow", lora_file, out)
    assert code == 1 and "exists" in err

    root = tmp_path / "ComfyUI"
    (root / "models").mkdir(parents=True)
    monkeypatch.setenv("LIKENESS_COMFYUI_DIR", str(root))
    code, stdout, err = run(capsys, "comfyui-workflow", lora_file, "--send", "--strength", "0.6")
    assert code == 0, err
    assert (root / "models/loras/leyla.safetensors").read_bytes() == lora_file.read_bytes()
    sent = json.loads((root / "user/default/workflows/leyla.json").read_text())
    lora_node = next(n for n in sent["nodes"] if n["type"] == "LoraLoaderModelOnly")
    assert lora_node["widgets_values"] == ["leyla.safetensors", 0.6]
    assert "note: no unet model found" in stdout


@pytest.mark.slow
def test_tools_on_a_lora_the_tiny_trainer_wrote(capsys, tmp_path_factory, tmp_path):
    """The trainer's own files (tiny model: 2 layers, 1 refiner, rank 4, alpha 2) through every
    tool and every format, checked against B @ A computed directly."""
    from tests.training.tiny_zimage import tiny_config, tiny_model_dir, write_config
    from training.events import ListSink
    from training.lora.io import load_lora
    from training.runner import run as run_trainer

    model_dir = tiny_model_dir(tmp_path_factory)
    cfg = tiny_config(
        tmp_path, model_dir, train={"steps": 2}, save={"every": 2},
        sample={"enabled": False}, network={"rank": 4, "alpha": 2},
    )  # fmt: skip
    sink = ListSink()
    assert run_trainer(write_config(tmp_path / "run.yaml", cfg), resume=False, sink=sink) == 0
    final = tmp_path / "runs" / "tiny" / "tiny.safetensors"
    step2 = tmp_path / "runs" / "tiny" / "tiny_000000002.safetensors"

    code, out, err = run(capsys, "lora", "inspect", final, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["format"] == "likeness" and data["ranks"] == [4] and data["alphas"] == [2.0]
    assert data["facts"]["trigger"] == "t0ken" and list(data["blocks"]) == ["layers.0", "layers.1"]
    original = load_lora(final)
    assert len(original.modules) == 16 and original.modules["layers.0.attention.to_q"].scale == 0.5

    previous = final
    for fmt in ("comfyui", "musubi", "diffusers", "likeness"):
        out_path = tmp_path / f"{fmt}.safetensors"
        code, out, err = run(capsys, "lora", "convert", previous, out_path, "--to", fmt, "--json")
        assert code == 0, err
        back = load_lora(out_path)
        assert back.source_format == fmt
        for name, mod in original.modules.items():
            want = mod.up.double() @ mod.down.double() * mod.scale
            got = back.modules[name].up.double() @ back.modules[name].down.double()
            got = got * back.modules[name].scale
            assert float((want - got).norm()) <= 1e-2 * float(want.norm()), (fmt, name)
        previous = out_path

    merged = tmp_path / "merged.safetensors"
    code, _, err = run(capsys, "lora", "merge", f"{final}:0.5", f"{step2}:0.5", merged)
    assert code == 0, err
    m = load_lora(merged).modules["layers.1.feed_forward.w2"]
    a, b = (
        original.modules["layers.1.feed_forward.w2"],
        load_lora(step2).modules["layers.1.feed_forward.w2"],
    )
    want = 0.5 * (a.up.double() @ a.down.double() * a.scale) + 0.5 * (
        b.up.double() @ b.down.double() * b.scale
    )
    got = m.up.double() @ m.down.double() * m.scale
    assert m.rank == 8 and float((want - got).norm()) <= 1e-2 * float(want.norm())


def test_lora_help_and_presets_import_no_torch():
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    code = (
        "import sys; from desktop.cli import main, build_parser; build_parser();"
        "rc = main(['lora', 'presets', '--json']);"
        "assert 'torch' not in sys.modules and 'PySide6' not in sys.modules; sys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(repo)},
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "drop-adaln" in json.loads(proc.stdout)
