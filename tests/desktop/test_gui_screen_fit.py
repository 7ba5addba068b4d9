"""The main window fits the screen: default and restored geometry, long texts, docks.

Each screen size runs in its own process (``screen_probe.py``): the offscreen platform's
screen is set before the QApplication exists. 1920x1080 at 1.5x scaling is 1280x720 logical
pixels, the tightest common case. Screenshots: ``tests/_artifacts/screenshots/screen_*``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QRect, QSize
from test_gui_fixtures import make_dataset

from desktop.window_fit import PREFERRED, default_rect, fit_rect

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]

# (device width, height, scale) -> the logical screen the window must fit
SCREENS = [
    ((1280, 720, 1.0), (1280, 720)),
    ((1920, 1080, 1.5), (1280, 720)),
    ((2560, 1440, 1.0), (2560, 1440)),
]


def inside(rect: list[int], screen: list[int]) -> bool:
    x, y, w, h = rect
    sx, sy, sw, sh = screen
    return x >= sx and y >= sy and x + w <= sx + sw and y + h <= sy + sh


@pytest.mark.gui
@pytest.mark.parametrize(("device", "logical"), SCREENS, ids=["1280x720", "1080p@1.5x", "1440p"])
def test_window_never_leaves_the_screen(tmp_path, screenshot_dir, device, logical):
    data = make_dataset(tmp_path / "10_l3yla")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(HERE), env.get("PYTHONPATH", "")])
    env.pop("QT_QPA_PLATFORM", None)
    w, h, dpr = device
    out = subprocess.run(
        [
            sys.executable,
            str(HERE / "screen_probe.py"),
            str(w),
            str(h),
            str(dpr),
            str(data),
            str(screenshot_dir),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    screen = result["screen"]
    assert screen[2:] == list(logical)
    seen = result["seen"]
    for step in (
        "default",
        "opened",
        "broken_selected",
        "advice",
        "dashboard",
        "dock",
        "restored",
        "screen_changed",
    ):
        assert inside(seen[step], screen), (step, seen[step], screen)
    # nothing a user does widens the window: same size before and after
    assert seen["advice"][2:] == seen["default"][2:] == seen["broken_selected"][2:]
    # the window can still shrink well below the smallest screen
    assert seen["minimum"][2] <= 1200 and seen["minimum"][3] < 650
    # every toolbar button is on the bar with its label (beside, or under when narrow)
    assert result["toolbar_hidden"] == []
    assert result["toolbar_style"] in ("ToolButtonTextBesideIcon", "ToolButtonTextUnderIcon")
    if logical == (2560, 1440):
        assert result["toolbar_style"] == "ToolButtonTextBesideIcon"
    if logical == (2560, 1440):  # room to spare: the preferred size, centred
        assert seen["default"][2] < 2560 * 0.6


def test_fit_rect_shrinks_and_moves_inside():
    screen = QRect(0, 0, 1280, 720)
    assert fit_rect(QRect(-200, -100, 3000, 2000), screen) == screen
    assert fit_rect(QRect(1000, 600, 800, 400), screen) == QRect(480, 320, 800, 400)
    assert fit_rect(QRect(10, 10, 100, 100), screen) == QRect(10, 10, 100, 100)
    # a second screen to the right: the rect lands on it, not on the first
    right = QRect(1280, 0, 1920, 1080)
    assert fit_rect(QRect(100, 100, 800, 600), right) == QRect(1280, 100, 800, 600)


def test_default_rect_is_never_bigger_than_the_screen():
    small = QRect(0, 0, 1280, 720)
    r = default_rect(small)
    assert small.contains(r) and r.width() < 1280 and r.height() < 720
    big = QRect(0, 0, 2560, 1440)
    r = default_rect(big)
    assert r.size() == PREFERRED and r.center() == big.center()
    assert default_rect(QRect(0, 0, 800, 600)).size() == QSize(736, 552)
