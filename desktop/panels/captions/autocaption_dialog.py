"""The autocaption dialog: Florence-2 (base / large / a local folder), task, mode, scope and
device; progress with a rate and cancel; results become suggestions for the review screen.

The model runs in ``AutocaptionWorker``, a QObject moved to its own QThread; it only
produces suggestions (raw output + cleaned line). Writing happens here, on the GUI thread,
through the workspace history: "fill" and "replace" write the cleaned captions as ONE undo
step, "suggest" writes nothing. Every mode then opens the review screen.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from curation.captioners.autocaption import AutocaptionError
from curation.captioners.download import downloads_off
from curation.captioners.review import AutocaptionRequest, accepted_suggestions, run_for_review
from desktop.panels.captions.missing_model import MissingModelBox

log = logging.getLogger(__name__)

MODELS = (
    ("base", "Florence-2 base (0.23 B, fast)"),
    ("large", "Florence-2 large (0.77 B, more detail)"),
    ("local", "Local folder…"),
)
TASKS = (
    ("<MORE_DETAILED_CAPTION>", "More detailed caption (best for cleaning)"),
    ("<DETAILED_CAPTION>", "Detailed caption"),
    ("<CAPTION>", "Short caption"),
)
MODES = (
    ("suggest", "Suggest only", "write nothing; review every suggestion first"),
    ("fill", "Fill empty captions", "write only where there is no caption yet"),
    ("replace", "Replace captions", "overwrite the captions in scope (one undo step)"),
)
MODEL_KEYS = ("base", "large")
DEVICES = (("auto", "Auto (GPU if available)"), ("cuda", "GPU (CUDA)"), ("cpu", "CPU"))


class AutocaptionWorker(QObject):
    """Runs the captioner over the requested images; lives on its own QThread."""

    progress = Signal(int, int, str)  # done, total, message
    finished = Signal(list, bool)  # suggestions, cancelled
    failed = Signal(str)  # the run could not start (bad folder, no torch...)
    model_missing = Signal(str)  # the model is not on this computer and cannot be downloaded

    def __init__(self, workspace, request: AutocaptionRequest) -> None:
        super().__init__()
        from curation.jobs import CancelToken

        self.workspace = workspace
        self.request = request
        self.cancel_token = CancelToken()

    @Slot()
    def run(self) -> None:
        try:
            suggestions = run_for_review(
                self.workspace,
                self.request,
                on_progress=lambda d, t, m: self.progress.emit(int(d), int(t), str(m or "")),
                cancel=self.cancel_token,
            )
        except AutocaptionError as exc:
            from curation.captioners.base import ModelNotAvailableError

            missing = isinstance(exc.__cause__, ModelNotAvailableError)
            if missing and self.request.model in MODEL_KEYS:
                self.model_missing.emit(str(exc))
            else:
                self.failed.emit(str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - reported in the dialog, never a crash
            log.exception("Autocaption failed")
            self.failed.emit(f"Autocaption failed: {exc}")
            return
        self.finished.emit(suggestions, self.cancel_token.cancelled)

    def cancel(self) -> None:
        self.cancel_token.cancel()


class AutocaptionDialog(QDialog):
    review_requested = Signal(list)  # list[ReviewItem]

    def __init__(self, controller, selection: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Autocaption")
        self.setObjectName("autocaptionDialog")
        self.resize(660, 430)
        self.controller = controller
        self.session = controller.session
        self.selection = list(selection)
        self.suggestions: list = []
        self.thread: QThread | None = None
        self.worker: AutocaptionWorker | None = None
        self._t0 = 0.0

        self.model = QComboBox()
        for key, title in MODELS:
            self.model.addItem(title, key)
        self._mark_models_on_disk()
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("a folder with config.json and model.safetensors")
        self.browse = QToolButton()
        self.browse.setText("…")
        self.browse.setToolTip("Choose a local model folder")
        folder_row = QHBoxLayout()
        folder_row.setContentsMargins(0, 0, 0, 0)
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.browse)
        self.folder_box = QWidget()
        self.folder_box.setLayout(folder_row)
        self.task = QComboBox()
        for key, title in TASKS:
            self.task.addItem(title, key)
        self.mode_group = QButtonGroup(self)
        self.mode_widget = QWidget()  # a widget, not a bare layout: rows never overlap it
        mode_box = QVBoxLayout(self.mode_widget)
        mode_box.setContentsMargins(0, 0, 0, 0)
        mode_box.setSpacing(2)
        for i, (key, title, hint) in enumerate(MODES):
            rb = QRadioButton(f"{title}  —  {hint}")
            rb.setProperty("mode", key)
            self.mode_group.addButton(rb, i)
            rb.setMinimumHeight(rb.sizeHint().height())
            mode_box.addWidget(rb)
        self.mode_group.button(0).setChecked(True)
        self.scope = QComboBox()
        self.device = QComboBox()
        for key, title in DEVICES:
            self.device.addItem(title, key)
        self.batch = QSpinBox()
        self.batch.setRange(1, 64)
        self.batch.setValue(4)
        self.batch.setToolTip("Images per batch (larger is faster on a GPU, uses more memory)")
        self.detect = QCheckBox("Also detect objects (<OD>) to find untagged accessories")
        self.detect.setToolTip(
            "A second Florence-2 pass per image; its labels feed the untagged-recurring lint"
        )
        dev_row = QHBoxLayout()
        dev_row.addWidget(self.device, 1)
        dev_row.addWidget(QLabel("Batch"))
        dev_row.addWidget(self.batch)
        self.trigger_note = QLabel("")
        self.trigger_note.setObjectName("hint")
        self.trigger_note.setWordWrap(True)
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        form.addRow("&Model", self.model)
        form.addRow("Folder", self.folder_box)
        form.addRow("&Task", self.task)
        form.addRow("Mode", self.mode_widget)
        self.form = form
        form.addRow("&Images", self.scope)
        form.addRow("Device", dev_row)
        form.addRow("", self.detect)
        form.addRow("", self.trigger_note)
        self.error = QLabel("")
        self.error.setObjectName("errorBanner")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.hide()
        self.missing = MissingModelBox(self)
        self.missing.choose_btn.clicked.connect(self._use_local_folder)
        self.missing.hide()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.status = QLabel("")
        self.status.setObjectName("hint")
        self.start_btn = QPushButton("Start")
        self.start_btn.setObjectName("primaryButton")
        self.start_btn.setDefault(True)
        self.cancel_btn = QPushButton("Cancel")
        self.review_btn = QPushButton("Review suggestions")
        self.review_btn.hide()
        self.close_btn = QPushButton("Close")
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.review_btn)
        buttons.addWidget(self.cancel_btn)
        buttons.addWidget(self.close_btn)
        buttons.addWidget(self.start_btn)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(18, 16, 18, 14)
        lay.setSpacing(10)
        lay.addLayout(form)
        lay.addWidget(self.error)
        lay.addWidget(self.missing)
        lay.addWidget(self.progress)
        lay.addLayout(buttons)

        self.model.currentIndexChanged.connect(self._update_model)
        self.browse.clicked.connect(self._choose_folder)
        self.mode_group.idToggled.connect(lambda *_: self._fill_scope())
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.close_btn.clicked.connect(self.close)
        self.review_btn.clicked.connect(lambda: self.review_requested.emit(self.suggestions))
        self._fill_scope()
        self._update_model()
        self._set_running(False)
        settings = controller.settings
        self.trigger_note.setText(
            f"Captions are cleaned for the trigger <b>{settings.trigger}</b>"
            + (
                f" and the identity line “{settings.identity_line}”"
                if settings.identity_line
                else ""
            )
            + ": identity descriptors are removed, the subject becomes the trigger."
            if settings.trigger
            else "<span style='color:#f0b429'>No trigger set: set one in Dataset settings "
            "(Ctrl+Shift+T) so the captions start with it.</span>"
        )

    # -- form ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.thread is not None

    def mode(self) -> str:
        return str(self.mode_group.checkedButton().property("mode"))

    def _fill_scope(self) -> None:
        ws = self.session.workspace
        rels = [i.rel for i in ws.items] if ws else []
        uncaptioned = [r for r in rels if not ws.has_caption(r) or not ws.caption(r).strip()]
        current = self.scope.currentData()
        self.scope.clear()
        self.scope.addItem(f"All images ({len(rels)})", "all")
        if self.selection:
            self.scope.addItem(f"Selection ({len(self.selection)})", "selection")
        self.scope.addItem(f"Uncaptioned only ({len(uncaptioned)})", "uncaptioned")
        default = current or ("selection" if len(self.selection) > 1 else "all")
        self.scope.setCurrentIndex(max(0, self.scope.findData(default)))

    def scope_rels(self) -> list[str]:
        ws = self.session.workspace
        scope = self.scope.currentData()
        rels = [i.rel for i in ws.items]
        if scope == "selection":
            rels = [r for r in rels if r in set(self.selection)]
        elif scope == "uncaptioned":
            rels = [r for r in rels if not ws.has_caption(r) or not ws.caption(r).strip()]
        if self.mode() == "fill":
            rels = [r for r in rels if not ws.has_caption(r) or not ws.caption(r).strip()]
        return rels

    def _update_model(self) -> None:
        local = self.model.currentData() == "local"
        self.form.setRowVisible(self.folder_box, local)
        self.missing.hide()
        key = self.model.currentData()
        if key in MODEL_KEYS and downloads_off() and not self._on_disk.get(key):
            self._show_missing(key)  # say it now, not after pressing Start
        self._fit_height()

    def _fit_height(self) -> None:
        """Grow (never shrink) to what the form needs, so rows cannot be squeezed together."""
        lay = self.layout()
        if lay is not None:
            lay.activate()
        need = self.sizeHint().height()
        if self.height() < need:
            self.resize(self.width(), need)

    def _mark_models_on_disk(self) -> None:
        """The model list says which models are already on this computer."""
        from curation.captioners.download import model_on_disk

        self._on_disk = {key: model_on_disk(key) for key in MODEL_KEYS}
        for i in range(self.model.count()):
            key = self.model.itemData(i)
            if key in MODEL_KEYS:
                title = dict(MODELS)[key]
                state = "on this computer" if self._on_disk[key] else "needs a one-time download"
                self.model.setItemText(i, f"{title} — {state}")

    def _show_missing(self, key: str) -> None:
        from curation.captioners.download import missing_model_message

        self.error.hide()
        self.missing.set_message(missing_model_message(key))
        self.missing.show()
        self._fit_height()

    def _use_local_folder(self) -> None:
        self.model.setCurrentIndex(self.model.findData("local"))
        self._choose_folder()

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Florence-2 model folder")
        if folder:
            self.folder.setText(folder)

    def request(self) -> AutocaptionRequest:
        rels = self.scope_rels()
        model = self.model.currentData()
        if model == "local":
            model = self.folder.text().strip()
        return AutocaptionRequest(
            rels=rels,
            settings=self.controller.settings,
            model=model,
            task=self.task.currentData(),
            mode=self.mode(),
            device=self.device.currentData(),
            batch_size=self.batch.value(),
            detect_objects=self.detect.isChecked(),
            shots=self.controller.shots(rels),
        )

    # -- run ------------------------------------------------------------------------------------
    def start(self) -> bool:
        if self.running:
            return False
        self.error.hide()
        self.missing.hide()
        if self.model.currentData() == "local" and not self.folder.text().strip():
            self._show_error("Choose the local model folder first.")
            return False
        req = self.request()
        if not req.settings.trigger:
            self._show_error(
                "Set the dataset's trigger token first (Captions → Dataset settings): the "
                "cleaned captions start with it."
            )
            return False
        if not req.rels:
            self._show_error(
                "No images to caption in this scope"
                + (" (fill only captions that are empty)." if self.mode() == "fill" else ".")
            )
            return False
        self.suggestions = []
        self.review_btn.hide()
        self.progress.setRange(0, len(req.rels))
        self.progress.setValue(0)
        self.progress.setFormat(f"0/{len(req.rels)}")
        self.status.setText("Loading the model…")
        self.progress.show()
        self._t0 = time.perf_counter()
        self._first = None
        self.thread = QThread(self)
        self.thread.setObjectName("autocaption")
        self.worker = AutocaptionWorker(self.session.workspace, req)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        self.worker.progress.connect(self._on_progress)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.model_missing.connect(self._on_model_missing)
        self.thread.finished.connect(self.worker.deleteLater)
        self._set_running(True)
        self.thread.start()
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.status.setText("Cancelling after the current batch…")
            self.cancel_btn.setEnabled(False)

    def _on_progress(self, done: int, total: int, message: str) -> None:
        if done == 0:  # loading or downloading the model
            if self._first is None and message.startswith("captioning"):
                self._first = time.perf_counter()
            self.status.setText(message[:1].upper() + message[1:] if message else "")
            return
        if self._first is None:
            self._first = time.perf_counter()
        self.progress.setMaximum(max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done}/{total}")
        rate = done / max(time.perf_counter() - self._first, 1e-6)
        left = (total - done) / rate if rate > 0 else 0
        self.status.setText(f"{rate:.1f} images/s · about {left:.0f} s left")

    def _on_failed(self, message: str) -> None:
        self._stop_thread()
        self.progress.hide()
        self.status.setText("")
        self._show_error(message)

    def _on_model_missing(self, _message: str) -> None:
        key = self.model.currentData()
        self._stop_thread()
        self.progress.hide()
        self.status.setText("")
        self._show_missing(str(key))

    def _on_finished(self, suggestions: list, cancelled: bool) -> None:
        self._stop_thread()
        self.suggestions = list(suggestions)
        took = time.perf_counter() - self._t0
        ok = [s for s in self.suggestions if not s.error]
        failed = len(self.suggestions) - len(ok)
        written = self._write(ok)
        parts = [f"{len(ok)} captioned in {took:.1f} s"]
        if failed:
            parts.append(f"{failed} failed")
        if written:
            parts.append(f"{written} written (one undo step)")
        if cancelled:
            parts.append("cancelled")
        self.status.setText(" · ".join(parts))
        self.progress.setValue(len(self.suggestions))
        self.progress.setFormat(f"{len(self.suggestions)}/{self.progress.maximum()}")
        if self.suggestions:
            self.review_btn.show()
            self.review_requested.emit(self.suggestions)

    def _write(self, ok: list) -> int:
        """Fill / replace: write the cleaned captions now, as one undo step."""
        mode = self.mode()
        if mode == "suggest" or not ok:
            return 0
        self.controller.browser.editor.save()  # typing in progress is its own undo step
        label = f"autocaption: {mode} {len(ok)} captions"
        result = self.session.accept_suggestions(accepted_suggestions(ok), label, mode=mode)
        if result is None:
            return 0
        for s in ok:
            if s.rel in result.written:
                s.status, s.accepted_text = "accepted", s.cleaned
        return len(result.written)

    def _stop_thread(self) -> None:
        if self.thread is not None:
            self.thread.quit()
            self.thread.wait(10_000)
        self.thread = None
        self.worker = None
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.start_btn.setEnabled(not running)
        self.cancel_btn.setEnabled(running)
        self.cancel_btn.setVisible(running)
        self.close_btn.setVisible(not running)
        for w in (
            self.model,
            self.task,
            self.scope,
            self.device,
            self.batch,
            self.folder_box,
            self.detect,
        ):
            w.setEnabled(not running)
        for b in self.mode_group.buttons():
            b.setEnabled(not running)

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self._fit_height()

    def reject(self) -> None:  # Esc cancels a run first, closes the next time
        if self.running:
            self.cancel()
            return
        super().reject()

    def closeEvent(self, event) -> None:  # noqa: N802
        if self.running:
            self.cancel()
            self._stop_thread()
        super().closeEvent(event)
