"""``ModelDownloadDialog``: a face-model download off the GUI thread, with progress and cancel.

The download itself is a core function (`curation.faces.models.download_model`,
`curation.faces.insightface_backend.download_insightface_models`) run on the thread pool; the
dialog only shows its progress and its outcome. Without a network the user reads one plain
sentence ("no internet connection: copy the files into <folder>") and gets a button that
opens that folder; any other failure is one sentence too, never a traceback. Nothing is
retried by itself: a download only ever starts from a click.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from curation.jobs import CancelToken

log = logging.getLogger(__name__)

#: fn(on_progress, cancel) -> the downloaded path
DownloadFn = Callable[[Callable[[int, int, str], None], CancelToken], Any]


def plain_error(exc: BaseException) -> str:
    """One sentence for the user, whatever went wrong."""
    from curation.errors import LikenessError

    if isinstance(exc, LikenessError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"could not save the download: {exc.strerror or exc}"
    return f"the download failed ({type(exc).__name__}); see the log for details"


class _Signals(QObject):
    progress = Signal(int, int)
    finished = Signal(str)
    failed = Signal(str, bool)  # message, cancelled


class _Download(QRunnable):
    def __init__(self, fn: DownloadFn, cancel: CancelToken) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.cancel = cancel
        self.signals = _Signals()

    def run(self) -> None:
        from curation.faces.models import DownloadCancelled

        try:
            path = self.fn(lambda d, t, _m: self.signals.progress.emit(int(d), int(t)), self.cancel)
        except DownloadCancelled as exc:
            self.signals.failed.emit(str(exc), True)
        except Exception as exc:  # noqa: BLE001 - shown as one sentence, logged in full
            log.debug("model download failed", exc_info=True)
            self.signals.failed.emit(plain_error(exc), False)
        else:
            self.signals.finished.emit(str(path))


class ModelDownloadDialog(QDialog):
    """Runs ``fn`` once when shown; ``succeeded(path)`` or ``failed(message)`` at the end."""

    succeeded = Signal(str)
    failed = Signal(str)

    def __init__(
        self,
        title: str,
        what: str,
        folder: Path,
        fn: DownloadFn,
        parent: QWidget | None = None,
        pool: QThreadPool | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("modelDownloadDialog")
        self.setWindowTitle(title)
        self.setMinimumWidth(460)
        self.folder = folder
        self._fn = fn
        self._pool = pool or QThreadPool.globalInstance()
        self._job: _Download | None = None
        self._cancel = CancelToken()
        self.outcome: str | None = None  # "done", "failed", "cancelled"
        self.message = QLabel(what)
        self.message.setWordWrap(True)
        self.message.setObjectName("downloadMessage")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # busy until the size is known
        self.cancel_btn = QPushButton("Cancel")
        self.open_btn = QPushButton("Open the model folder")
        self.open_btn.setObjectName("openModelFolder")
        self.open_btn.hide()
        self.close_btn = QPushButton("Close")
        self.close_btn.hide()
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_btn)
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.close_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(self.message)
        lay.addWidget(self.bar)
        lay.addLayout(buttons)
        self.cancel_btn.clicked.connect(self.cancel)
        self.close_btn.clicked.connect(self.accept)
        self.open_btn.clicked.connect(self.open_folder)

    def start(self) -> None:
        """Show the dialog (window-modal, never blocking) and start the download."""
        self.open()
        job = _Download(self._fn, self._cancel)
        job.signals.progress.connect(self._on_progress)
        job.signals.finished.connect(self._on_done)
        job.signals.failed.connect(self._on_failed)
        self._job = job
        self._pool.start(job)

    @property
    def running(self) -> bool:
        return self._job is not None and self.outcome is None

    def cancel(self) -> None:
        self._cancel.cancel()
        self.cancel_btn.setEnabled(False)
        self.message.setText("Cancelling…")

    def reject(self) -> None:  # Escape or the window's close button: cancel, never block
        if self.running:
            self.cancel()
            return
        super().reject()

    def open_folder(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.folder)))

    def _on_progress(self, done: int, total: int) -> None:
        if total > 0:
            self.bar.setRange(0, 1000)
            self.bar.setValue(min(1000, int(1000 * done / total)))
            self.bar.setFormat(f"{done / 1e6:.1f} of {total / 1e6:.1f} MB")
        else:
            self.bar.setFormat(f"{done / 1e6:.1f} MB")

    def _finish(self, outcome: str, text: str) -> None:
        self.outcome = outcome
        self._job = None
        self.message.setText(text)
        self.cancel_btn.hide()
        self.close_btn.show()
        self.bar.setRange(0, 1000)
        self.bar.setValue(1000 if outcome == "done" else 0)

    def _on_done(self, path: str) -> None:
        self._finish("done", f"Downloaded into {path}.")
        self.succeeded.emit(path)
        self.accept()

    def _on_failed(self, message: str, cancelled: bool) -> None:
        self._finish("cancelled" if cancelled else "failed", message[:1].upper() + message[1:])
        self.bar.hide()
        self.open_btn.setVisible(not cancelled)
        self.failed.emit(message)
