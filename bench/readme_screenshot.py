"""Render ``docs/screenshot-main.png``: the main window on a synthetic dataset (no real people).

QT_QPA_PLATFORM=offscreen .venv/bin/python bench/readme_screenshot.py
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="likeness-shot-"))
    for key, sub in (
        ("LIKENESS_CONFIG_DIR", "c"),
        ("LIKENESS_CACHE_DIR", "k"),
        ("LIKENESS_LOG_DIR", "l"),
    ):
        os.environ[key] = str(home / sub)
    from synthetic import synthetic_caption, synthetic_image

    folder = home / "10_l3yla"
    folder.mkdir()
    for i in range(36):
        synthetic_image(1000 + i, 768).save(folder / f"l3yla_{i:03d}.jpg", quality=90)
        if i % 7 != 5:
            (folder / f"l3yla_{i:03d}.txt").write_text(synthetic_caption(1000 + i), "utf-8")
    from PySide6.QtCore import QEventLoop, QTimer

    from desktop.app import create_app
    from desktop.main_window import MainWindow

    app = create_app()
    win = MainWindow()
    win.resize(1600, 1000)
    win.show()
    win.open_folder(str(folder), wait=True)
    win.browser.grid.select_rel("l3yla_004.jpg")

    def busy() -> bool:  # the face analysis runs in the background after opening
        controller = getattr(getattr(win, "faces", None), "controller", None)
        return bool(getattr(controller, "running", False))

    for _ in range(240):  # up to 2 minutes on a loaded machine
        loop = QEventLoop()
        QTimer.singleShot(500, loop.quit)
        loop.exec()
        if not busy():
            break
    loop = QEventLoop()
    QTimer.singleShot(1500, loop.quit)
    loop.exec()
    out = ROOT / "docs" / "screenshot-main.png"
    win.grab().save(str(out))
    win.close()
    app.processEvents()
    shutil.rmtree(home, ignore_errors=True)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
