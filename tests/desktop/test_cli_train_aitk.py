"""``likeness train --from-aitk``: an ai-toolkit job converted, checked and trained, against the
fake trainer child of ``test_cli_train``; the job it reads and a run a live trainer holds are
never overwritten."""

from __future__ import annotations

import os

import pytest
import yaml

from desktop.cli import main
from tests.desktop.test_cli_train import AITK, REPO, fake  # noqa: F401 - a fixture


def test_from_aitk_dry_run_writes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--from-aitk", str(AITK / "low_vram_8gb.yaml"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "1 setting not mapped, 2 changed to fit, 2 read as ai-toolkit reads them" in out
    assert "not mapped  config.process[0].train.noise_offset = 0.05" in out
    assert f"# would write {tmp_path / 'output' / 'k1ra_lowvram' / 'config.yaml'}" in out
    assert "trigger: k1ra" in out
    assert list(tmp_path.iterdir()) == []


def test_from_aitk_writes_the_run_config_and_trains_it(fake, tmp_path, capsys, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets" / "10_k1ra").mkdir(parents=True)
    assert main(["train", "--from-aitk", str(AITK / "low_vram_8gb.yaml")]) == 0
    target = tmp_path / "output" / "k1ra_lowvram" / "config.yaml"
    assert fake()[0]["argv"] == ["run", str(target)]
    saved = yaml.safe_load(target.read_text())
    assert saved["datasets"][0]["folder"] == str(tmp_path / "datasets" / "10_k1ra")
    assert saved["model"]["quantize_transformer"] == "nf4"
    out = capsys.readouterr().out
    assert f"wrote {target}" in out and "done: step 20" in out
    # converting again with the same result leaves the file alone
    assert main(["train", "--from-aitk", str(AITK / "low_vram_8gb.yaml"), "--resume"]) == 0
    assert not (target.parent / "config.previous.yaml").exists()
    assert fake()[1]["argv"] == ["run", str(target), "--resume"]


def test_from_aitk_never_loses_the_job_it_reads(fake, tmp_path, capsys, monkeypatch):  # noqa: F811
    """ai-toolkit keeps a job's copy at <training_folder>/<name>/config.yaml: converting that
    very file writes Likeness's config there, so the job is kept beside it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets" / "10_k1ra").mkdir(parents=True)
    job = tmp_path / "output" / "k1ra_lowvram" / "config.yaml"
    job.parent.mkdir(parents=True)
    original = (AITK / "low_vram_8gb.yaml").read_text()
    job.write_text(original)
    assert main(["train", "--from-aitk", str(job)]) == 0
    kept = job.parent / "aitk_job.yaml"
    assert kept.read_text() == original
    assert f"note: kept the ai-toolkit job as {kept}" in capsys.readouterr().out
    assert yaml.safe_load(job.read_text())["trigger"] == "k1ra"  # now Likeness's config
    # a config that was edited in between is kept too, never overwritten
    assert "steps: 375" in job.read_text()  # 1500 batches with legacy accumulation of 4
    job.write_text(job.read_text().replace("steps: 375", "steps: 400"))
    assert main(["train", "--from-aitk", str(kept)]) == 0
    assert (job.parent / "config.previous.yaml").exists()
    assert "steps: 400" in (job.parent / "config.previous.yaml").read_text()


def test_from_aitk_leaves_a_running_trainers_config_alone(fake, tmp_path, capsys, monkeypatch):  # noqa: F811
    """A trainer holds the run folder: converting the job again is refused (run_locked, 8)
    before anything is written, and nothing is started."""
    from training.runlock import RunLock

    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets" / "10_k1ra").mkdir(parents=True)
    assert main(["train", "--from-aitk", str(AITK / "low_vram_8gb.yaml")]) == 0
    target = tmp_path / "output" / "k1ra_lowvram" / "config.yaml"
    target.write_text(target.read_text().replace("steps: 375", "steps: 400"))
    before = sorted(p.name for p in target.parent.iterdir())
    capsys.readouterr()
    with RunLock(target.parent):
        code = main(["train", "--from-aitk", str(AITK / "low_vram_8gb.yaml"), "--resume"])
    assert code == 8
    err = capsys.readouterr().err
    assert "another trainer is using" in err and f"pid {os.getpid()}" in err
    assert "steps: 400" in target.read_text()  # untouched
    after = sorted(p.name for p in target.parent.iterdir() if p.name != "trainer.lock")
    assert after == before  # (the lock file is the test's own trainer's)
    assert len(fake()) == 1  # only the first conversion started a trainer
    # once it is gone, the same command goes on
    assert main(["train", "--from-aitk", str(AITK / "low_vram_8gb.yaml"), "--resume"]) == 0


def test_from_aitk_validate_reports_and_writes_nothing(fake, tmp_path, capsys, monkeypatch):  # noqa: F811
    monkeypatch.chdir(tmp_path)
    (tmp_path / "datasets" / "10_k1ra").mkdir(parents=True)
    before = sorted(tmp_path.rglob("*"))
    job = str(AITK / "low_vram_8gb.yaml")
    for argv in (["--from-aitk", job, "--validate"], ["--validate", "--from-aitk", job]):
        assert main(["train", *argv]) == 0
        out = capsys.readouterr().out
        assert "1 setting not mapped, 2 changed to fit, 2 read as ai-toolkit reads them" in out
        assert "as aitk     config.process[0].network.linear_alpha = 8: ai-toolkit" in out
        assert "valid (375 steps, rank 16, resolutions [512, 768]" in out
        assert out.rstrip().endswith("nothing written")
    assert sorted(tmp_path.rglob("*")) == before and fake() == []  # nothing written, no trainer


def test_from_aitk_validate_lists_the_problems(tmp_path, capsys, monkeypatch):
    """The ai-toolkit UI's own Z-Image Turbo job: its dataset folder is not on this machine."""
    monkeypatch.chdir(tmp_path)
    ui_job = REPO.parent / "shared" / "fixtures" / "aitk" / "ui_zimage_turbo.job_config.json"
    if not ui_job.is_file():
        pytest.skip("needs ../shared/fixtures/aitk")
    assert main(["train", "--from-aitk", str(ui_job), "--validate"]) == 2
    out, err = capsys.readouterr()
    assert "3 settings not mapped, 2 changed to fit, 0 read as ai-toolkit reads them" in out
    assert "datasets[0].folder: folder not found: /home/user/ai-toolkit/datasets/leyla" in err
    assert list(tmp_path.iterdir()) == []


def test_from_aitk_needs_a_trigger(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    job = yaml.safe_load((AITK / "guide_prompts.yaml").read_text())
    del job["config"]["process"][0]["trigger_word"]
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    assert main(["train", "--from-aitk", str(path), "--dry-run"]) == 2
    assert "pass --trigger" in capsys.readouterr().err
    assert main(["train", "--from-aitk", str(path), "--dry-run", "--trigger", "l3yla"]) == 0
