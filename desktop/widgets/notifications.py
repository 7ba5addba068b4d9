"""Non-blocking error reporting: a banner that slides in at the top of the window for
warnings and errors from any thread (via the logging ring buffer), and a log viewer."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.logging_setup import RingBufferHandler, log_file_path
from desktop.widgets.common import icon


class LogBridge(QObject):
    """Turns log records from any thread into a GUI-thread signal."""

    record = Signal(int, str)  # level, message

    def __init__(
        self,
        ring: RingBufferHandler,
        min_level: int = logging.WARNING,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.ring = ring
        self.min_level = min_level
        ring.add_listener(self._on_record)
        self.destroyed.connect(lambda *_: ring.remove_listener(self._on_record))

    def _on_record(self, rec: logging.LogRecord) -> None:
        if rec.levelno >= self.min_level and not rec.name.startswith("qt"):
            try:
                self.record.emit(rec.levelno, rec.getMessage())
            except RuntimeError:  # the bridge is being destroyed
                pass

    def detach(self) -> None:
        self.ring.remove_listener(self._on_record)


class NotificationBanner(QWidget):
    """One line with a level colour, a "Show log" link and a close button; never modal."""

    show_log = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notificationBanner")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.icon = QLabel()
        self.icon.setPixmap(icon("warning").pixmap(18, 18))
        self.text = QLabel("")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.count = 0
        log_btn = QPushButton("Show log")
        log_btn.setObjectName("linkButton")
        log_btn.clicked.connect(self.show_log)
        close = QToolButton()
        close.setIcon(icon("close"))
        close.setAutoRaise(True)
        close.setToolTip("Dismiss (Esc)")
        close.clicked.connect(self.dismiss)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 6, 8, 6)
        lay.addWidget(self.icon)
        lay.addWidget(self.text, 1)
        lay.addWidget(log_btn)
        lay.addWidget(close)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.dismiss)
        self.hide()

    def show_message(self, level: str, message: str) -> None:
        """Show ``message``; info fades after 4 s, warnings after 10 s, errors stay."""
        self.count += 1
        self.setProperty("level", level)
        self.style().unpolish(self)
        self.style().polish(self)
        self.text.setText(message if len(message) < 400 else message[:400] + "…")
        self.icon.setVisible(level != "info")
        self.show()
        if level == "info":
            self._timer.start(4000)
        elif level == "warning":
            self._timer.start(10000)
        else:
            self._timer.stop()

    def dismiss(self) -> None:
        self._timer.stop()
        self.hide()

    def level(self) -> str:
        return str(self.property("level") or "")


class LogViewer(QDialog):
    """The recent log (from memory) with a level filter; the full log file is named."""

    def __init__(self, ring: RingBufferHandler, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Likeness log")
        self.resize(900, 500)
        self.ring = ring
        self.level = QComboBox()
        for name, lvl in (("Debug", 10), ("Info", 20), ("Warnings", 30), ("Errors", 40)):
            self.level.addItem(name, lvl)
        self.level.setCurrentIndex(1)
        self.level.currentIndexChanged.connect(self.refresh)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        self.text.setFont(mono)
        path = QLabel(f"Full log: {log_file_path()}")
        path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(QLabel("Show"))
        top.addWidget(self.level)
        top.addStretch(1)
        top.addWidget(refresh)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.text, 1)
        lay.addWidget(path)
        self.refresh()

    def refresh(self) -> None:
        self.text.setPlainText(self.ring.text(int(self.level.currentData())))
        self.text.verticalScrollBar().setValue(self.text.verticalScrollBar().maximum())
