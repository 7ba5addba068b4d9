"""Settings files: strict YAML models, atomic saves, broken files kept aside (never wiped)."""

from __future__ import annotations

from desktop.panels.faces.prefs import FacesPreferences, load_faces_prefs, save_faces_prefs
from desktop.settings import Preferences, load_yaml_model, save_yaml_model


def test_round_trip_keeps_every_field(tmp_path):
    path = tmp_path / "faces.yaml"
    prefs = FacesPreferences(
        backend="yunet", export_face_size=768, export_crop_edges={"right": 150}
    )
    save_faces_prefs(prefs, path)
    assert path.read_text("utf-8").startswith("# Likeness face-analysis preferences")
    assert load_faces_prefs(path) == prefs
    assert not list(tmp_path.glob("*.tmp"))


def test_broken_or_misspelt_file_is_kept_aside_and_defaults_used(tmp_path):
    for text in ("backend: [unclosed", "bakend: yunet\n", "- a list\n"):
        path = tmp_path / "prefs.yaml"
        path.write_text(text, "utf-8")
        assert load_yaml_model(path, Preferences, "Preferences") == Preferences()
        assert not path.exists()
        kept = sorted(tmp_path.glob("prefs.yaml.invalid-*"))
        assert kept and kept[-1].read_text("utf-8") == text
        for f in kept:
            f.unlink()


def test_missing_file_gives_defaults_and_save_creates_folders(tmp_path):
    path = tmp_path / "a" / "b" / "prefs.yaml"
    assert load_yaml_model(path, Preferences, "Preferences") == Preferences()
    save_yaml_model(Preferences(thumbnail_size=256), path, "header")
    assert load_yaml_model(path, Preferences, "Preferences").thumbnail_size == 256
