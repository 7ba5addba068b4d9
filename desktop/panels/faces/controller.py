"""``FaceAnalysisController``: face analysis of the open dataset, off the GUI thread.

A ``_Worker`` object lives in its own ``QThread`` (model-backed batch work: the detector is
loaded once there and reused). The controller sends it requests through queued signals and
gets back per-image results as they arrive (cached ones at once), progress, and at the end the
whole ``DatasetAnalysis`` with its report. Every request carries a generation number; results
of an older generation (a folder closed, a newer run started) are dropped.

After an override or an exclusion only the cheap part runs again (``reclassify``): verdicts
are rebuilt from the raw measures the worker kept, no image is decoded.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from curation.jobs import CancelToken

log = logging.getLogger(__name__)
#: niceness added to the analysis thread: the GUI and the thumbnails win the shared cores
ANALYSIS_NICENESS = 10
_ORPHANS: list = []  # threads still running at shutdown (never destroyed while running)


@dataclass
class AnalysisRequest:
    workspace: Any
    backend: str
    profile: str
    accept_licence: bool
    cancel: CancelToken
    detector_factory: Callable[[], Any] | None = None
    model_dir: str | None = None  # None: curation.paths.model_dir()


class _Worker(QObject):
    item = Signal(int, str, object)  # generation, rel, ImageAnalysis
    progress = Signal(int, int, int, str)  # generation, done, total, message
    finished = Signal(int, object, object)  # generation, DatasetAnalysis, report dict
    failed = Signal(int, str)
    notice = Signal(int, str)  # generation, why the chosen backend was replaced

    def __init__(self) -> None:
        super().__init__()
        self._detector = None
        self._detector_key: tuple | None = None
        self._notice: str | None = None
        self._last = None  # last DatasetAnalysis
        self._lowered = False

    def _lower_priority(self) -> None:
        """Run this thread (and the detector threads it starts) below the GUI and the
        thumbnail pool. ``QThread.LowPriority`` is a no-op for Linux's normal scheduler, so the
        thread's own nice value is raised (per thread on Linux); elsewhere Qt's hint is used."""
        if self._lowered:
            return
        self._lowered = True
        try:
            if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
                tid = threading.get_native_id()
                now = os.getpriority(os.PRIO_PROCESS, tid)
                os.setpriority(os.PRIO_PROCESS, tid, min(19, now + ANALYSIS_NICENESS))
            else:
                QThread.currentThread().setPriority(QThread.Priority.LowPriority)
        except OSError as exc:
            log.debug("cannot lower the analysis thread's priority: %s", exc)

    def _get_detector(self, req: AnalysisRequest, gen: int):
        if req.detector_factory is not None:
            return req.detector_factory()
        from curation import paths
        from curation.faces.base import (
            FaceBackendError,
            LicenseNotAcceptedError,
            ModelMissingError,
        )
        from curation.faces.models import MODEL_FILES, find_model
        from curation.faces.registry import create_detector

        model_dir = req.model_dir or str(paths.model_dir())
        present = tuple(k for k in MODEL_FILES if find_model(k, model_dir) is not None)
        key = (req.backend, model_dir, req.accept_licence, present)  # a new file: a new pick
        if self._detector is None or self._detector_key != key:
            self._detector = None
            self._notice = None
            try:
                self._detector = create_detector(
                    req.backend, model_dir=model_dir, accept_license=req.accept_licence
                )
            except FaceBackendError as exc:
                if req.backend == "auto":
                    raise
                # A chosen backend that cannot load (models missing, no network) must not
                # leave the dock without results: the best available one runs instead.
                log.warning("face backend %s unavailable: %s", req.backend, exc)
                self._detector = create_detector("auto", model_dir=model_dir)
                why = (
                    "its models are not downloaded: Faces > Face models"
                    if isinstance(exc, LicenseNotAcceptedError | ModelMissingError)
                    else str(exc)
                )
                self._notice = f"{req.backend} could not run ({why}); used {self._detector.name}"
            self._detector_key = key
        if self._notice:
            self.notice.emit(gen, self._notice)
        return self._detector

    @Slot(int, object)
    def run(self, gen: int, req: AnalysisRequest) -> None:
        from curation.analysis import analyze_dataset
        from curation.analysis.classify import classify_image, error_image
        from curation.balance.profiles import load_profile
        from curation.balance.report import build_report

        self._lower_priority()
        try:
            profile = load_profile(req.profile)
            detector = self._get_detector(req, gen)
            ws = req.workspace

            def on_item(rel: str, raw: Any) -> None:
                excluded = ws.is_excluded(rel)
                if isinstance(raw, str):
                    img = error_image(rel, raw, excluded)
                else:
                    img = classify_image(rel, raw, profile, ws.overrides(rel), excluded)
                self.item.emit(gen, rel, img)

            result = analyze_dataset(
                ws,
                detector=detector,
                profile=profile,
                on_progress=lambda d, t, m: self.progress.emit(gen, d, t, m),
                cancel=req.cancel,
                on_item=on_item,
            )
            self._last = result
            self.finished.emit(gen, result, build_report(result))
        except Exception as exc:  # noqa: BLE001 - reported to the user, never a crash
            log.debug("face analysis failed", exc_info=True)
            self.failed.emit(gen, str(exc) or type(exc).__name__)

    @Slot(int, object)
    def reclassify(self, gen: int, req: AnalysisRequest) -> None:
        """Rebuild verdicts (overrides, exclusions, profile) from the kept raw measures."""
        import copy

        from curation.analysis.runner import reclassify
        from curation.balance.report import build_report

        last = self._last
        if last is None or not last.raw:
            self.run(gen, req)
            return
        try:
            # a copy: the GUI thread may still be reading the previous result
            result = reclassify(copy.copy(last), req.workspace, req.profile)
            self._last = result
            self.finished.emit(gen, result, build_report(result))
        except Exception as exc:  # noqa: BLE001
            log.debug("re-classification failed", exc_info=True)
            self.failed.emit(gen, str(exc) or type(exc).__name__)

    @Slot()
    def forget(self) -> None:
        self._last = None


class FaceAnalysisController(QObject):
    """Runs and re-runs the analysis of ``session``'s workspace; holds the latest result."""

    started = Signal()
    progress = Signal(int, int, str)  # done, total, message
    image_analysed = Signal(str, object)  # rel, ImageAnalysis (verdicts before the dataset pass)
    finished = Signal(object, object)  # DatasetAnalysis, report dict
    failed = Signal(str)
    running_changed = Signal(bool)
    backend_notice = Signal(str)  # the chosen backend could not run; another one did

    _run_requested = Signal(int, object)
    _reclassify_requested = Signal(int, object)
    _forget_requested = Signal()

    def __init__(self, session, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.backend = "auto"
        self.profile = "character"
        self.accept_licence = False
        self.model_dir: str | None = None  # the app's model-folder setting (None: default)
        self.detector_factory: Callable[[], Any] | None = None  # tests: a stand-in detector
        #: the session's store holds the results (analysis, report, images) for every panel
        self.store = session.analysis_store
        self.error: str | None = None
        self._gen = 0
        self._cancel: CancelToken | None = None
        self._running = False
        self._thread = QThread()
        self._thread.setObjectName("face-analysis")
        from curation.faces.dlib_pool import start_from_this_thread

        start_from_this_thread()  # dlib's worker processes at the GUI's priority, not niced
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._run_requested.connect(self._worker.run)
        self._reclassify_requested.connect(self._worker.reclassify)
        self._forget_requested.connect(self._worker.forget)
        self._worker.item.connect(self._on_item)
        self._worker.progress.connect(self._on_progress)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.notice.connect(self._on_notice)
        self._thread.finished.connect(self._worker.deleteLater)
        self._thread.start()
        self._recl_timer = QTimer(self)
        self._recl_timer.setSingleShot(True)
        self._recl_timer.setInterval(150)
        self._recl_timer.timeout.connect(self._do_reclassify)

    # -- results, kept in the session's AnalysisStore ----------------------------------
    @property
    def analysis(self):  # -> DatasetAnalysis | None: the last complete run
        return self.store.analysis

    @property
    def report(self) -> dict[str, Any] | None:
        return self.store.report

    @property
    def images(self) -> dict[str, Any]:
        """rel -> ImageAnalysis (live, per image while a run goes on)."""
        return self.store.images

    # -- requests ----------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._running

    def _request(self) -> AnalysisRequest | None:
        ws = self.session.workspace
        if ws is None:
            return None
        self._gen += 1
        if self._cancel is not None:
            self._cancel.cancel()
        self._cancel = CancelToken()
        return AnalysisRequest(
            ws, self.backend, self.profile, self.accept_licence, self._cancel,
            self.detector_factory, self.model_dir,
        )  # fmt: skip

    def start(self) -> bool:
        """(Re)analyse the open dataset from scratch (the cache makes repeats cheap)."""
        self._recl_timer.stop()
        req = self._request()
        if req is None:
            return False
        self.store.start()
        self.error = None
        self._forget_requested.emit()
        self._set_running(True)
        self.started.emit()
        self._run_requested.emit(self._gen, req)
        return True

    def reclassify(self) -> None:
        """Re-derive verdicts soon (after overrides / exclusions / a profile change)."""
        if self.session.workspace is not None:
            self._recl_timer.start()

    def _do_reclassify(self) -> None:
        if self._running:  # the running analysis reads the new overrides at its end anyway
            self._recl_timer.start()
            return
        req = self._request()
        if req is not None:
            self._set_running(True)
            self._reclassify_requested.emit(self._gen, req)

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.cancel()

    def clear(self) -> None:
        """Forget everything (the folder was closed)."""
        self.cancel()
        self._gen += 1
        self._recl_timer.stop()
        self.store.clear()
        self.error = None
        self._forget_requested.emit()
        self._set_running(False)

    def shutdown(self) -> None:
        self.clear()
        self._thread.quit()
        if not self._thread.wait(10000):
            # Destroying a running QThread aborts the process: keep it alive until it ends.
            log.warning("face analysis thread did not stop in time; it finishes in the background")
            _ORPHANS.append((self._thread, self._worker))

    # -- results -----------------------------------------------------------------------
    def _set_running(self, running: bool) -> None:
        if running != self._running:
            self._running = running
            self.running_changed.emit(running)

    def _on_item(self, gen: int, rel: str, img: Any) -> None:
        if gen == self._gen:
            self.store.add_image(rel, img)
            self.image_analysed.emit(rel, img)

    def _on_progress(self, gen: int, done: int, total: int, message: str) -> None:
        if gen == self._gen:
            self.progress.emit(done, total, message)

    def _on_finished(self, gen: int, analysis: Any, report: dict[str, Any]) -> None:
        if gen != self._gen:
            return
        self.store.set_complete(analysis, report)
        self._set_running(False)
        self.finished.emit(analysis, report)

    def _on_notice(self, gen: int, message: str) -> None:
        if gen == self._gen:
            self.backend_notice.emit(message)

    def _on_failed(self, gen: int, message: str) -> None:
        if gen != self._gen:
            return
        self.error = message
        self._set_running(False)
        log.error("Face analysis failed: %s", message)
        self.failed.emit(message)
