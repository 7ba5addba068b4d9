"""Run the main window on one simulated screen (a subprocess of ``test_gui_screen_fit``).

Usage: ``python screen_probe.py WIDTH HEIGHT DPR DATASET SHOTS_DIR``. The offscreen platform
is given a screen of WIDTH x HEIGHT device pixels at DPR; the window is shown at its default
geometry, a folder opened, an unreadable image selected, a long advice line applied, the
Balance dock shown, then restored from saved geometry after the screen is "smaller". Prints one
JSON line: the screen and every window geometry seen, for the test to assert.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

W, H, DPR = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
DATASET, SHOTS = Path(sys.argv[4]), Path(sys.argv[5])
conf = Path(tempfile.mkdtemp()) / "screen.json"
conf.write_text(
    json.dumps(
        {
            "screens": [
                {
                    "name": "probe",
                    "x": 0,
                    "y": 0,
                    "width": W,
                    "height": H,
                    "logicalDpi": int(96 * DPR),
                    "logicalBaseDpi": 96,
                    "dpr": 1,
                }
            ]
        }
    )
)
os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={conf}"

from PySide6.QtCore import QPoint, QRect  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktop.app import create_app  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402

LONG = (
    "Too few full-body shots: add 6 images where the whole figure is visible head to toe, "
    "from different angles, in different places and clothes, so the LoRA learns the body"
)
seen: dict[str, list[int]] = {}


def rect(win) -> list[int]:
    g = win.frameGeometry()
    return [g.x(), g.y(), g.width(), g.height()]


def settle(app, n: int = 30) -> None:
    for _ in range(n):
        app.processEvents()


def wait(app, cond, n: int = 4000) -> None:
    import time

    end = time.monotonic() + 30
    while not cond() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)


app = create_app()
screen = app.primaryScreen().availableGeometry()
win = MainWindow()
win.show()
settle(app)
seen["default"] = rect(win)
win.grab().save(str(SHOTS / f"screen_{W}x{H}@{DPR}_empty.png"))
opened = []
win.session.opened.connect(lambda *a: opened.append(1))
win.open_folder(str(DATASET))
wait(app, lambda: opened)
settle(app)
seen["opened"] = rect(win)
win.browser.grid.select_rel("zz_broken.jpg")
wait(app, lambda: "truncated" in win.browser.detail.info.text() or False)
settle(app)
seen["broken_selected"] = rect(win)
win.faces.show_advice(["img_00.jpg", "img_01.jpg"], LONG)
settle(app)
seen["advice"] = rect(win)
tb = win.toolbar
hidden = [
    a.iconText()
    for a in tb.actions()
    if not a.isSeparator() and a.isVisible() and not tb.widgetForAction(a).isVisible()
]
style = tb.toolButtonStyle().name

win.faces.show_dashboard()
settle(app)
seen["dashboard"] = rect(win)
dock = win.faces.dock
corner = dock.mapToGlobal(QPoint(0, 0))
seen["dock"] = [corner.x(), corner.y(), dock.width(), dock.height()]
hint = win.minimumSizeHint()
seen["minimum"] = [0, 0, hint.width(), hint.height()]
win.grab().save(str(SHOTS / f"screen_{W}x{H}@{DPR}_advice.png"))
# the screen shrinks under the window (resolution or scaling change): the window follows
win.setGeometry(QRect(-300, -200, W * 2, H * 2))
settle(app)
win.screen().availableGeometryChanged.emit(win.screen().availableGeometry())
settle(app)
seen["screen_changed"] = rect(win)
# geometry saved on a bigger screen must still fit this one when restored
win.setGeometry(QRect(-200, -100, W * 2, H * 2))
win.save_geometry()
win.close()
win2 = MainWindow()
win2.show()
settle(app)
seen["restored"] = rect(win2)
win2.close()
s = QRect(screen)
print(
    json.dumps(
        {
            "screen": [s.x(), s.y(), s.width(), s.height()],
            "seen": seen,
            "toolbar_hidden": hidden,
            "toolbar_style": style,
        }
    )
)
sys.stdout.flush()
QApplication.quit()
