"""The Train tab: one click from a READY verdict to a running, never-lost training run.

``install(window)`` adds the page to the window's stack, a Train action to the toolbar and
menu, the Balance dashboard's "Ready: train a LoRA" button, and the close question (stop and
save, or keep training in the background). It returns the ``TrainFeature`` (kept on
``window.train``). Collaborators are explicit: the session (workspace, settings, analysis),
the preferences, and the trainer client.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QFileDialog, QMessageBox, QToolBar

from desktop.widgets.common import make_action

log = logging.getLogger(__name__)


def default_training_folder() -> Path:
    return Path.home() / "Likeness" / "runs"


class TrainFeature(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        from desktop.panels.train.client import TrainerProcess
        from desktop.panels.train.controller import TrainController
        from desktop.panels.train.page import TrainPage

        self.window = window
        self.session = window.session
        self.prefs = window.prefs
        self.client = TrainerProcess(self)
        self.page = TrainPage()
        self.page.set_checkpoint_opener(window.open_lora_tools)
        self.controller = TrainController(self.page, self.client)
        self.close_answer: str | None = None  # tests: "stop" / "background" / "cancel"
        self.gpu_probe = None  # tests replace it (a callable returning a Gpu or None)
        window.stack.addWidget(self.page)
        self._connect()
        self.act_train = make_action(
            window,
            "&Train…",
            None,
            "Ctrl+T",
            self.show,
            tip="Train a LoRA on this dataset: runs, new run, live progress",
        )
        toolbar = window.findChild(QToolBar, "mainToolbar")
        if toolbar is not None:
            toolbar.addSeparator()
            toolbar.addAction(self.act_train)
        window.menuBar().addMenu("T&raining").addAction(self.act_train)
        faces = getattr(window, "faces", None)
        if faces is not None:
            faces.dashboard.train_requested.connect(self.show)
        self.session.opened.connect(lambda *_: self.on_opened())
        self.session.closed.connect(self.client.detach)
        self.session.closed.connect(lambda *_: self.page.likeness.reset(None))
        window.installEventFilter(_CloseGuard(self, window))

    def _connect(self) -> None:
        c, ctl, page = self.client, self.controller, self.page
        for name in (
            "started",
            "status",
            "cache_progress",
            "step",
            "sample_saved",
            "checkpoint_saved",
            "warning",
            "error",
            "done",
        ):
            getattr(c, name).connect(ctl.on_event)
        c.started.connect(lambda _e: setattr(page, "attached", True))
        for sig in (c.done, c.error):
            sig.connect(lambda _e: setattr(page, "attached", False))
        c.interrupted.connect(self._interrupted)
        c.launch_failed.connect(page.show_message)
        page.btn_stop.clicked.connect(lambda: ctl.command("stop"))
        page.btn_save.clicked.connect(lambda: ctl.command("save"))
        page.btn_sample.clicked.connect(lambda: ctl.command("sample"))
        page.btn_resume.clicked.connect(self.resume)
        page.btn_lower.clicked.connect(self._lower)
        page.back_requested.connect(lambda: self.window.stack.setCurrentWidget(self.window.browser))
        page.run_selected.connect(self.open_run)
        page.jump_requested.connect(self._jump)
        page.form.start_requested.connect(self.start)
        page.form.preset_chosen.connect(lambda name: self.new_form(preset=name))
        page.form.import_requested.connect(self.import_aitk)
        page.form.export_requested.connect(self.export_aitk)
        page.form.comfy_requested.connect(self.choose_comfy)

    # -- state ------------------------------------------------------------------------------
    @property
    def training_folder(self) -> Path:
        return (
            Path(self.prefs.training_folder)
            if self.prefs.training_folder
            else default_training_folder()
        )

    def show(self) -> None:
        if not self.session.is_open:
            return
        self.window.stack.setCurrentWidget(self.page)
        if self.page.form.form is None:
            self.new_form()

    def on_opened(self) -> None:
        ws = self.session.workspace
        if ws is None:
            return
        self.client.detach()
        self.page.attached = False
        self.controller.hist = None
        self.page.form.form = None
        self.page.dataset = Path(ws.root)
        self.controller.open_dataset(Path(ws.root), self.training_folder)
        if self.client.following:
            self.page.attached = True

    def new_form(self, preset: str | None = None) -> None:
        from desktop.panels.train.controller import dataset_facts, form_defaults
        from training.machine import detect_gpu, find_models
        from training.presets import apply_preset

        ws = self.session.workspace
        if ws is None:
            return
        gpu = self.gpu_probe() if self.gpu_probe is not None else detect_gpu()
        comfy = Path(self.prefs.comfyui_dir) if self.prefs.comfyui_dir else None
        facts = dataset_facts(ws)
        form, notes = form_defaults(
            facts, training_folder=self.training_folder, gpu=gpu, models=find_models(comfy)
        )
        if preset and form.config is not None:
            from desktop.panels.train.form import RunForm

            form = RunForm.from_config(apply_preset(form.config, preset))
        chosen = preset or next((n.split("preset ")[-1] for n in notes if "preset " in n), "8gb")
        self.page.form.set_form(form, notes, preset=chosen)
        self.page.tabs.setCurrentIndex(0)

    # -- actions ----------------------------------------------------------------------------
    def start(self) -> bool:
        from curation.gate import check_dataset

        form = self.page.form.form
        ws = self.session.workspace
        if form is None or ws is None:
            return False
        trigger = form.get("trigger")
        gate = check_dataset(ws, trigger=trigger if isinstance(trigger, str) else None)
        ok = self.controller.start(form, gate=gate)
        if ok:
            self.page.attached = True
        return ok

    def resume(self) -> bool:
        ok = self.controller.resume()
        self.page.attached = ok or self.page.attached
        return ok

    def _lower(self) -> None:
        self.page.attached = self.controller.lower_preset_and_resume()

    def open_run(self, name: str) -> None:
        from training.run_history import load_history

        run_dir = self.training_folder / name
        hist = load_history(run_dir)
        if hist.status() == "running":
            self.client.detach()
            self.controller.attach(run_dir)
            self.page.attached = True
        else:
            self.client.detach()
            self.page.attached = False
            self.controller.show_run(run_dir)

    def _interrupted(self, message: str) -> None:
        self.page.attached = False
        self.controller.on_interrupted(message)

    def _jump(self, rel: str) -> None:
        self.window.stack.setCurrentWidget(self.window.browser)
        self.window.browser.reveal(rel)

    def import_aitk(self) -> None:
        from desktop.panels.train.form import RunForm
        from training.aitk import import_aitk
        from training.config_errors import ConfigError

        path, _ = QFileDialog.getOpenFileName(
            self.page, "Import an ai-toolkit job", "", "Jobs (*.yaml *.yml *.json)"
        )
        if not path:
            return
        try:
            cfg, report = import_aitk(
                Path(path),
                trigger=self.page.form.form.get("trigger") if self.page.form.form else None,
                base_dir=Path(path).parent,
            )
        except (ConfigError, OSError) as exc:
            QMessageBox.warning(self.page, "Import", str(exc))
            return
        self.page.form.set_form(RunForm.from_config(cfg), [report.summary(), *report.lines()])

    def choose_comfy(self, folder: str | None = None) -> None:
        """Set the ComfyUI folder (kept in the preferences) and search it again."""
        from desktop.settings import save_preferences

        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.page, "Your ComfyUI folder")
        if not folder:
            return
        self.prefs.comfyui_dir = folder
        try:
            save_preferences(self.prefs)
        except OSError as exc:
            log.warning("cannot save the preferences: %s", exc)
        self.new_form()

    def export_aitk(self) -> None:
        from training.aitk import save_aitk

        form = self.page.form.form
        if form is None or form.validate() or form.config is None:
            return
        path, _ = QFileDialog.getSaveFileName(
            self.page, "Export an ai-toolkit job", f"{form.config.name}.yaml"
        )
        if path:
            notes = save_aitk(form.config, Path(path))
            self.page.show_message("\n".join([f"wrote {path}", *map(str, notes or [])]))

    # -- closing ----------------------------------------------------------------------------
    def ask_close(self) -> str:
        """ "stop" (save and stop), "background" (keep training) or "cancel"."""
        if not self.page.attached:
            return "background"
        if self.close_answer is not None:
            return self.close_answer
        box = QMessageBox(self.window)
        box.setWindowTitle("A training run is going")
        box.setText(
            "Training is running. Keep it going in the background? You can reopen the dataset later to follow it."
        )
        bg = box.addButton("Keep training in the background", QMessageBox.ButtonRole.AcceptRole)
        stop = box.addButton("Stop and save", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return (
            "background"
            if box.clickedButton() is bg
            else "stop"
            if box.clickedButton() is stop
            else "cancel"
        )


class _CloseGuard(QObject):
    def __init__(self, feature: TrainFeature, parent: QObject) -> None:
        super().__init__(parent)
        self.feature = feature

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Close:
            answer = self.feature.ask_close()
            if answer == "cancel":
                event.ignore()
                return True
            if answer == "stop":
                self.feature.controller.command("stop")
            self.feature.client.detach()  # the trainer goes on; its events stay in events.jsonl
            self.feature.page.likeness.stop()
        return False


def install(window) -> TrainFeature:
    feature = TrainFeature(window)
    window.train = feature
    return feature


__all__ = ["TrainFeature", "install"]
