"""``lint_workspace``: the one "lint this workspace" of the CLI, ``--headless`` and the GUI.

Excluded images are not linted; the stored settings and their profile's word budget apply;
the memo re-lints only changed captions; the report places every dataset finding on the
images it names (what a per-image view shows)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

import curation.captions.workspace_lint as wl
from curation.captions.issues import DatasetIssue, DatasetReport, LintIssue, Severity
from curation.captions.workspace_lint import LintMemo, lint_workspace
from curation.dataset_settings import DatasetSettings
from curation.workspace import Workspace

LONG = "a photo of l3yla, " + ", ".join(f"detail number {i}" for i in range(15))


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    root.mkdir()
    texts = {
        "a": "a photo of l3yla, smiling, wearing a red coat, park",
        "b": LONG,  # 47 words: over the face profile's 40, under the character's 75
        "c": "a photo of l3yla, laughing, wearing a green dress, beach",
        "d": None,
    }
    for i, (stem, text) in enumerate(texts.items()):
        Image.new("RGB", (16, 16), (i * 30, 0, 0)).save(root / f"{stem}.png")
        if text is not None:
            (root / f"{stem}.txt").write_text(text, "utf-8")
    return root


def _rules(report: DatasetReport, rel: str) -> set[str]:
    return {i.rule for i in report.captions[rel]}


def test_stored_settings_profile_budget_and_exclusions(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        ws.set_settings(DatasetSettings("l3yla", "", "character"))
        report = lint_workspace(ws)
        assert "too-long" not in _rules(report, "b.png")
        assert _rules(report, "d.png") == {"missing-caption"}
        ws.set_settings(DatasetSettings("l3yla", "", "face"))
        assert "too-long" in _rules(lint_workspace(ws), "b.png")
        assert "too-long" not in _rules(lint_workspace(ws, max_words=0), "b.png")  # off
        ws.set_excluded("d.png")
        assert "d.png" not in lint_workspace(ws).captions  # not trained, not linted
        assert "trigger-missing" in _rules(lint_workspace(ws, DatasetSettings("ohwx")), "a.png")


def test_the_memo_relints_only_changed_captions(ds: Path, monkeypatch) -> None:
    calls: list[str | None] = []
    real = wl.run_caption_rules

    def counting(text, config, facts):
        calls.append(text)
        return real(text, config, facts)

    monkeypatch.setattr(wl, "run_caption_rules", counting)
    memo = LintMemo()
    with Workspace.open(ds) as ws:
        settings = DatasetSettings("l3yla")
        first = lint_workspace(ws, settings, memo=memo)
        assert len(calls) == 4
        ws.set_caption("a.png", "a photo of l3yla, serious, wearing a red coat, park")
        second = lint_workspace(ws, settings, memo=memo)
        assert calls[4:] == ["a photo of l3yla, serious, wearing a red coat, park"]
        assert second.captions["b.png"] == first.captions["b.png"]
        # the dataset rules append to the per-caption lists: the memo must not grow
        assert lint_workspace(ws, settings, memo=memo).to_dict() == second.to_dict()


def test_by_rel_places_every_dataset_finding_on_its_images() -> None:
    w = Severity.WARNING
    placed = LintIssue("duplicate-caption", w, "same caption as b", 0, 3)
    report = DatasetReport(
        {"a": [placed], "b": []},
        [
            DatasetIssue("duplicate-caption", w, "2 images share one caption", ("a", "b")),
            DatasetIssue("untagged-recurring", w, "gold hoops", ("c",), "gold hoops"),
            DatasetIssue("identity-leak", w, "a fragment names no image"),
        ],
    )
    by_rel = report.by_rel
    assert by_rel["a"] == [LintIssue("duplicate-caption", w, "same caption as b", 0, 3, rel="a")]
    assert [(i.rule, i.start, i.end, i.fix, i.rel) for i in by_rel["b"]] == [
        ("duplicate-caption", 0, 0, None, "b")
    ]
    assert [i.rule for i in by_rel["c"]] == ["untagged-recurring"]
    assert [i.rule for i in report.general] == ["identity-leak"]
    assert len(report.all_issues()) == 4
    assert report.to_dict()["captions"][0]["issues"][0].get("rel") is None  # not in the JSON
