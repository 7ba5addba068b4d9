"""``FaceModels``: the face-model folder setting and the model downloads of the Faces panel.

The identity check works out of the box (dlib is installed with the app); these downloads are
optional upgrades: the YuNet detector (MIT), the SFace embedder (Apache-2.0) and insightface's
buffalo_l pack (non-commercial research licence, asked by the panel first). Each download runs
in a `ModelDownloadDialog` (thread pool, progress, cancel) and only ever starts from a click:
a failed one is not retried at the next launch. The model folder is a face preference
(``model_dir``), shown and changed from the same menu.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from desktop.panels.faces.downloads import ModelDownloadDialog
from desktop.panels.faces.prefs import FacesPreferences, save_faces_prefs

log = logging.getLogger(__name__)

LABELS = {
    "yunet": ("YuNet face detector", "MIT licence, 0.2 MB: better boxes and profile views"),
    "sface": ("SFace face embedder", "Apache-2.0 licence, 39 MB: an alternative identity check"),
    "insightface": ("insightface models", "non-commercial research licence, about 280 MB"),
}


class FaceModels(QObject):
    """Owns the "Face models" menu; the panel reacts to ``ready`` / ``failed`` /
    ``folder_changed``."""

    ready = Signal(str)  # key whose download finished
    failed = Signal(str, str)  # key, one sentence for the user
    folder_changed = Signal(str)
    insightface_requested = Signal()  # the panel asks for the licence, then calls download()

    def __init__(self, parent_widget: QWidget, prefs: FacesPreferences) -> None:
        super().__init__(parent_widget)
        self.parent_widget = parent_widget
        self.prefs = prefs
        self.dialog: ModelDownloadDialog | None = None
        self.menu = QMenu("Face &models")
        self.menu.setObjectName("faceModelsMenu")
        self.act_folder = self.menu.addAction("", self.open_folder)
        self.menu.addAction("Change the model folder…", self.choose_folder)
        self.menu.addSeparator()
        self.actions = {}
        for key, (title, note) in LABELS.items():
            act = self.menu.addAction(f"Download the {title}… ({note})")
            act.triggered.connect(lambda _c=False, k=key: self.request(k))
            self.actions[key] = act
        self.menu.aboutToShow.connect(self.refresh)
        self.refresh()

    # -- folder ------------------------------------------------------------------------
    def folder(self) -> Path:
        if self.prefs.model_dir:
            return Path(self.prefs.model_dir).expanduser()
        from curation import paths

        try:
            return paths.model_dir()
        except OSError:  # an unwritable default: still show where it would be
            import os

            return Path(os.environ.get("LIKENESS_MODEL_DIR", "models"))

    def refresh(self) -> None:
        from curation.faces.insightface_backend import models_present
        from curation.faces.models import find_model

        self.act_folder.setText(f"Open the model folder ({self.folder()})")
        for key in ("yunet", "sface"):
            have = find_model(key, self.folder()) is not None
            self.actions[key].setEnabled(not have)
        self.actions["insightface"].setEnabled(not models_present())

    def open_folder(self) -> None:
        folder = self.folder()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.failed.emit("folder", f"cannot create {folder}: {exc.strerror or exc}")
            return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(
            self.parent_widget, "Face model folder", str(self.folder())
        )
        if chosen:
            self.set_folder(chosen)

    def set_folder(self, folder: str | None) -> None:
        self.prefs.model_dir = folder or None
        save_faces_prefs(self.prefs)
        self.refresh()
        self.folder_changed.emit(str(self.folder()))

    # -- downloads ---------------------------------------------------------------------
    def request(self, key: str) -> None:
        """A menu click: insightface goes through the panel's licence question first."""
        if key == "insightface":
            self.insightface_requested.emit()
            return
        self.download(key)

    def download(self, key: str) -> ModelDownloadDialog | None:
        """Start downloading ``key`` ("yunet", "sface", "insightface") in a dialog."""
        if self.dialog is not None and self.dialog.running:
            self.dialog.raise_()
            return self.dialog
        title, note = LABELS[key]
        if key == "insightface":
            from curation.faces.insightface_backend import (
                DEFAULT_PACK,
                default_root,
                download_insightface_models,
            )

            folder = default_root() / "models" / DEFAULT_PACK

            def fn(progress, cancel):
                return download_insightface_models(on_progress=progress, cancel=cancel)

        else:
            from curation.faces.models import download_model

            folder = self.folder()
            model_dir = folder

            def fn(progress, cancel):
                return download_model(key, model_dir, on_progress=progress, cancel=cancel)

        dlg = ModelDownloadDialog(
            f"Download the {title}", f"Downloading the {title} ({note}) into {folder}…",
            folder, fn, self.parent_widget,
        )  # fmt: skip
        dlg.succeeded.connect(lambda _path, k=key: self._done(k))
        dlg.failed.connect(lambda message, k=key: self.failed.emit(k, message))
        self.dialog = dlg
        dlg.start()
        return dlg

    def _done(self, key: str) -> None:
        self.refresh()
        self.ready.emit(key)
