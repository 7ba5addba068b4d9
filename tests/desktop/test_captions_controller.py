"""The caption and face controllers tested against a mock browser, without a ``MainWindow``
(as ndv tests its controllers): the session is real (it owns the workspace and the analysis
store), the views are ``Mock``s with the browser's small interface.

They also pin the seams of issue 9: the GUI's lint is the CLI's (same report for the same
dataset), and "Fix all" is the core fixer's result, written as ONE undo step.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from unittest.mock import Mock

import pytest
from test_gui_fixtures import make_image

from curation.captions.lint import fixes_for_rule
from curation.captions.workspace_lint import lint_config, lint_workspace
from curation.dataset_settings import DatasetSettings
from desktop.cli import main

pytestmark = pytest.mark.gui

CAPTIONS = {
    "img_00": "a photo of l3yla, a woman with blue eyes, wearing a casual outfit, sunny beach",
    "img_01": "smiling L3yla, wearing a red dress, city park",
    "img_02": None,
    "img_03": "a close-up photo of l3yla, smiling with freckles and blue eyes, wearing a coat",
    "img_04": "a photo of l3yla, brown eyes, wearing a green wool coat, snowy forest",
    "img_05": "a full body photo of l3yla, brown eyes, wearing a yellow sundress, beach",
}


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    folder = tmp_path / "10_l3yla"
    folder.mkdir()
    for i, (stem, text) in enumerate(CAPTIONS.items()):
        make_image(folder / f"{stem}.jpg", i, size=(64, 48))
        if text is not None:
            (folder / f"{stem}.txt").write_text(text, "utf-8")
    return folder


@pytest.fixture
def session(qapp, ds: Path):
    from desktop.models.session import DatasetSession

    s = DatasetSession()
    s.open_sync(ds)
    assert s.is_open
    yield s
    s.close()


def _browser() -> Mock:
    browser = Mock(spec=["editor", "counts_changed", "reveal"])
    browser.editor = Mock(spec=["rel", "save", "text", "reload_text"])
    browser.editor.rel = ""
    browser.editor.save.return_value = True
    return browser


@pytest.fixture
def ctrl(qtbot, session):
    from desktop.panels.captions.controller import CaptionsController

    browser = _browser()
    c = CaptionsController(session, browser)
    browser.counts_changed.connect.assert_called_once()  # exclusions re-lint
    c._on_opened()  # the folder opened before the controller existed
    c.relint_now(wait=True)
    return c


def test_open_reads_the_stored_settings_or_the_kohya_guess(ctrl, session) -> None:
    assert ctrl.settings == DatasetSettings("l3yla", "", "character")  # from 10_l3yla
    session.workspace.set_settings(DatasetSettings("l3yla", "a woman with blue eyes", "face"))
    ctrl._on_opened()
    assert ctrl.settings.identity_line == "a woman with blue eyes"


def test_the_gui_lint_is_the_cli_lint(ctrl, session, ds: Path, capsys) -> None:
    code = main(["lint", str(ds), "--trigger", "l3yla", "--json"])
    cli = json.loads(capsys.readouterr().out)
    assert code == 1  # img_02 has no caption: an error
    assert ctrl.report.to_dict() == cli
    assert ctrl.report.to_dict() == lint_workspace(session.workspace, ctrl.settings).to_dict()
    rels = {rel for rel, issues in ctrl.report.by_rel.items() if issues}
    assert "img_02.jpg" in rels and ctrl.report.by_rel["img_02.jpg"][0].rel == "img_02.jpg"


def test_fix_all_is_the_core_fixer_in_one_undo_step(
    qtbot, ctrl, session, ds: Path, monkeypatch
) -> None:
    import desktop.panels.captions.controller as module

    ws = session.workspace
    before = {rel: ws.caption(rel) for rel in ctrl.report.captions}
    config = lint_config(ctrl.settings, ctrl.memo)  # the lint's: the fixer re-lints with it
    expected = fixes_for_rule(before, ctrl.report, "identity-descriptor", config)
    assert len(expected) >= 3
    steps = len(ws.steps())
    seen: list[list[str]] = []
    session.captions_changed.connect(seen.append)
    lints: list[int] = []

    def counting(*args, **kwargs):
        lints.append(1)
        return lint_workspace(*args, **kwargs)

    monkeypatch.setattr(module, "lint_workspace", counting)
    result = ctrl.fix_all("identity-descriptor")
    qtbot.waitUntil(lambda: ctrl._job is None, timeout=30_000)
    assert len(lints) == 1 and not ctrl.timer.isActive()  # re-linted once, nothing queued
    assert sorted(result.written) == sorted(expected)
    for rel, text in expected.items():
        assert (ds / rel).with_suffix(".txt").read_text("utf-8") == text
    # the GUI's own fixer (before issue 9) skipped the overlapping "freckles" removal and
    # left it in the caption; the core merges overlapping removals
    assert ws.caption("img_03.jpg") == "a close-up photo of l3yla, smiling, wearing a coat"
    assert len(ws.steps()) == steps + 1
    assert [sorted(rels) for rels in seen] == [sorted(expected)]  # one signal, every caption
    ctrl.browser.editor.save.assert_called()  # typing in progress saved first
    ctrl.relint_now(wait=True)
    assert not ctrl.marks_for_rule("identity-descriptor")
    session.undo()  # the whole batch is one step
    assert {rel: ws.caption(rel) for rel in before} == before


def test_fix_all_leaves_no_finding_of_the_rule_in_one_click(qtbot, ctrl, session) -> None:
    """Captions where one pass of fixes leaves findings behind (removals that meet across a
    sentence break): the GUI gives the fixer its lint config, so one click, one undo step,
    one re-lint leaves none (issue 12 on top of issue 9's core fixer)."""
    ws = session.workspace
    hard = {
        "img_00.jpg": "l3yla, large breasts. young, olive skin, in a park. smiling",
        "img_01.jpg": "l3yla, smiling and black tied up hair, petite and blue eyes. in a park",
        "img_03.jpg": "l3yla, high cheekbones, petite with large breasts. in a park",
    }
    session.apply_changes(hard, label="setup")
    ctrl.relint_now(wait=True)
    captions = {rel: ws.caption(rel) for rel in ctrl.report.captions}
    one_pass = fixes_for_rule(captions, ctrl.report, "identity-descriptor")
    left = lint_workspace(ws, ctrl.settings, captions={**captions, **one_pass})
    assert left.issues("identity-descriptor")  # a single pass would leave some
    steps = len(ws.steps())
    ctrl.fix_all("identity-descriptor")
    qtbot.waitUntil(lambda: ctrl._job is None, timeout=30_000)
    assert len(ws.steps()) == steps + 1
    assert not ctrl.marks_for_rule("identity-descriptor")


def test_settings_are_stored_and_relint(ctrl, session) -> None:
    ctrl.set_settings(DatasetSettings("l3yla", "a woman with blue eyes", "character"))
    assert session.workspace.settings().identity_line == "a woman with blue eyes"
    ctrl.relint_now(wait=True)
    assert "identity-descriptor" not in {m.rule for m in ctrl.report.by_rel["img_00.jpg"]}


def test_a_finished_face_analysis_relints_with_its_facts(ctrl, session) -> None:
    store = session.analysis_store
    profile = SimpleNamespace(rel="img_05.jpg", tier="full-body", pose="profile", overrides={})
    assert not ctrl.timer.isActive()
    store.set_complete(SimpleNamespace(by_rel=lambda: {"img_05.jpg": profile}), None)
    assert ctrl.timer.isActive()  # scheduled, not run on the spot
    ctrl.relint_now(wait=True)
    assert ctrl.report.facts["img_05.jpg"].pose == "profile"
    assert ctrl.shots(["img_05.jpg", "img_00.jpg"]) == {"img_05.jpg": "full-body"}


def test_jump_goes_through_the_browser_interface(qtbot, ctrl) -> None:
    ctrl.browser.reveal.return_value = False
    assert not ctrl.jump_to("nope.jpg")
    ctrl.browser.reveal.return_value = True
    with qtbot.waitSignal(ctrl.jump_requested) as sig:
        assert ctrl.jump_to("img_00.jpg", 3, 7)
    assert sig.args == ["img_00.jpg", 3, 7]


def test_face_controller_results_land_in_the_session_store(qtbot, session) -> None:
    from desktop.panels.faces.controller import FaceAnalysisController

    faces = FaceAnalysisController(session)
    try:
        kinds: list[str] = []
        session.analysis_store.subscribe(kinds.append)
        img = SimpleNamespace(rel="img_00.jpg", tier="medium")
        faces._on_item(faces._gen, "img_00.jpg", img)
        assert session.analysis_store.images == {"img_00.jpg": img} and faces.images is not None
        faces._on_item(faces._gen - 1, "img_01.jpg", img)  # a stale run's result is dropped
        assert "img_01.jpg" not in session.analysis_store.images
        done = SimpleNamespace(by_rel=lambda: {"img_00.jpg": img})
        with qtbot.waitSignal(faces.finished):
            faces._on_finished(faces._gen, done, {"verdict": {}})
        assert faces.analysis is done and session.analysis_store.complete
        session.close()  # closing the dataset empties the shared store
        assert faces.images == {} and faces.report is None
        assert kinds == ["image", "complete", "cleared"]
    finally:
        faces.shutdown()


def test_every_caption_write_goes_through_the_session_and_emits_once(session, ds) -> None:
    from curation.captioners.autocaption import Suggestion

    seen: list[list[str]] = []
    session.captions_changed.connect(seen.append)
    assert session.save_caption("img_02.jpg", "a photo of l3yla, typed") is None
    assert session.apply_changes({"img_01.jpg": "a photo of l3yla, fixed"}, "quick fix", "user")
    session.accept_suggestions(
        [Suggestion("img_04.jpg", "raw", "a photo of l3yla, accepted", None)], "accept"
    )
    session.undo()
    assert seen == [["img_02.jpg"], ["img_01.jpg"], ["img_04.jpg"], ["img_04.jpg"]]
    assert session.save_caption("img_02.jpg", "a photo of l3yla, typed") is None  # unchanged
    assert len(seen) == 4  # nothing written, nothing told
    assert (ds / "img_02.txt").read_text("utf-8") == "a photo of l3yla, typed"
