"""The grid viewer window (pytest-qt, offscreen) on a small grid folder, with screenshots."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import Qt

from tests.desktop.test_grid_viewer_controller import grid  # noqa: F401 - a fixture

pytestmark = pytest.mark.gui


def _paint(grid_dir):  # noqa: F811
    """Cells that look different, so the screenshot shows the layout."""
    for i, row in enumerate(sorted(p for p in grid_dir.iterdir() if p.is_dir())):
        for png in row.glob("*.png"):
            im = Image.new("RGB", (512, 640), (30 + 90 * i, 60, 140))
            d = ImageDraw.Draw(im)
            d.ellipse((160, 120, 352, 360), fill=(220, 180, 150))
            d.text((20, 20), f"{row.name} {png.stem}", fill=(255, 255, 255))
            im.save(png)


def test_viewer_shows_the_grid_moves_marks_and_compares(qtbot, grid, screenshot_dir):  # noqa: F811
    from desktop.grid_viewer.window import GridViewerWindow

    _paint(grid)
    win = GridViewerWindow(grid)
    qtbot.addWidget(win)
    win.show()
    assert (win.table.rowCount(), win.table.columnCount()) == (2, 2)
    assert "id 0.77" in win.table.item(1, 0).text()
    win.table.setFocus()
    qtbot.keyClick(win.table, Qt.Key.Key_Down)
    assert (win.ctl.row, win.ctl.col) == (1, 0)
    win.ctl.toggle_mark("star")
    assert "★" in win.table.item(1, 0).text()
    win.ctl.toggle_compare()
    win.ctl.select(0, 0)
    win.ctl.toggle_compare()
    assert len(win.compare.views) == 2
    win.compare._zoom(2.0)
    scales = {round(v.transform().m11(), 4) for v in win.compare.views}
    assert len(scales) == 1  # zoom is shared
    win.strength_box.setCurrentIndex(0)
    assert win.ctl.strength == 0.8
    qtbot.wait(200)
    win.grab().save(str(screenshot_dir / "grid_viewer.png"))


def test_main_window_opens_a_grid(qtbot, grid, tmp_path, monkeypatch):  # noqa: F811
    from desktop.main_window import MainWindow

    win = MainWindow()
    qtbot.addWidget(win)
    assert win.act_grid in win.menuBar().actions()[0].menu().actions()
    viewer = win.open_grid(grid)
    assert viewer is not None and viewer.table.rowCount() == 2
    viewer.close()
    (grid.parent / "config.yaml").write_text("name: tiny\n", "utf-8")
    viewer = win.open_grid(grid.parent)  # a run folder opens its grid
    assert viewer is not None and viewer.ctl.grid_dir == grid
    viewer.close()
    assert win.open_grid(tmp_path / "not-a-grid") is None


def test_open_in_lora_tools_calls_the_opener_with_the_rows_checkpoint(qtbot, grid):  # noqa: F811
    from desktop.grid_viewer.window import GridViewerWindow

    opened: list[str] = []
    win = GridViewerWindow(grid, open_lora=opened.append)
    qtbot.addWidget(win)
    assert win.lora_action.isVisible()
    win.ctl.select(1, 0)
    win.lora_action.trigger()
    assert opened == [win.ctl.rows[1]["path"]]
    assert opened[0].endswith(f"{win.ctl.rows[1]['name']}.safetensors")
    alone = GridViewerWindow(grid)  # no opener: no action, nothing to call
    qtbot.addWidget(alone)
    assert not alone.lora_action.isVisible()
    alone.open_in_lora_tools()


def test_cell_pictures_decode_off_the_gui_thread_and_stay_in_memory(qtbot, grid, monkeypatch):  # noqa: F811
    """Opening the grid and switching the strength never decodes a PNG on the GUI thread;
    switching back shows the pictures from memory; a mark reframes the picture it has."""
    import threading

    from desktop.grid_viewer.window import GridViewerWindow
    from desktop.widgets import scaled_images

    _paint(grid)
    gui = threading.get_ident()
    decoded: list[tuple[str, int]] = []
    real = scaled_images.read_scaled
    monkeypatch.setattr(
        scaled_images,
        "read_scaled",
        lambda path, side: decoded.append((path, threading.get_ident())) or real(path, side),
    )
    win = GridViewerWindow(grid)
    qtbot.addWidget(win)
    win.show()

    def all_shown() -> bool:
        return all(not win.table.item(r, c).icon().isNull() for r in range(2) for c in range(2))

    qtbot.waitUntil(all_shown, timeout=10000)
    assert len(decoded) == 4 and gui not in {t for _p, t in decoded}
    win.strength_box.setCurrentIndex(0)  # 0.8: four other files
    qtbot.waitUntil(lambda: len(decoded) == 8 and all_shown(), timeout=10000)
    win.strength_box.setCurrentIndex(1)  # back to 1.0: from memory, at once
    assert all_shown() and len(decoded) == 8
    win.ctl.select(0, 1)
    win.ctl.toggle_mark("reject")
    assert all_shown() and len(decoded) == 8 and "✗" in win.table.item(0, 1).text()
    # a picture rewritten in place (another render) is decoded again
    png = grid / win.ctl.cell_file(1, 1)
    Image.new("RGB", (512, 640), (250, 250, 0)).save(png)
    win.ctl.refresh()
    qtbot.waitUntil(lambda: len(decoded) == 9 and all_shown(), timeout=10000)
