"""``likeness lint``: the word budget from the balance profile (``--profile``, the app's
dataset settings, ``--max-words``) and the face facts from the cached face analysis; and
``likeness --headless`` linting with the analysis it just ran."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from PIL import Image

from desktop.cli import main

LONG = "a photo of l3yla, " + ", ".join(f"detail{i} word" for i in range(24))  # 52 words
EYES = "a photo of l3yla, brown eyes, holding a camera, outdoors"


def lint(capsys, root, *extra) -> tuple[int, dict[str, list[str]]]:
    code = main(["lint", str(root), "--trigger", "l3yla", "--json", *extra])
    out, err = capsys.readouterr()
    if code == 2:
        return code, {"err": [err]}
    data = json.loads(out)
    return code, {c["path"]: [i["rule"] for i in c["issues"]] for c in data["captions"]}


@pytest.fixture
def long_ds(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    Image.new("RGB", (40, 50), (10, 20, 30)).save(root / "a.png")
    (root / "a.txt").write_text(LONG, encoding="utf-8")
    assert len(LONG.split()) == 52
    return root


def _store_profile(root, name: str) -> None:
    from curation.workspace import Workspace

    with Workspace.open(root) as ws:
        ws.cache_put("dataset", "settings", {"trigger": "l3yla", "profile": name})


def test_budget_comes_from_the_profile(capsys, long_ds):
    assert lint(capsys, long_ds)[1]["a.png"] == []  # character: 75 words
    assert lint(capsys, long_ds, "--profile", "character")[1]["a.png"] == []
    assert lint(capsys, long_ds, "--profile", "face")[1]["a.png"] == ["too-long"]  # 40 words


def test_max_words_overrides_the_profile(capsys, long_ds):
    assert lint(capsys, long_ds, "--max-words", "50")[1]["a.png"] == ["too-long"]
    assert lint(capsys, long_ds, "--profile", "face", "--max-words", "0")[1]["a.png"] == []
    assert lint(capsys, long_ds, "--profile", "face", "--max-words", "60")[1]["a.png"] == []


def test_default_profile_is_the_one_the_app_stored(capsys, long_ds):
    _store_profile(long_ds, "face")
    assert lint(capsys, long_ds)[1]["a.png"] == ["too-long"]
    assert lint(capsys, long_ds, "--profile", "character")[1]["a.png"] == []


def test_profile_file_and_bad_profiles(capsys, long_ds, tmp_path):
    mine = tmp_path / "mine.yaml"
    mine.write_text(
        "schema_version: 1\nname: mine\ntiers:\n  close-up: {target: 5}\n"
        "captions: {max_words: 10}\n",
        encoding="utf-8",
    )
    assert lint(capsys, long_ds, "--profile", str(mine))[1]["a.png"] == ["too-long"]
    code, out = lint(capsys, long_ds, "--profile", "nosuch")
    assert code == 2 and "no balance profile 'nosuch'" in out["err"][0]
    mine.write_text(mine.read_text().replace("max_words", "max_wrods"), encoding="utf-8")
    code, out = lint(capsys, long_ds, "--profile", str(mine))
    assert code == 2 and "captions.max_wrods" in out["err"][0]
    _store_profile(long_ds, "gone")  # a stored profile that no longer exists: a clear error
    code, out = lint(capsys, long_ds)
    assert code == 2 and "no balance profile 'gone'" in out["err"][0]


@pytest.fixture
def faces_ds(tmp_path, faces_dir):
    root = tmp_path / "faces"
    root.mkdir()
    for name in ("camera.png", "astronaut.png"):
        shutil.copy(faces_dir / "scikit-image" / name, root / name)
        (root / name).with_suffix(".txt").write_text(EYES, encoding="utf-8")
    return root


def test_lint_uses_the_cached_face_analysis(capsys, faces_ds, yunet_model):
    from curation.analysis import analyze_dataset
    from curation.workspace import Workspace

    code, before = lint(capsys, faces_ds)
    assert code == 1  # no analysis cached: the lint still runs (eye colour: a finding)
    assert "invisible-feature" not in before["camera.png"] + before["astronaut.png"]
    with Workspace.open(faces_ds) as ws:
        analyze_dataset(ws, backend="yunet", workers=1)
    _, after = lint(capsys, faces_ds)
    assert "invisible-feature" in after["camera.png"]  # a profile view: eye colour unseen
    assert "invisible-feature" not in after["astronaut.png"]
    with Workspace.open(faces_ds) as ws:
        ws.set_override("camera.png", "pose", "three-quarter")  # the user's word wins
    assert "invisible-feature" not in lint(capsys, faces_ds)[1]["camera.png"]


def _issues_in_all(out: str) -> int:
    m = re.search(r"captions \(trigger l3yla\): \d+ errors, (\d+) issues in all", out)
    assert m, out
    return int(m.group(1))


def test_headless_lints_with_the_analysis_and_the_profile_budget(capsys, faces_ds, yunet_model):
    from curation.captions.lint import ImageFacts, LintConfig, lint_dataset
    from curation.captions.vocabulary import load_vocabulary

    (faces_ds / "astronaut.txt").write_text(LONG, encoding="utf-8")
    captions = {
        "camera.png": EYES,
        "astronaut.png": LONG,
    }
    vocab = load_vocabulary()
    plain = lint_dataset(captions, LintConfig(trigger="l3yla", vocab=vocab, max_words=75), {})
    _store_profile(faces_ds, "face")
    assert main(["--headless", str(faces_ds)]) == 0
    got = _issues_in_all(capsys.readouterr().out)
    facts = {"camera.png": ImageFacts(pose="profile")}
    want = lint_dataset(captions, LintConfig(trigger="l3yla", vocab=vocab, max_words=40), facts)
    assert want.issues("invisible-feature") and want.issues("too-long")
    assert got == want.count() == plain.count() + 2
