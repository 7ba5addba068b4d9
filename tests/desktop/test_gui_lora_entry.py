"""The LoRA tools' entry points: the Train tab's checkpoint list (double click, context menu) and
the main window's wiring; each calls the opener it was given with the checkpoint's path."""

from __future__ import annotations

import pytest

from tests.desktop.test_grid_viewer_controller import grid  # noqa: F401 - a fixture
from training import protocol as p

pytestmark = pytest.mark.gui


def test_checkpoint_list_opens_the_double_clicked_and_menu_checkpoint(qtbot):
    from desktop.panels.train.page import TrainPage

    page = TrainPage()
    qtbot.addWidget(page)
    page.add_checkpoint(p.CheckpointSaved(step=500, path="/runs/a/a_000000500.safetensors",
                                          state_path="/runs/a/state"))  # fmt: skip
    page.add_checkpoint(p.CheckpointSaved(step=900, path="/runs/a/a.safetensors"))
    item_before = page.checkpoints.item(0)
    assert page.checkpoint_menu(item_before) is None  # no opener: no menu
    opened: list[str] = []
    page.set_checkpoint_opener(opened.append)
    page.checkpoints.itemDoubleClicked.emit(page.checkpoints.item(1))
    menu = page.checkpoint_menu(item_before)
    assert menu is not None
    (action,) = menu.actions()
    assert action.text() == "Open in LoRA tools…"
    action.trigger()
    assert opened == ["/runs/a/a.safetensors", "/runs/a/a_000000500.safetensors"]
    assert page.checkpoint_menu(None) is None


def test_main_window_passes_its_opener_to_the_train_tab_and_grid(qtbot, grid):  # noqa: F811
    from desktop.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    assert win.train.page.checkpoint_opener == win.open_lora_tools
    viewer = win.open_grid(grid)
    assert viewer is not None and viewer.open_lora == win.open_lora_tools
    viewer.close()
