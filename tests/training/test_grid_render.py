"""The checkpoint grid renderer on the tiny random Z-Image: a 2 x 2 x 2 grid (checkpoints x
prompts x strengths), resume skips done cells, stop, hot-swapped adapters, the child process.

Sizes: the tiny model stands in for Z-Image (the code path does not depend on its width); the
LoRA files are the trainer's own format (``comfy_lora_state_dict``) at rank 4, and the second
checkpoint is hot-swapped into the first one's adapter slot, the path a real grid takes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from unittest.mock import Mock

import numpy as np
import pytest

from tests.training.grid_fixtures import make_run, write_lora
from tests.training.tiny_zimage import tiny_model_dir

torch = pytest.importorskip("torch")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_model_dir(tmp_path_factory)


def _args(run_dir: Path, out: Path, prompts: Path, **kw):
    from training.grid.process import parser

    argv = [str(run_dir), "--out", str(out), "--prompts", str(prompts), "--steps", "2"]
    argv += ["--strengths", kw.pop("strengths", "0.5,1"), "--seeds", kw.pop("seeds", "7")]
    argv += ["--device", "cpu", *kw.pop("extra", [])]
    return parser().parse_args(argv)


def _prompts(tmp_path: Path) -> Path:
    path = tmp_path / "prompts.txt"
    path.write_text(
        "a close-up photo of t0ken smiling | 256x256\n# comment\n\n"
        "a full body photo of t0ken running | 256x320\n",
        encoding="utf-8",
    )
    return path


def _render(args, sink, poll=list, load=None):
    from training.config import load_config
    from training.grid.process import build_spec
    from training.grid.render import load_engine, render_grid
    from training.model import resolve_device

    cfg = load_config(Path(args.run_dir) / "config.yaml")
    spec = build_spec(args, cfg)
    device, _ = resolve_device("cpu")
    loader = load or (lambda: load_engine(cfg, spec, sink, device))
    return render_grid(spec, Path(args.out), sink=sink, load=loader, poll_commands=poll), spec


def _pixels(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def test_a_2x2x2_grid_renders_every_cell_in_the_documented_layout(model_dir, tmp_path):
    from training.events import ListSink

    run_dir = make_run(tmp_path, model_dir)
    out = tmp_path / "grid"
    sink = ListSink()
    reason, spec = _render(_args(run_dir, out, _prompts(tmp_path)), sink)
    assert reason == "finished"
    saved = sink.of("grid_image_saved")
    assert len(saved) == 8
    assert (out / "prompts.txt").read_text("utf-8").splitlines() == [
        "a close-up photo of t0ken smiling",
        "a full body photo of t0ken running",
    ]
    manifest = json.loads((out / "manifest.json").read_text("utf-8"))
    assert [r["name"] for r in manifest["rows"]] == ["tiny_000000002", "tiny_000000004"]
    assert [r["step"] for r in manifest["rows"]] == [2, 4]
    assert [p["tier"] for p in manifest["prompts"]] == ["close-up", "full-body"]
    assert len(manifest["cells"]) == 8
    for stem in ("tiny_000000002", "tiny_000000004"):
        for index in (0, 1):
            for s in ("0.5", "1"):
                assert (out / stem / f"{index}_7_s{s}.png").is_file()
    from PIL import Image

    with Image.open(out / "tiny_000000002" / "1_7_s1.png") as im:
        assert im.size == (256, 320)  # size per prompt
    progress = sink.of("grid_progress")
    assert progress[-1]["done"] == progress[-1]["total"] == 8
    # strength and checkpoint change the pixels
    a = _pixels(out / "tiny_000000002" / "0_7_s1.png")
    assert np.abs(a - _pixels(out / "tiny_000000002" / "0_7_s0.5.png")).max() > 0
    assert np.abs(a - _pixels(out / "tiny_000000004" / "0_7_s1.png")).max() > 0


def test_resume_skips_done_cells_and_rerenders_what_changed(model_dir, tmp_path):
    from training.events import ListSink

    run_dir = make_run(tmp_path, model_dir)
    out = tmp_path / "grid"
    args = _args(run_dir, out, _prompts(tmp_path))
    _render(args, ListSink())

    def no_load():
        raise AssertionError("a complete grid must not load the model")

    sink = ListSink()
    assert _render(args, sink, load=no_load)[0] == "finished"
    assert sink.of("grid_image_saved") == []
    assert sink.of("grid_progress")[0]["skipped"] == 8

    (out / "tiny_000000004" / "1_7_s0.5.png").unlink()
    sink = ListSink()
    _render(args, sink)
    assert [(e["row"], e["prompt_index"], e["strength"]) for e in sink.of("grid_image_saved")] == [
        ("tiny_000000004", 1, 0.5)
    ]
    # a checkpoint file with other weights: its row only is rendered again
    write_lora(run_dir / "tiny_000000002.safetensors", model_dir, seed=99, step=2)
    sink = ListSink()
    _render(args, sink)
    assert {e["row"] for e in sink.of("grid_image_saved")} == {"tiny_000000002"}
    assert len(sink.of("grid_image_saved")) == 4


def test_stop_ends_after_the_current_cell_and_a_rerun_completes(model_dir, tmp_path):
    from training.events import ListSink

    run_dir = make_run(tmp_path, model_dir)
    out = tmp_path / "grid"
    args = _args(run_dir, out, _prompts(tmp_path))
    sink = ListSink()

    def poll():
        return ["stop"] if len(sink.of("grid_image_saved")) >= 3 else []

    assert _render(args, sink, poll=poll)[0] == "stopped"
    assert len(sink.of("grid_image_saved")) == 3
    assert len(json.loads((out / "manifest.json").read_text("utf-8"))["cells"]) == 3
    sink = ListSink()
    assert _render(args, sink)[0] == "finished"
    assert len(sink.of("grid_image_saved")) == 5


def test_a_hot_swapped_checkpoint_renders_as_if_loaded_alone(model_dir, tmp_path):
    """The second row replaces the first one's weights in the same adapter slot: its cells
    must equal a grid that only ever loaded that checkpoint; the base row has no LoRA."""
    from training.events import ListSink

    run_dir = make_run(tmp_path, model_dir)
    prompts = _prompts(tmp_path)
    both = tmp_path / "both"
    _render(_args(run_dir, both, prompts, strengths="1", extra=["--base"]), ListSink())
    alone = tmp_path / "alone"
    ck = str(run_dir / "tiny_000000004.safetensors")
    _render(_args(run_dir, alone, prompts, strengths="1", extra=["--checkpoints", ck]), ListSink())
    for index in (0, 1):
        name = f"{index}_7_s1.png"
        got = _pixels(both / "tiny_000000004" / name)
        assert np.abs(got - _pixels(alone / "tiny_000000004" / name)).max() <= 1
        base = _pixels(both / "base" / f"{index}_7_s0.png")
        assert np.abs(base - got).max() > 0


def test_the_child_process_speaks_json_lines_obeys_stop_and_reports_bad_input(model_dir, tmp_path):
    run_dir = make_run(tmp_path, model_dir, steps=(2,))
    env = dict(os.environ, PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    base = [sys.executable, "-m", "training", "grid", str(run_dir), "--device", "cpu"]
    # 8 cells: the stop sent after the first one arrives while a later one renders
    argv = base + ["--prompts", str(_prompts(tmp_path)), "--steps", "1"]
    argv += ["--strengths", "0.25,0.5,0.75,1"]
    argv += ["--out", str(tmp_path / "g")]
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=REPO,
    )
    events = []
    assert proc.stdout is not None and proc.stdin is not None
    for line in proc.stdout:
        events.append(json.loads(line))
        if events[-1]["event"] == "grid_image_saved":
            proc.stdin.write("stop\n")
            proc.stdin.flush()
    assert proc.wait(timeout=300) == 0
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "done" and events[-1]["reason"] == "stopped"
    assert 1 <= kinds.count("grid_image_saved") < 8
    bad = subprocess.run(
        base + ["--checkpoints", str(tmp_path / "missing.safetensors")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )
    last = json.loads(bad.stdout.splitlines()[-1])
    assert bad.returncode == 2 and last["event"] == "error" and "not found" in last["message"]


def test_one_renderer_per_grid_folder(model_dir, tmp_path):
    from training.events import ListSink
    from training.grid.process import run_grid
    from training.runlock import RunLock

    run_dir = make_run(tmp_path, model_dir, steps=(2,))
    out = tmp_path / "grid"
    out.mkdir()
    with RunLock(out):
        sink = ListSink()
        status = run_grid(_args(run_dir, out, _prompts(tmp_path)), sink, inbox=Mock())
    assert status != 0 and sink.of("error")[0]["code"] == "run_locked"
    assert not sink.of("grid_image_saved")
