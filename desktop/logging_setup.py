"""Logging for the desktop app: a rotating log file, an in-memory ring buffer that the log
viewer and the notification banner read, the exception hooks and Qt's own messages.

Nothing here touches a widget: listeners are plain callables (the GUI connects a Qt signal,
which hops to the GUI thread when the record came from a worker thread).
"""

from __future__ import annotations

import collections
import logging
import logging.handlers
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from curation import paths

LOG_FILE = "likeness.log"
FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s]: %(message)s"

Listener = Callable[[logging.LogRecord], None]


class RingBufferHandler(logging.Handler):
    """Keeps the last ``capacity`` formatted records and tells listeners about new ones."""

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: collections.deque[tuple[int, str]] = collections.deque(maxlen=capacity)
        self._listeners: list[Listener] = []
        self._lock_listeners = threading.Lock()
        self.setFormatter(logging.Formatter(FORMAT))

    def add_listener(self, fn: Listener) -> None:
        with self._lock_listeners:
            self._listeners.append(fn)

    def remove_listener(self, fn: Listener) -> None:
        with self._lock_listeners:
            if fn in self._listeners:
                self._listeners.remove(fn)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.records.append((record.levelno, self.format(record)))
            with self._lock_listeners:
                listeners = list(self._listeners)
            for fn in listeners:
                fn(record)
        except Exception:  # a logging handler must never raise
            self.handleError(record)

    def text(self, min_level: int = logging.DEBUG) -> str:
        return "\n".join(line for level, line in list(self.records) if level >= min_level)


_ring: RingBufferHandler | None = None
_file_handler: logging.Handler | None = None


def log_file_path() -> Path:
    return paths.log_dir() / LOG_FILE


def setup_logging(level: int = logging.INFO) -> RingBufferHandler:
    """Attach the file and ring-buffer handlers to the root logger (idempotent)."""
    global _ring, _file_handler
    root = logging.getLogger()
    if _ring is None:
        _ring = RingBufferHandler()
        root.addHandler(_ring)
    wanted = log_file_path()
    if _file_handler is None or Path(getattr(_file_handler, "baseFilename", "")) != wanted:
        if _file_handler is not None:
            root.removeHandler(_file_handler)
            _file_handler.close()
        try:
            handler: logging.Handler = logging.handlers.RotatingFileHandler(
                wanted, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
            )
            handler.setFormatter(logging.Formatter(FORMAT))
            handler.setLevel(logging.DEBUG)
            root.addHandler(handler)
            _file_handler = handler
        except OSError as exc:  # no log file is not a reason to refuse to start
            logging.getLogger(__name__).warning("Cannot write the log file %s: %s", wanted, exc)
    for h in root.handlers:  # a console handler from the CLI keeps showing warnings only
        if type(h) is logging.StreamHandler and h.level == logging.NOTSET:
            h.setLevel(max(root.level, logging.WARNING) if root.level else logging.WARNING)
    if root.level > level or root.level == logging.NOTSET:
        root.setLevel(level)
    for noisy in ("PIL", "PIL.PngImagePlugin", "PIL.TiffImagePlugin"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return _ring


def ring_buffer() -> RingBufferHandler:
    return _ring if _ring is not None else setup_logging()


def install_excepthooks() -> None:
    """Route uncaught exceptions (main and worker threads) into the log as CRITICAL."""
    log = logging.getLogger("likeness.crash")

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        log.critical("Unexpected error: %s", exc or exc_type.__name__, exc_info=(exc_type, exc, tb))

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread else "?"
        log.critical(
            "Unexpected error in thread %s: %s",
            name,
            args.exc_value or args.exc_type.__name__,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    sys.excepthook = hook
    threading.excepthook = thread_hook


def install_qt_message_handler() -> None:
    """Send Qt's warnings (qWarning & co.) to the ``qt`` logger instead of stderr."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    qt_log = logging.getLogger("qt")
    levels = {
        QtMsgType.QtDebugMsg: logging.DEBUG,
        QtMsgType.QtInfoMsg: logging.INFO,
        QtMsgType.QtWarningMsg: logging.WARNING,
        QtMsgType.QtCriticalMsg: logging.ERROR,
        QtMsgType.QtFatalMsg: logging.CRITICAL,
    }

    def handler(mode, _context, message) -> None:
        level = levels.get(mode, logging.WARNING)
        # Font/QPA chatter is not something a user can act on.
        if level == logging.WARNING and ("propagateSizeHints" in message or "QFont" in message):
            level = logging.DEBUG
        qt_log.log(level, "%s", message)

    qInstallMessageHandler(handler)
