"""The LoRA dialog's Preview: one prompt, one seed, rendered before (the file as it is) and after
(the Re-weight tab's sliders applied) by the grid renderer in a child process.

``PreviewJob`` is the Qt-free part: where the base model's config comes from (the run folder the
LoRA sits in, or a config the user picks), a private temp folder (the edited LoRA, the prompt
file, the grid), the renderer's command line (``python -m training grid RUN --checkpoints
ORIGINAL EDITED --prompts FILE --no-stretch --seeds S --strengths X --out TMP/grid``;
``LIKENESS_TRAINER_CMD`` replaces ``python -m training``, as for ``likeness grid``) and its
JSON-line events (docs/grid.md). ``PreviewPanel`` is the view: it writes the edited LoRA on the
thread pool, runs the renderer through ``QProcess`` (Stop sends ``stop`` on stdin, then kills),
shows progress and errors plainly, and the two images side by side. Inputs are never written;
the temp folder goes when the renderer ends or the panel closes.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QProcess, Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktop.workers import run_in_pool

log = logging.getLogger(__name__)

IMAGE_SIDE = 360
STOP_GRACE_MS = 5000


def run_config_of(lora: str | Path) -> Path | None:
    """The config.yaml of the run folder a LoRA sits in, or None."""
    cfg = Path(lora).expanduser().resolve().parent / "config.yaml"
    return cfg if cfg.is_file() else None


def renderer_prefix() -> list[str]:
    prefix = os.environ.get("LIKENESS_TRAINER_CMD")
    return shlex.split(prefix) if prefix else [sys.executable, "-m", "training"]


@dataclass
class PreviewJob:
    """One before/after render: its temp folder, command line and the cells received."""

    original: Path
    config: Path
    prompt: str
    seed: int = 42
    strength: float = 1.0
    steps: int = 8
    tmp: Path = field(init=False)
    before: Path | None = None
    after: Path | None = None
    progress: str = ""
    error: str | None = None
    done_reason: str | None = None

    def __post_init__(self) -> None:
        self.original = Path(self.original)
        self.config = Path(self.config)
        self.tmp = Path(tempfile.mkdtemp(prefix="likeness-preview-"))  # 0700: private
        name = self.original.stem if self.original.stem != "base" else "base-lora"
        self.edited = self.tmp / f"{name}-edited.safetensors"
        self.edited_row = self.edited.stem

    @property
    def run_dir(self) -> Path:
        """The folder the renderer reads config.yaml from: the config's own folder when it is a
        config.yaml, else a copy under the temp folder (the renderer wants ``RUN/config.yaml``)."""
        if self.config.name == "config.yaml":
            return self.config.parent
        run = self.tmp / "run"
        if not (run / "config.yaml").is_file():
            run.mkdir(exist_ok=True)
            shutil.copyfile(self.config, run / "config.yaml")
        return run

    def command(self) -> list[str]:
        prompts = self.tmp / "prompt.txt"
        prompts.write_text(" ".join(self.prompt.split()) + "\n", encoding="utf-8")
        return renderer_prefix() + [
            "grid", str(self.run_dir),
            "--checkpoints", str(self.original), str(self.edited),
            "--prompts", str(prompts), "--no-stretch",
            "--seeds", str(self.seed), "--strengths", f"{self.strength:g}",
            "--steps", str(self.steps), "--out", str(self.tmp / "grid"),
        ]  # fmt: skip

    def feed(self, line: str) -> str | None:
        """One line of the renderer's stdout; returns the event's name (None: not an event)."""
        try:
            ev: dict[str, Any] = json.loads(line)
        except ValueError:
            return None
        if not isinstance(ev, dict):
            return None
        kind = str(ev.get("event") or ev.get("type") or "")
        if kind == "grid_progress":
            self.progress = f"{ev.get('done', 0)} of {ev.get('total', 2)} images"
        elif kind == "status" and ev.get("message"):
            self.progress = str(ev["message"])
        elif kind == "grid_image_saved" and ev.get("path"):
            path = Path(str(ev["path"]))
            if ev.get("row") == self.edited_row:
                self.after = path
            else:
                self.before = path
        elif kind == "error":
            self.error = str(ev.get("message") or "the renderer failed")
            details = ev.get("details") or []
            if details:
                self.error += "".join(f"\n{d}" for d in details[:6])
        elif kind == "done":
            self.done_reason = str(ev.get("reason") or "finished")
        return kind or None

    def cleanup(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


class PreviewPanel(QWidget):
    """The Preview tab. ``source()`` gives the open LoRA's path (or None), ``weights()`` the
    Re-weight tab's current weights."""

    def __init__(
        self,
        source: Callable[[], str | None],
        weights: Callable[[], Any],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.source, self.weights = source, weights
        self.chosen_config: Path | None = None
        self.steps = 8  # sampling steps (Turbo); tests on the tiny model use fewer
        self.job: PreviewJob | None = None
        self.proc: QProcess | None = None
        self._buf = b""
        self._stderr = b""
        self._pool_job = None
        self.prompt = QLineEdit()
        self.prompt.setToolTip("One prompt; end it with '| WIDTHxHEIGHT' for another size")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(42)
        self.strength = QDoubleSpinBox()
        self.strength.setRange(0.0, 4.0)
        self.strength.setSingleStep(0.05)
        self.strength.setValue(1.0)
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.model_label.setObjectName("previewModel")
        pick = QPushButton("Choose a run config…")
        pick.clicked.connect(self.choose_config)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model_label, 1)
        model_row.addWidget(pick)
        self.preview_btn = QPushButton("Preview")
        self.preview_btn.clicked.connect(self.start)
        self.stop_btn = QPushButton("Stop")
        self.stop_btn.clicked.connect(self.stop)
        self.stop_btn.setEnabled(False)
        self.state = QLabel("")
        self.state.setWordWrap(True)
        self.state.setObjectName("previewState")
        self.before_img, self.after_img = QLabel(), QLabel()
        images = QHBoxLayout()
        for title, img in (("Before (the file)", self.before_img),
                           ("After (current sliders)", self.after_img)):  # fmt: skip
            img.setFixedSize(IMAGE_SIDE, IMAGE_SIDE)
            img.setAlignment(Qt.AlignmentFlag.AlignCenter)
            img.setStyleSheet("background: #222; color: #aaa;")
            col = QVBoxLayout()
            col.addWidget(QLabel(title))
            col.addWidget(img)
            images.addLayout(col)
        form = QFormLayout()
        form.addRow("Base model", model_row)
        form.addRow("Prompt", self.prompt)
        form.addRow("Seed", self.seed)
        form.addRow("LoRA strength", self.strength)
        buttons = QHBoxLayout()
        buttons.addWidget(self.preview_btn)
        buttons.addWidget(self.stop_btn)
        buttons.addStretch(1)
        box = QVBoxLayout(self)
        box.addLayout(form)
        box.addLayout(buttons)
        box.addWidget(self.state)
        box.addLayout(images)
        box.addStretch(1)
        self.refresh()

    # -- the base model ------------------------------------------------------------------------
    def config(self) -> Path | None:
        src = self.source()
        if self.chosen_config is not None:
            return self.chosen_config
        return run_config_of(src) if src else None

    def missing(self) -> str | None:
        """What stops a preview, in words; None when one can run."""
        if not self.source():
            return "Open a LoRA first."
        if self.config() is None:
            return ("No base model: this LoRA is not in a run folder (no config.yaml next to "
                    "it). Choose a run's config.yaml to render with its model.")  # fmt: skip
        return None

    def refresh(self) -> None:
        cfg = self.config()
        self.model_label.setText(f"from {cfg}" if cfg else "none found")
        missing = self.missing()
        running = self.proc is not None or self._pool_job is not None
        self.preview_btn.setEnabled(missing is None and not running)
        if missing and not running:
            self.state.setText(missing)

    def ask_config(self) -> str | None:  # tests replace it
        path, _ = QFileDialog.getOpenFileName(
            self, "A run config (its model renders the preview)", "", "Run config (*.yaml *.yml)"
        )
        return path or None

    def choose_config(self) -> None:
        path = self.ask_config()
        if path:
            self.chosen_config = Path(path)
            self.refresh()
            if self.missing() is None:
                self.state.setText("Ready.")

    # -- the render ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.proc is not None or self._pool_job is not None

    def start(self) -> None:
        src, cfg = self.source(), self.config()
        missing = self.missing()
        if missing or src is None or cfg is None:
            self.state.setText(missing or "")
            return
        if self.running:
            return
        prompt = self.prompt.text().strip()
        if not prompt:
            self.state.setText("Type a prompt first.")
            return
        self.job = job = PreviewJob(
            Path(src), cfg, prompt, self.seed.value(), self.strength.value(), self.steps
        )
        self.before_img.clear()
        self.after_img.clear()
        self.preview_btn.setEnabled(False)
        self.stop_btn.setEnabled(True)
        self.state.setText("Writing the edited LoRA…")
        weights = self.weights()

        def work():
            from training.lora.tools import scale_file

            return scale_file(str(job.original), str(job.edited), weights, overwrite=False)

        def done(_result) -> None:
            self._pool_job = None
            if self.job is job:
                self._launch(job)
            else:  # the panel closed meanwhile
                job.cleanup()

        def failed(message: str, _exc) -> None:
            self._pool_job = None
            self._finish(job, f"Cannot write the edited LoRA: {message}")

        self._pool_job = run_in_pool(work, done, failed)

    def _launch(self, job: PreviewJob) -> None:
        argv = job.command()
        proc = QProcess(self)
        self.proc, self._buf, self._stderr = proc, b"", b""
        proc.readyReadStandardOutput.connect(self._read_stdout)
        proc.readyReadStandardError.connect(
            lambda: setattr(
                self, "_stderr", (self._stderr + bytes(proc.readAllStandardError().data()))[-4000:]
            )  # fmt: skip
        )
        proc.finished.connect(lambda code, _status: self._on_finished(job, code))
        proc.errorOccurred.connect(lambda err: self._on_proc_error(job, err))
        self.state.setText("Starting the renderer (loading the model takes a while)…")
        log.info("preview: %s", shlex.join(argv))
        proc.start(argv[0], argv[1:])

    def _read_stdout(self) -> None:
        if self.proc is None or self.job is None:
            return
        self._buf += bytes(self.proc.readAllStandardOutput().data())
        *lines, self._buf = self._buf.split(b"\n")
        for raw in lines:
            kind = self.job.feed(raw.decode("utf-8", "replace"))
            if kind in ("grid_progress", "status", "started"):
                self.state.setText(f"Rendering: {self.job.progress or 'started'}")
            elif kind == "grid_image_saved":
                self._show_images(self.job)
            elif kind == "error" and self.job.error:
                self.state.setText(f"Preview failed: {self.job.error}")

    def _show_images(self, job: PreviewJob) -> None:
        for path, label in ((job.before, self.before_img), (job.after, self.after_img)):
            if path is not None and label.pixmap().isNull():
                pix = QPixmap(str(path))
                if pix.isNull():
                    label.setText(f"cannot read {path.name}")
                else:
                    label.setPixmap(
                        pix.scaled(
                            IMAGE_SIDE,
                            IMAGE_SIDE,
                            Qt.AspectRatioMode.KeepAspectRatio,
                            Qt.TransformationMode.SmoothTransformation,
                        )  # fmt: skip
                    )

    def _on_proc_error(self, job: PreviewJob, err) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self._finish(job, f"Cannot start the renderer: {self.proc and self.proc.errorString()}")

    def _on_finished(self, job: PreviewJob, code: int) -> None:
        self._read_stdout()
        if job.error:
            message = f"Preview failed: {job.error}"
        elif job.done_reason == "stopped":
            message = "Stopped."
        elif code != 0:
            tail = self._stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
            message = f"The renderer ended with status {code}" + "".join(f"\n{t}" for t in tail)
        elif job.before is None or job.after is None:
            message = "The renderer finished without both images."
        else:
            message = f"Before and after: seed {job.seed}, strength {job.strength:g}."
        self._finish(job, message)

    def _finish(self, job: PreviewJob, message: str) -> None:
        self._show_images(job)
        if self.proc is not None:
            self.proc.deleteLater()
        self.proc = None
        job.cleanup()
        self.stop_btn.setEnabled(False)
        self.refresh()
        self.state.setText(message)

    def stop(self) -> None:
        proc = self.proc
        if proc is None:
            return
        self.state.setText("Stopping…")
        proc.write(b"stop\n")
        QTimer.singleShot(STOP_GRACE_MS, lambda: self.proc is proc and proc.kill())

    def shutdown(self) -> None:
        """The dialog closes: end the renderer, remove the temp folder."""
        proc, job = self.proc, self.job
        self.job = None
        if proc is not None:
            proc.kill()
            proc.waitForFinished(3000)
        if job is not None:
            job.cleanup()
