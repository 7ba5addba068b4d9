"""Start the desktop app: QApplication, theme, logging, exception hooks, the main window.

Opening the GUI never imports torch: models are loaded by the panels that need them, lazily.
"""

from __future__ import annotations

import logging
import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from desktop.logging_setup import install_excepthooks, install_qt_message_handler, setup_logging

log = logging.getLogger(__name__)


def create_app(argv: list[str] | None = None) -> QApplication:
    """The QApplication (created once), with the dark theme and logging in place."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setApplicationName("Likeness")
    app.setOrganizationName("Likeness")
    app.setApplicationDisplayName("Likeness")
    setup_logging()
    install_excepthooks()
    install_qt_message_handler()
    from desktop.widgets.theme import apply_dark_theme

    apply_dark_theme(app)
    return app  # type: ignore[return-value]


def build_main_window(folder: str | os.PathLike[str] | None = None):
    """Create (not show) the main window, opening ``folder`` in the background if given."""
    from desktop.main_window import MainWindow

    window = MainWindow()
    if folder:
        window.open_folder(str(folder))
    return window


def run(folder: str | os.PathLike[str] | None = None) -> int:
    """Show the app and run its event loop; returns the exit code."""
    app = create_app()
    window = build_main_window(folder)
    window.show()
    if os.environ.get("LIKENESS_QUIT_AFTER_SHOW"):  # cold-start benchmark: show, then leave
        QTimer.singleShot(0, app.quit)
    log.info("Likeness started")
    return int(app.exec())
