"""The caption profile in the GUI: the dataset settings list every balance profile (the
user's too) with the word budget from its YAML, and the lint uses that same value."""

from __future__ import annotations

import os

import pytest
from test_gui_captions_lint import captions, lint_dataset  # noqa: F401
from test_gui_fixtures import window  # noqa: F401

from curation.balance.profiles import user_profile_dir

pytestmark = pytest.mark.gui

TIGHT = (
    "schema_version: 1\nname: tight\ntiers:\n  close-up: {target: 5}\ncaptions: {max_words: %d}\n"
)


def _write_tight(words: int):
    folder = user_profile_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tight.yaml"
    path.write_text(TIGHT % words, encoding="utf-8")
    return path


def test_lint_config_takes_the_budget_from_the_profile_yaml():
    from curation.captions.workspace_lint import LintMemo, lint_config, profile_choices
    from curation.dataset_settings import DatasetSettings

    memo = LintMemo()
    assert lint_config(DatasetSettings("l3yla", "", "character"), memo).max_words == 75
    assert lint_config(DatasetSettings("l3yla", "", "face"), memo).max_words == 40
    assert lint_config(DatasetSettings("l3yla", "", "face"), memo, max_words=0).max_words is None
    assert memo.max_words("nosuch") is None  # unknown: no budget, logged
    path = _write_tight(12)
    assert memo.max_words("tight") == 12
    path.write_text(TIGHT % 0, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert memo.max_words("tight") is None  # edited file read again; 0 is off
    path.write_text(TIGHT.replace("max_words", "max_wrds") % 3, encoding="utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 2 * 10**9))
    assert memo.max_words("tight") is None  # invalid: no budget
    assert "tight" not in dict(profile_choices())  # and not offered


def _too_long(captions) -> set[str]:  # noqa: F811
    captions.controller.relint_now(wait=True)
    return {
        rel
        for rel, marks in captions.controller.report.by_rel.items()
        if any(m.rule == "too-long" for m in marks)
    }


def test_settings_profile_drives_the_word_budget(qtbot, window, captions):  # noqa: F811
    path = _write_tight(10)
    assert _too_long(captions) == set()  # character: 75 words
    dlg = captions.open_settings()
    qtbot.waitExposed(dlg)
    items = {dlg.profile.itemData(i): dlg.profile.itemText(i) for i in range(dlg.profile.count())}
    assert "75 words" in items["character"] and "40 words" in items["face"]
    assert "10 words" in items["tight"]
    dlg.profile.setCurrentIndex(dlg.profile.findData("tight"))
    dlg.accept()
    assert captions.controller.settings.profile == "tight"
    ws = window.session.workspace
    assert ws.settings().profile == "tight"
    # 15, 8, -, 14, 13 and 13 words: all but img_01 (and the uncaptioned img_02) over 10
    assert _too_long(captions) == {"img_00.jpg", "img_03.jpg", "img_04.jpg", "img_05.jpg"}
    path.write_text(TIGHT % 13, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert _too_long(captions) == {"img_00.jpg", "img_03.jpg"}  # the edited profile
