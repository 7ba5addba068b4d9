"""``likeness lint``, ``clean-caption``, ``check-trigger``, ``autocaption``: JSON and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from desktop.cli import main

FLORENCE = (
    "The image shows a young woman with long dark hair and brown eyes. She is wearing a white "
    "button-up shirt and gold earrings. She is standing with her arms crossed in front of a "
    "white wall. The overall mood of the image is calm."
)


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    texts = {
        "a": "a photo of l3yla, brown eyes, smiling, wearing a red coat, park",
        "b": "a photo of a woman, l3yla, serious expression, wearing a casual outfit, studio",
        "c": "a photo of l3yla, laughing, wearing a green dress, beach",
        "d": None,
    }
    for stem, text in texts.items():
        Image.new("RGB", (40, 50), (10, 20, 30)).save(root / f"{stem}.png")
        if text is not None:
            (root / f"{stem}.txt").write_text(text, encoding="utf-8")
    return root


def test_lint_json(capsys, dataset):
    code, out, _ = run(capsys, "lint", str(dataset), "--trigger", "l3yla", "--json")
    data = json.loads(out)
    assert code == 1  # d.png has no caption: an error
    assert set(data) == {"captions", "dataset"}
    by_path = {c["path"]: c["issues"] for c in data["captions"]}
    assert [i["rule"] for i in by_path["d.png"]] == ["missing-caption"]
    (eyes,) = [i for i in by_path["a.png"] if i["rule"] == "identity-descriptor"]
    assert set(eyes) == {"rule", "severity", "message", "start", "end", "fix"}
    text = (dataset / "a.txt").read_text()
    assert text[eyes["start"] : eyes["end"]] == "brown eyes"
    assert {i["rule"] for i in by_path["b.png"]} == {"trigger-not-first", "vague-outfit"}
    assert by_path["c.png"] == []


def test_lint_exit_codes_0_clean_1_findings(capsys, dataset):
    """0 clean, 1 findings (warnings too, like ruff / flake8), --fail-on picks the floor."""
    (dataset / "d.txt").write_text("a photo of l3yla, sad expression, wearing a blue scarf, cafe")
    code, out, _ = run(capsys, "lint", str(dataset), "--trigger", "l3yla")
    assert code == 1 and "[identity-descriptor]" in out and "4 captions" in out
    code, _, _ = run(capsys, "lint", str(dataset), "--trigger", "l3yla", "--fail-on", "error")
    assert code == 0  # warnings only
    for stem in "ab":
        (dataset / f"{stem}.txt").write_text("a photo of l3yla, smiling, wearing a red coat, park")
    code, out, _ = run(capsys, "lint", str(dataset), "--trigger", "l3yla")
    assert code == 1 and "duplicate-caption" in out  # a dataset finding counts
    (dataset / "b.txt").write_text("a photo of l3yla, serious expression, wearing a grey coat")
    code, out, _ = run(capsys, "lint", str(dataset), "--trigger", "l3yla")
    assert code == 0 and "0 issues, 0 dataset issues" in out, out
    code, out, _ = run(capsys, "lint", str(dataset), "--trigger", "l3yla", "--max-words", "3")
    assert code == 0 and "[too-long]" in out  # an info note alone is not a finding ...
    code, _, _ = run(
        capsys, "lint", str(dataset), "--trigger", "l3yla", "--max-words", "3", "--fail-on", "info"
    )
    assert code == 1  # ... unless asked


def test_lint_fix_applies_every_fix_of_a_rule_as_one_undo_step(capsys, dataset):
    (dataset / "a.txt").write_text(
        "a photo of l3yla, young, brown eyes, full lips, tall and slim, freckles, olive skin,\n"
        "smiling, l3yla, wearing a red coat, park\n",
        encoding="utf-8",
    )
    code, out, _ = run(
        capsys, "lint", str(dataset), "--trigger", "l3yla", "--fix", "identity-descriptor",
        "--fix", "multi-line", "--fix", "trigger-duplicate", "--json",
    )  # fmt: skip
    fixed = (dataset / "a.txt").read_text(encoding="utf-8")
    assert fixed == "a photo of l3yla, smiling, wearing a red coat, park"
    by_path = {c["path"]: c["issues"] for c in json.loads(out)["captions"]}
    assert by_path["a.png"] == []  # linted again after the fixes
    assert code == 1  # b.png and d.png still have findings
    code, out, _ = run(capsys, "undo", str(dataset))
    assert code == 0
    assert (dataset / "a.txt").read_text(encoding="utf-8").startswith("a photo of l3yla, young")
    code, _, err = run(capsys, "lint", str(dataset), "--trigger", "l3yla", "--fix", "nope")
    assert code == 2 and "unknown rule" in err


def test_lint_identity_line_and_bad_arguments(capsys, dataset, tmp_path):
    code, out, _ = run(
        capsys, "lint", str(dataset), "--trigger", "l3yla", "--disable", "missing-caption",
        "--identity-line", "brown eyes", "--json",
    )  # fmt: skip
    by_path = {c["path"]: c["issues"] for c in json.loads(out)["captions"]}
    assert not [i for i in by_path["a.png"] if i["rule"] == "identity-descriptor"]
    assert code == 1 and by_path["b.png"]  # b.png's warnings are still findings
    code, _, err = run(capsys, "lint", str(dataset), "--trigger", "x", "--disable", "nope")
    assert code == 2 and "unknown rule" in err
    code, _, err = run(capsys, "lint", str(tmp_path / "missing"), "--trigger", "l3yla")
    assert code == 2 and err


def test_clean_caption_json(capsys):
    code, out, _ = run(
        capsys, "clean-caption", FLORENCE, "--trigger", "l3yla", "--shot", "medium", "--json"
    )
    data = json.loads(out)
    assert code == 0 and set(data) == {"text", "removed"}
    assert data["text"] == (
        "a medium shot photo of l3yla, standing with arms crossed, wearing a white button-up "
        "shirt, gold earrings, in front of a white wall"
    )
    assert {"phrase": "brown eyes", "reason": "eye colour is identity: the trigger token must "
            "learn it"} in data["removed"]  # fmt: skip


def test_clean_caption_plain_and_identity_line(capsys):
    code, out, err = run(
        capsys, "clean-caption", "1girl, solo, long hair, smile", "--trigger", "ohwx",
        "--identity-line", "a woman with long hair",
    )  # fmt: skip
    assert code == 0 and out.strip() == "a photo of ohwx, a woman with long hair, smile"
    assert "removed '1girl'" in err


def test_check_trigger(capsys):
    code, out, _ = run(capsys, "check-trigger", "leyla", "--json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "bad" and data["suggestions"][0] == "l3yla"
    assert set(data) >= {"token", "verdict", "reasons", "suggestions"}
    code, out, _ = run(capsys, "check-trigger", "l3yla")
    assert code == 0 and out.startswith("l3yla: good")


def test_autocaption_with_a_local_tiny_model(capsys, dataset, tmp_path):
    from tests.curation.tiny_florence import tiny_florence_folder

    model = str(tiny_florence_folder())
    out_file = tmp_path / "suggestions.json"
    code, out, _ = run(
        capsys, "autocaption", str(dataset), "--trigger", "l3yla", "--model", model,
        "--mode", "suggest", "--device", "cpu", "--batch-size", "2", "--out", str(out_file),
        "--beams", "1", "--max-tokens", "60",
        "--json",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["written"] == [] and not (dataset / "d.txt").exists()
    assert len(data["suggestions"]) == 4
    assert json.loads(out_file.read_text())["mode"] == "suggest"
    sug = next(s for s in data["suggestions"] if s["rel"] == "d.png")
    assert sug["cleaned"].startswith("a photo of l3yla, standing, wearing a white shirt")
    code, out, _ = run(
        capsys, "autocaption", str(dataset), "--trigger", "l3yla", "--model", model,
        "--device", "cpu", "--json", "--beams", "1", "--max-tokens", "60",
    )  # fmt: skip
    data = json.loads(out)
    assert code == 0 and data["written"] == ["d.png"] and data["skipped"] == ["a.png", "b.png",
                                                                           "c.png"]  # fmt: skip
    assert (dataset / "d.txt").read_text().startswith("a photo of l3yla, standing")
    code, _, _ = run(capsys, "undo", str(dataset))
    assert code == 0 and not (dataset / "d.txt").exists()


def test_autocaption_without_the_model_offline(capsys, dataset, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, _, err = run(capsys, "autocaption", str(dataset), "--trigger", "l3yla")
    assert code == 2 and "model not found locally and no network" in err


def test_help_does_not_import_torch():
    code = (
        "import sys; from desktop.cli import build_parser; build_parser(); "
        "import desktop.cli.cmd_captions; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_lint_uses_the_users_view_overrides(capsys, dataset):
    from curation.workspace import Workspace

    (dataset / "c.txt").write_text("a photo of l3yla, green eyes, gold earrings, walking, beach")
    with Workspace.open(dataset) as ws:
        ws.set_override("c.png", "back_view", True)
    code, out, _ = run(capsys, "lint", str(dataset), "--trigger", "l3yla", "--json")
    by_path = {c["path"]: c["issues"] for c in json.loads(out)["captions"]}
    text = (dataset / "c.txt").read_text()
    invisible = [text[i["start"] : i["end"]] for i in by_path["c.png"]
                 if i["rule"] == "invisible-feature"]  # fmt: skip
    assert invisible == ["green eyes", "gold earrings"]
    assert not [i for i in by_path["a.png"] if i["rule"] == "invisible-feature"]
