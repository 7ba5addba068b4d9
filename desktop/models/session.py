"""``DatasetSession``: the open dataset for the GUI, a thin Qt adapter over ``Workspace``.

Opening runs off the GUI thread in two steps, so that a big folder paints at the speed of
its scan: ``scanned`` brings the rows the scan found (names, caption files present; caption
text not read yet) as soon as the folder is listed, then ``opened`` brings the full rows once
the state is opened or created and the captions are read (a first open of 10,000 images
spends most of its time there). Between the two ``is_open`` is False and ``loading`` True.
Saves, undo and bulk apply run on the GUI thread (small atomic writes) and report through
signals. The workspace is thread-safe (one lock), so a worker may read it while the GUI
writes.

The session is THE caption writer of the GUI: typing (:meth:`save_caption`), quick fixes,
"Fix all", bulk edits (:meth:`apply_changes`), accepted autocaptions
(:meth:`accept_suggestions`) and undo / redo all go through it, and every change is told
by one signal, ``captions_changed``. No panel writes captions through the workspace.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication

from curation.analysis.store import AnalysisStore
from curation.jobs import ItemResult
from desktop.models.thumbnail_model import TileRow
from desktop.workers import Job, run_in_pool

log = logging.getLogger(__name__)


def _scan(root: str, recursive: bool):
    from curation.dataset import scan_folder

    return scan_folder(root, recursive=recursive)


def _scan_rows(scan) -> list[TileRow]:
    """Rows from the scan alone: what the grid can show before the captions are read."""
    return [
        TileRow(rel=item.rel, path=item.path, has_caption=item.has_caption, mtime_ns=item.mtime_ns)
        for item in scan.items
    ]


def _open_workspace(root: str, recursive: bool, scan=None):
    from curation.workspace import Workspace

    ws = Workspace.open(root, recursive=recursive, scan=scan)
    captions = ws.captions()
    excluded = set(ws.excluded()) if hasattr(ws, "excluded") else set()
    rows = [
        TileRow(
            rel=item.rel,
            path=item.path,
            caption=captions.get(item.rel, ""),
            has_caption=ws.has_caption(item.rel),
            excluded=item.rel in excluded,
            mtime_ns=item.mtime_ns,
        )
        for item in ws.items
    ]
    return ws, rows


class DatasetSession(QObject):
    scanned = Signal(str, list)  # root, rows from the scan (no caption text yet)
    opened = Signal(str, list)  # root, rows
    open_failed = Signal(str, str)  # path, message
    closed = Signal()
    captions_changed = Signal(list)  # rels whose caption changed (any writer, see above)
    history_changed = Signal()  # undo/redo availability or labels changed
    meta_changed = Signal(list)  # rels whose exclusion or overrides changed (undo, redo)
    step_images = Signal(list)  # rels the step just moved (or about to be) touches
    notify = Signal(str, str)  # level ("info", "warning", "error"), text

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.workspace = None
        self.root: Path | None = None
        self.scan_errors: list[ItemResult] = []
        self._job: Job | None = None
        self.loading = False
        self._armed: tuple[bool, int] | None = None  # (undo?, step id) announced, not moved
        #: the latest face analysis (the faces panel writes it, the caption lint reads it)
        self.analysis_store = AnalysisStore()
        app = QGuiApplication.instance()
        if app is not None:  # back to the app: captions edited elsewhere meanwhile are shown
            app.applicationStateChanged.connect(self._on_app_state)

    def _on_app_state(self, state) -> None:
        if state == Qt.ApplicationState.ApplicationActive:
            self.refresh_from_disk()

    def refresh_from_disk(self) -> list[str]:
        """Re-check every caption against the disk (size + mtime); captions changed by
        another program or a ``likeness`` command are taken and ``captions_changed`` is
        emitted for them. Returns their rels."""
        if self.workspace is None or self.loading:
            return []
        try:
            changed = self.workspace.sync_from_disk()
            with self.workspace.db.lock:  # exclusions / overrides set by another window
                meta = self.workspace.meta.reload()
        except Exception as exc:  # noqa: BLE001 - a failed check must not break the app
            log.warning("checking captions on disk failed: %s", exc)
            return []
        if meta:
            self.meta_changed.emit(meta)
            self.history_changed.emit()
        if changed:
            self.captions_changed.emit(changed)
            self.history_changed.emit()
            n = len(changed)
            self.notify.emit(
                "info", f"{n} caption{'s' if n != 1 else ''} changed outside Likeness: reloaded"
            )
        return changed

    # -- open / close ------------------------------------------------------------------
    def open(self, folder: str | os.PathLike[str], recursive: bool = True) -> None:
        """Start opening ``folder``: ``scanned`` then ``opened``, or ``open_failed``."""
        if self._job is not None:
            self._job.stale = True
        path = str(Path(folder).expanduser())
        self.loading = True
        self._job = run_in_pool(
            lambda: _scan(path, recursive),
            on_done=lambda scan: self._on_scanned(path, recursive, scan),
            on_error=lambda msg, _exc: self._on_failed(path, msg),
        )

    def _on_scanned(self, path: str, recursive: bool, scan) -> None:
        # listeners save what they were editing in the previous dataset, then it is closed
        self.scanned.emit(str(scan.root), _scan_rows(scan))
        self.close(emit=False)
        self.loading = True
        self.history_changed.emit()
        self._job = run_in_pool(
            lambda: _open_workspace(path, recursive, scan),
            on_done=self._on_opened,
            on_error=lambda msg, _exc: self._on_failed(path, msg),
        )

    def open_sync(self, folder: str | os.PathLike[str], recursive: bool = True) -> None:
        """Open on the calling thread (tests, benchmarks)."""
        try:
            result = _open_workspace(str(folder), recursive)
        except Exception as exc:
            self._on_failed(str(folder), str(exc))
            return
        self._on_opened(result)

    def _on_opened(self, result) -> None:
        ws, rows = result
        self.close(emit=False)
        self.workspace = ws
        self.root = Path(ws.root)
        self.loading = False
        self._job = None
        self.scan_errors = list(ws.scan.errors)
        for message in getattr(ws, "recovered", []):
            self.notify.emit("warning", message)
        pending = ws.pending()
        if pending:
            self.notify.emit(
                "warning",
                f"{len(pending)} caption edits from last time are still "
                "unsaved (read-only files?); they are kept and retried on save",
            )
        log.info("Opened %s: %d images", ws.root, len(rows))
        self.opened.emit(str(ws.root), rows)
        self.history_changed.emit()

    def _on_failed(self, path: str, message: str) -> None:
        self.loading = False
        self._job = None
        log.error("Cannot open %s: %s", path, message)
        self.open_failed.emit(path, message)

    def close(self, emit: bool = True) -> None:
        if self._job is not None:  # closed while still opening: its result is not wanted
            self._job.stale = True
            self._job = None
            self.loading = False
        if self.workspace is not None:
            try:
                self.workspace.close()
            except Exception as exc:  # noqa: BLE001
                log.warning("closing the workspace failed: %s", exc)
        self.workspace = None
        self.root = None
        self.analysis_store.clear()
        if emit:
            self.closed.emit()

    @property
    def is_open(self) -> bool:
        return self.workspace is not None

    # -- captions ----------------------------------------------------------------------
    def caption(self, rel: str) -> str:
        return self.workspace.caption(rel) if self.workspace else ""

    def save_caption(self, rel: str, text: str, base: str | None = None) -> str | None:
        """Save one caption (one undo step). Returns None, or the error text (edit kept).
        ``base``: the text the editor started from; if the file changed since, nothing is
        written (a stale editor never overwrites a newer caption) and the error says so."""
        if self.workspace is None:
            return "no dataset is open"
        try:
            result = self.workspace.set_caption(rel, text, origin="user", base=base)
        except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
            log.error("Saving the caption of %s failed: %s", rel, exc)
            return str(exc)
        self.history_changed.emit()
        changed = list(result.written) + [i.path for i in result.pending]
        if changed:
            self.captions_changed.emit(changed)
        for item in result.pending:
            if item.path == rel:
                log.info("Caption of %s not saved: %s", rel, item.error)
                return item.error
        for item in result.skipped:
            if item.path == rel:
                return item.error
        return self.workspace.pending().get(rel)  # still pending from an earlier attempt

    def pending_error(self, rel: str) -> str:
        """Why ``rel``'s edit is still pending ("" when it is not)."""
        return self.workspace.pending().get(rel, "") if self.workspace else ""

    def apply_changes(
        self, changes: Mapping[str, str] | Iterable, label: str, origin: str = "bulk"
    ):
        """Write ``{rel: new_text}`` (or a planner's ``BulkChange``s) as ONE undo step: bulk
        edits, quick fixes, "Fix all"; returns the core's ``SaveResult``, None when no
        dataset is open or there is nothing to change."""
        if self.workspace is None or not changes:
            return None
        result = self.workspace.apply_changes(changes, origin=origin, label=label)
        self._after_step(result, "Applied")
        return result

    def accept_suggestions(self, suggestions: list, label: str, mode: str = "replace"):
        """Write reviewed autocaption suggestions (``curation.captioners.autocaption``
        ``Suggestion``s carrying the user's edits) as ONE undo step; the core flow marks the
        raw outputs accepted. Returns the ``SaveResult`` (None: nothing to write)."""
        if self.workspace is None or not suggestions:
            return None
        from curation.captioners.autocaption import accept

        result = accept(self.workspace, suggestions, mode=mode, label=label)
        self._after_step(result, "Applied")
        return result

    def undo(self):
        return self._undo_redo(True)

    def redo(self):
        return self._undo_redo(False)

    def undo_label(self) -> str | None:
        """What Undo would do, naming its images: "edit img_03.jpg", "replace 'x' (12
        images: a.jpg, b.jpg, ...)", "... (from an earlier session)"; None: nothing."""
        return self._describe(True)

    def redo_label(self) -> str | None:
        return self._describe(False)

    def _describe(self, undo: bool) -> str | None:
        ws = self.workspace
        step = ws.next_step(undo) if ws is not None else None
        if step is None:
            return None
        rels = ws.step_rels(step.id)
        text = step.label
        if rels and not (len(rels) == 1 and rels[0] in text):
            shown = ", ".join(rels[:3]) + (", …" if len(rels) > 3 else "")
            text += f" ({len(rels)} image{'s' if len(rels) != 1 else ''}: {shown})"
        if not ws.is_own_step(step.id):
            text += " (from an earlier session or another window)"
        return text

    def _undo_redo(self, undo: bool):
        if self.workspace is None:
            return None
        step = self.workspace.next_step(undo)
        if step is not None and not self.workspace.is_own_step(step.id):
            # never a surprise: a step this window did not make is first shown, then moved
            # on the second press
            if self._armed != (undo, step.id):
                self._armed = (undo, step.id)
                word = "Undo" if undo else "Redo"
                self.step_images.emit(self.workspace.step_rels(step.id))
                self.notify.emit(
                    "warning",
                    f"The next {word.lower()} is “{self._describe(undo)}”. "
                    f"Press {word} again to {word.lower()} it.",
                )
                return None
        self._armed = None
        try:
            result = self.workspace.undo() if undo else self.workspace.redo()
        except Exception as exc:  # noqa: BLE001
            log.error("%s failed: %s", "Undo" if undo else "Redo", exc)
            return None
        if result is None:
            self.notify.emit("info", "Nothing to undo" if undo else "Nothing to redo")
            return None
        self._after_step(result, "Undid" if undo else "Redid")
        return result

    def _after_step(self, result, verb: str) -> None:
        rels = list(result.written) + [i.path for i in result.pending]
        if rels:
            self.captions_changed.emit(rels)
        if result.meta:
            self.meta_changed.emit(list(result.meta))
        self.history_changed.emit()
        if rels or result.meta:
            self.step_images.emit(rels + list(result.meta))
        if result.meta:
            n = len(result.meta)
            msg = f"{verb} “{result.label}” ({n} image{'s' if n != 1 else ''})"
        else:
            msg = f"{verb} “{result.label}” ({len(result.written)} captions)"
        if result.pending:
            msg += f"; {len(result.pending)} could not be written and are kept pending"
            self.notify.emit("error", msg + f": {result.pending[0].error}")
        elif result.skipped:
            self.notify.emit(
                "warning", msg + f"; {len(result.skipped)} skipped: {result.skipped[0].error}"
            )
        else:
            self.notify.emit("info", msg)

    def set_excluded(self, rels: list[str], excluded: bool) -> None:
        """Exclude or include images: one undo step."""
        if self.workspace is None:
            return
        self.workspace.set_excluded_many(rels, excluded)
        self._armed = None
        self.history_changed.emit()

    def set_override(self, rels: list[str], key: str, value: object):
        """The same override on images: one undo step. Returns the ``SaveResult`` or None."""
        if self.workspace is None or not rels:
            return None
        result = self.workspace.set_override_many(rels, key, value)
        self._armed = None
        self.history_changed.emit()
        return result
