"""Typed dataset settings in their own state table: round trip, legacy cache migration,
damaged or foreign values, the kohya trigger guess, and a read-only (in-memory) state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from curation.dataset_settings import DatasetSettings, guess_trigger, settings_or_guess
from curation.workspace import Workspace


@pytest.fixture
def ds(tmp_path: Path) -> Path:
    root = tmp_path / "10_l3yla"
    root.mkdir()
    for i in range(2):
        Image.new("RGB", (16, 16), (i * 40, 0, 0)).save(root / f"img{i}.png")
    return root


def test_round_trip_in_its_own_table(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        assert ws.settings() == DatasetSettings()  # defaults: no trigger, character profile
        ws.set_settings(DatasetSettings("m4ria", "a woman with red hair", "face"))
        assert ws.db.query("SELECT value FROM settings WHERE key='trigger'") == [('"m4ria"',)]
        assert ws.cache_get("dataset", "settings") is None  # not a cache entry
    with Workspace.open(ds) as again:
        assert again.settings() == DatasetSettings("m4ria", "a woman with red hair", "face")


def test_legacy_cache_entry_is_moved_once(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        ws.cache_put("dataset", "settings", {"trigger": "ohwx", "profile": "face", "x": 3})
        assert ws.settings() == DatasetSettings("ohwx", "", "face")  # unknown "x" ignored
        assert ws.cache_get("dataset", "settings") is None
        assert ws.settings().trigger == "ohwx"  # now from the settings table


def test_damaged_and_foreign_values_fall_back_to_defaults(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        with ws.db.tx() as conn:
            conn.execute("INSERT INTO settings VALUES('trigger', '{broken')")
            conn.execute("INSERT INTO settings VALUES('profile', ?)", (json.dumps(7),))
            conn.execute("INSERT INTO settings VALUES('identity_line', ?)", (json.dumps("x y"),))
        assert ws.settings() == DatasetSettings("", "x y", "character")


def test_kohya_folder_name_gives_the_trigger_only_when_none_is_stored(ds: Path) -> None:
    with Workspace.open(ds) as ws:
        assert guess_trigger(ws) == "l3yla"
        assert settings_or_guess(ws).trigger == "l3yla"
        assert ws.settings().trigger == ""  # a guess is not stored
        ws.set_settings(DatasetSettings("ohwx"))
        assert settings_or_guess(ws).trigger == "ohwx"


def test_reading_never_creates_state(ds: Path) -> None:
    with Workspace.open(ds, create=False) as ws:
        assert ws.state_dir is None and ws.settings() == DatasetSettings()
    assert not (ds / ".likeness").exists()
