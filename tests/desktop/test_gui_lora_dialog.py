"""The LoRA dialog: inspect chart, re-weight with a preset, merge, resize, convert, ComfyUI."""

from __future__ import annotations

import json

import pytest

from tests.training.lora_fixtures import small_lora

pytestmark = pytest.mark.gui
torch = pytest.importorskip("torch")


@pytest.fixture
def lora_files(tmp_path):
    from training.lora.io import save_lora

    a = save_lora(small_lora(layers=30, rank=8, seed=1), tmp_path / "leyla.safetensors")
    b = save_lora(small_lora(layers=30, rank=4, seed=2), tmp_path / "style.safetensors")
    return a, b


def _wait(qtbot, dlg):
    qtbot.waitUntil(lambda: not dlg.busy, timeout=60_000)


def test_dialog_inspects_reweights_merges_resizes_converts(qtbot, lora_files, tmp_path,
                                                            screenshot_dir):  # fmt: skip
    from PySide6.QtCore import Qt

    from desktop.widgets.lora_dialog import LoraDialog
    from training.lora.io import history, load_lora

    a, b = lora_files
    dlg = LoraDialog(str(a))
    qtbot.addWidget(dlg)
    dlg.show()
    _wait(qtbot, dlg)
    assert dlg.report is not None and len(dlg.chart.items) == 30
    assert dlg.scale_btn.isEnabled() and dlg.send_btn.isEnabled()
    assert "l3yla" in dlg.summary.toPlainText()
    assert dlg.prompt.text() == "a photo of l3yla"
    dlg.grab().save(str(screenshot_dir / "lora_dialog_inspect.png"))

    outputs = iter(
        str(tmp_path / n)
        for n in ("w.safetensors", "m.safetensors", "r.safetensors", "c.safetensors")
    )
    dlg.ask_save = lambda *_a, **_k: next(outputs)
    dlg.ask_open = lambda: str(b)

    dlg.tabs.setCurrentIndex(1)
    panel = dlg.weights_panel
    panel.preset.setCurrentIndex(panel.preset.findData("drop-adaln"))
    panel.component_sliders["v"].set_value(1.5)
    panel.layer_sliders["0-9"].set_value(0.5)
    dlg.grab().save(str(screenshot_dir / "lora_dialog_weights.png"))
    qtbot.mouseClick(dlg.scale_btn, Qt.MouseButton.LeftButton)
    _wait(qtbot, dlg)
    assert "Wrote" in dlg.status.text(), dlg.status.text()
    w = load_lora(tmp_path / "w.safetensors")
    assert not any("adaLN" in n for n in w.modules)
    assert w.modules["layers.3.attention.to_v"].scale == pytest.approx(0.75)
    assert w.modules["layers.12.attention.to_q"].scale == pytest.approx(1.0)

    panel.reset()
    assert panel.weights().is_identity()
    dlg.merge_weight.setValue(0.5)
    dlg.add_merge_input()
    dlg.merge_rank.setValue(8)
    dlg.save_merged()
    _wait(qtbot, dlg)
    assert "energy kept" in dlg.status.text(), dlg.status.text()
    merged = load_lora(tmp_path / "m.safetensors")
    assert merged.ranks() == [8]
    assert history(merged)[-1]["inputs"][1] == {"file": "style.safetensors", "weight": 0.5}

    dlg.resize_rank.setValue(2)
    dlg.save_resized()
    _wait(qtbot, dlg)
    assert load_lora(tmp_path / "r.safetensors").ranks() == [2]

    dlg.format.setCurrentText("musubi")
    dlg.save_converted()
    _wait(qtbot, dlg)
    assert "identical deltas" in dlg.status.text(), dlg.status.text()
    assert load_lora(tmp_path / "c.safetensors").source_format == "musubi"


def test_dialog_sends_to_comfyui_and_reports_errors(qtbot, lora_files, tmp_path):
    from desktop.settings import Preferences, load_preferences
    from desktop.widgets.lora_dialog import LoraDialog

    a, _ = lora_files
    root = tmp_path / "ComfyUI"
    (root / "models" / "vae").mkdir(parents=True)
    (root / "models" / "vae" / "ae.safetensors").write_bytes(b"x")
    prefs = Preferences()
    dlg = LoraDialog(str(a), prefs=prefs)
    qtbot.addWidget(dlg)
    _wait(qtbot, dlg)
    dlg.send_to_comfyui()
    assert "ComfyUI folder" in dlg.status.text()
    dlg.comfy_dir.setText(str(root))
    dlg.strength_spin.setValue(0.65)
    dlg.send_to_comfyui()
    _wait(qtbot, dlg)
    assert "workflow" in dlg.status.text(), dlg.status.text()
    wf = json.loads((root / "user/default/workflows/leyla.json").read_text())
    node = next(n for n in wf["nodes"] if n["type"] == "LoraLoaderModelOnly")
    assert node["widgets_values"] == ["leyla.safetensors", 0.65]
    assert (root / "models/loras/leyla.safetensors").is_file()
    assert load_preferences().comfyui_dir == str(root)  # remembered for next time

    (tmp_path / "bad.safetensors").write_bytes(b"not a LoRA")
    dlg.open_path(str(tmp_path / "bad.safetensors"))
    _wait(qtbot, dlg)
    assert "failed" in dlg.status.text() and "bad.safetensors" in dlg.status.text()
    assert dlg.path == str(a)  # the open LoRA stays usable


def test_tools_menu_opens_the_dialog_for_a_file(qtbot, lora_files, monkeypatch):
    from desktop.main_window import MainWindow
    from desktop.widgets.lora_dialog import LoraDialog

    window = MainWindow()
    qtbot.addWidget(window)
    menus = [a.text() for a in window.menuBar().actions()]
    assert "&Tools" in menus
    monkeypatch.setattr(
        "desktop.main_window.QFileDialog.getOpenFileName", lambda *a, **k: (str(lora_files[0]), "")
    )
    window.act_lora.trigger()
    dialogs = window.findChildren(LoraDialog)
    assert len(dialogs) == 1
    dlg = dialogs[0]
    _wait(qtbot, dlg)
    assert dlg.report is not None
