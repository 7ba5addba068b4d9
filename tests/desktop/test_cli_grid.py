"""``likeness grid`` (the real child process on the tiny model) and ``likeness rank``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.training.test_grid_rank import fake_grid  # noqa: F401 - a fixture
from tests.training.tiny_zimage import tiny_model_dir

REPO = Path(__file__).resolve().parents[2]


def test_likeness_grid_renders_with_a_progress_view_and_resumes(
    tmp_path, tmp_path_factory, capsys, monkeypatch
):
    pytest.importorskip("torch")
    from desktop.cli import main
    from tests.training.grid_fixtures import make_run

    monkeypatch.setenv("PYTHONPATH", str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    run_dir = make_run(tmp_path, tiny_model_dir(tmp_path_factory), steps=(2, 4))
    prompts = tmp_path / "p.txt"
    prompts.write_text("a photo of t0ken | 256x256\n", encoding="utf-8")
    argv = ["grid", str(run_dir), "--prompts", str(prompts), "--steps", "1", "--plain"]
    argv += ["--strengths", "0.8,1", "--seeds", "1", "--device", "cpu"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "checkpoint grid" in out and "4 cells" in out and "done:" in out
    assert (run_dir / "grid" / "tiny_000000004" / "0_1_s0.8.png").is_file()
    assert out.count(".png") == 4
    assert main(argv) == 0
    again = capsys.readouterr().out
    assert "4 cells already rendered: skipped" in again and ".png" not in again


def test_likeness_grid_refuses_a_folder_that_is_not_a_run(tmp_path, capsys):
    from desktop.cli import main

    assert main(["grid", str(tmp_path)]) == 2
    assert "not a run folder" in capsys.readouterr().err


def test_likeness_rank_prints_the_documented_json(fake_grid, capsys):  # noqa: F811
    from desktop.cli import main

    grid, data = fake_grid
    assert main(["rank", str(grid), "--dataset", str(data), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"best", "checkpoints"}
    assert result["best"] == "run_000001000"
    for c in result["checkpoints"]:
        assert set(c) == {
            "name",
            "rank",
            "identity",
            "prompt_obedience",
            "tier_match",
            "copy",
            "collapse",
            "flags",
            "reasons",
        }
    assert json.loads((grid / "scores.json").read_text("utf-8"))["best"] == "run_000001000"
    assert main(["rank", str(grid), "--dataset", str(data)]) == 0
    text = capsys.readouterr().out
    assert "best: run_000001000" in text and "overfit" in text
    assert "note: prompt_obedience not scored" in text


def test_likeness_curve_of_a_run(fake_grid, tmp_path, capsys):  # noqa: F811
    import shutil

    from desktop.cli import main

    grid, data = fake_grid
    run = tmp_path / "run"
    for step, row in ((100, "run_000000500"), (200, "run_000001500")):
        (run / "samples" / str(step)).mkdir(parents=True)
        shutil.copy(grid / row / "0_1_s1.png", run / "samples" / str(step) / "0_42.png")
    assert main(["curve", str(run), "--dataset", str(data), "--json"]) == 0
    curve = json.loads(capsys.readouterr().out)["curve"]
    assert [c["step"] for c in curve] == [100, 200]
    assert curve[0]["identity"] < curve[1]["identity"] and curve[1]["copy"] == 1.0
    assert main(["curve", str(run), "--dataset", str(data)]) == 0
    assert "100%" in capsys.readouterr().out
