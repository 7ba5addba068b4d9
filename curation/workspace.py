"""A dataset folder plus Likeness's state about it: captions, undo, flags, overrides, caches.

The caption ``.txt`` files are the truth: on open and before every write the workspace
re-checks them and records changes made by other programs (origin ``external``) instead of
overwriting them; each write is a compare-and-swap against the file read again (ADR 0005).
Every caption change is an undo step, journaled before any file is touched so that a killed
process is reconciled on the next open (:mod:`curation.journal`, ADR 0002). Steps of one
dataset are serialised across processes by its writer lock. A caption that cannot be
written (read-only, full disk) stays a *pending* edit in the state db: nothing is lost.
Collaborators: :class:`WorkspaceMeta` (flags, overrides, cache), :class:`CaptionSync` (what
is on disk) and :func:`recover_interrupted` (the journal). The file is a little over 600 lines
because it is the public facade: about 60 of them are one-line delegations to WorkspaceMeta.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from curation.caption_io import (
    delete_caption,
    normalize_caption,
    read_caption,
    remove_stale_temp_files,
    write_caption_atomic,
)
from curation.dataset import ImageItem, ScanResult, natural_key, scan_folder
from curation.dataset_settings import DatasetSettings, read_settings, write_settings
from curation.errors import CaptionReadError, CaptionWriteError
from curation.fsio import WriteRefused, ensure_inside
from curation.jobs import CancelToken, ItemResult, ProgressFn
from curation.journal import recover_interrupted
from curation.save_result import (
    CHANGED_SINCE_PREVIEW,
    CHANGED_WHILE_SAVING,
    CONFLICT_MESSAGE,
    EDITED_ELSEWHERE,
    HistoryEntry,
    SaveResult,
    WriteConflict,
    storable_text,
)
from curation.state import (
    MAX_UNDO_STEPS,
    Change,
    StateDB,
    Step,
    mark_live,
)
from curation.state_files import open_state_db, state_location
from curation.workspace_meta import WorkspaceMeta
from curation.workspace_meta_facade import WorkspaceMetaFacade
from curation.workspace_sync import CaptionSync
from curation.writer_lock import WriterBusyError, WriterLock, lock_path_for

__all__ = [
    "CHANGED_SINCE_PREVIEW",
    "CHANGED_WHILE_SAVING",
    "CONFLICT_MESSAGE",
    "EDITED_ELSEWHERE",
    "HistoryEntry",
    "SaveResult",
    "Step",
    "Workspace",
    "state_location",
]

log = logging.getLogger(__name__)

HISTORY_MAX_ROWS = 1_000_000  # ~100-200 MB of caption text at most
WRITE_THREADS = 8
ORIGINS = ("user", "bulk", "auto")


class Workspace(WorkspaceMetaFacade):
    """Open with :meth:`open`; thread-safe (one lock); close with :meth:`close`."""

    def __init__(self, scan: ScanResult, db: StateDB, state_dir: Path | None) -> None:
        self.root = scan.root
        self.scan = scan
        self.db = db
        self.state_dir = state_dir
        self._lock = db.lock
        # what is on disk (captions, their warnings, unreadable and read-only ones): a
        # collaborator; _items, _disk, caption_warnings, ... below are its tables
        self.disk_sync = CaptionSync(
            scan.root, db, self._lock, {item.rel: item for item in scan.items}
        )
        # rel -> (text, error, base): an edit not yet on disk, and the disk text it was based on
        self._pending: dict[str, tuple[str | None, str, str | None]] = {}
        self._writer = WriterLock(lock_path_for(scan.root, state_dir))
        self._own_steps: set[int] = set()  # steps made or moved since this open
        self.recovered: list[str] = []  # messages about interrupted operations repaired
        self._recursive = True
        # flags, overrides, cache, probe index: a collaborator (the methods below delegate)
        self.meta = WorkspaceMeta(db, lambda: self._items, self._writer, self._own_steps)

    @property
    def _items(self) -> dict[str, ImageItem]:
        return self.disk_sync.items

    @property
    def caption_warnings(self) -> dict[str, str]:
        """rel -> decoding warning or read error of its caption."""
        return self.disk_sync.warnings

    def sync_from_disk(self, rels: Iterable[str] | None = None) -> list[str]:
        """Re-check captions (all, or ``rels``: always re-read) against the disk; changes
        made by other programs are taken and recorded (origin ``external``). Returns the
        rels that changed (see :meth:`CaptionSync.sync`)."""
        return self.disk_sync.sync(rels)

    # -- dataset settings (their own table; see curation.dataset_settings) ---------------
    def settings(self) -> DatasetSettings:
        """The user's settings of this dataset (trigger, identity line, profile)."""
        return read_settings(self)

    def set_settings(self, settings: DatasetSettings) -> None:
        """Store the dataset settings (raises ``sqlite3.Error`` when the state is read-only)."""
        write_settings(self, settings)

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        root: str | os.PathLike[str],
        recursive: bool = True,
        create: bool = True,
        on_progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        scan: ScanResult | None = None,
    ) -> Workspace:
        """Scan ``root`` and open (or create) its state. ``create=False`` never creates state:
        an existing state db is used, otherwise an in-memory one. ``scan``: a scan of ``root``
        just made by the caller (the GUI shows it while the state opens), used instead of a
        second one. Raises ``DatasetError``."""
        if scan is None:
            scan = scan_folder(root, recursive=recursive, on_progress=on_progress, cancel=cancel)
        notes: list[str] = []
        db, state_dir = open_state_db(scan.root, create, notes)
        ws = cls(scan, db, state_dir)
        ws._recursive = recursive
        ws.recovered.extend(notes)
        try:
            try:  # a step is only interrupted when nobody holds the writer lock
                with ws._writer.hold(timeout_s=0) if state_dir else contextlib.nullcontext():
                    ws.recovered.extend(
                        recover_interrupted(ws.db, ws.root, ws._items, ws.disk_sync.mark_known)
                    )
            except WriterBusyError:
                log.info("%s: another process is saving captions; recovery left to it", root)
            ws.disk_sync.reconcile()
            for rel, text, base, error in db.pending_rows():
                if rel in ws._items:
                    ws._pending[rel] = (text, error, base)
            ws.meta.load()
            # the history is a convenience (the captions are the .txt files): bounded
            ws.db.trim_history(HISTORY_MAX_ROWS)
        except BaseException:
            db.close()
            raise
        if state_dir is not None:
            for sub in {item.rel.rpartition("/")[0] for item in scan.items}:
                remove_stale_temp_files(scan.root / sub if sub else scan.root)
        return ws

    def close(self) -> None:
        self.db.close()

    def rescan(
        self, on_progress: ProgressFn | None = None, cancel: CancelToken | None = None
    ) -> tuple[list[str], list[str]]:
        """Scan the folder again (images added or removed by other programs) and re-check
        every caption. Returns (added rels, removed rels). Flags of removed images are kept
        for when they come back."""
        scan = scan_folder(
            self.root, recursive=self._recursive, on_progress=on_progress, cancel=cancel
        )
        with self._lock:
            before = set(self._items)
            self.scan = scan
            self.disk_sync.items = {item.rel: item for item in scan.items}
            removed = sorted(before - set(self._items), key=natural_key)
            for rel in removed:
                self.disk_sync.forget(rel)
                self._pending.pop(rel, None)
            self.disk_sync.reconcile()
            added = [rel for rel in self._items if rel not in before]
            return added, removed

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold this dataset's writer lock (other processes and windows wait) with every
        caption re-checked against the disk: plan a bulk edit on ``captions()`` and apply it
        inside, and it applies to what is on disk now. Raises ``WriterBusyError`` after 30 s.
        Caption steps take the lock themselves; this is for plan + apply as one unit."""
        with self._writer.hold(), self._lock:
            self.sync_from_disk()
            yield

    def file_problems(self) -> list[ItemResult]:
        """Per-file messages every command shows, the same as ``likeness scan``'s: files the
        scan skipped (links to nothing, loops, undecodable names, FIFOs and devices), scan
        warnings, and captions that cannot be read or are read-only (``path`` is the rel)."""
        with self._lock:
            out = list(self.scan.errors) + list(self.scan.warnings)
            out += [
                ItemResult(path=rel, error=w) for rel, w in sorted(self.caption_warnings.items())
            ]
            return out

    def read_only(self) -> dict[str, str]:
        """rel -> why its caption is shown but never written (a caption that is a link)."""
        with self._lock:
            return dict(self.disk_sync.readonly)

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading --------------------------------------------------------------------------
    @property
    def items(self) -> list[ImageItem]:
        return list(self._items.values())

    def item(self, rel: str) -> ImageItem:
        try:
            return self._items[rel]
        except KeyError:
            raise KeyError(f"no image {rel!r} in {self.root}") from None

    def caption(self, rel: str) -> str:
        """The caption as the user sees it: a pending (unsaved) edit, else the file's text."""
        with self._lock:
            if rel in self._pending:
                return self._pending[rel][0] or ""
            self.item(rel)
            return self.disk_sync.disk.get(rel) or ""

    def captions(
        self, rels: Iterable[str] | None = None, existing_only: bool = False
    ) -> dict[str, str]:
        """rel -> caption (uncaptioned images as "" unless ``existing_only``: pass that to a
        bulk planner that should not create caption files, e.g. prepend/append)."""
        with self._lock:
            keys = self._items.keys() if rels is None else rels
            return {
                rel: self.caption(rel) for rel in keys if not existing_only or self.has_caption(rel)
            }

    def has_caption(self, rel: str) -> bool:
        with self._lock:
            if rel in self._pending:
                return self._pending[rel][0] is not None
            return self.disk_sync.disk.get(rel) is not None

    def pending(self) -> dict[str, str]:
        """rel -> why the edit could not be written yet."""
        with self._lock:
            return {rel: p[1] for rel, p in self._pending.items()}

    def history(self, rel: str) -> list[HistoryEntry]:
        return [HistoryEntry(*r) for r in self.db.history_rows(rel)]

    def steps(self) -> list[Step]:
        return self.db.steps()

    @property
    def can_undo(self) -> bool:
        return bool(self.db.steps(("applied",)))

    @property
    def can_redo(self) -> bool:
        return bool(self.db.steps(("undone",)))

    def next_step(self, undo: bool = True) -> Step | None:
        """The step :meth:`undo` (or :meth:`redo`) would move now, or None."""
        return self._step_for("applied" if undo else "undone", last=undo)

    def step_rels(self, step_id: int) -> list[str]:
        """The images a step touches."""
        return self.db.step_rels(step_id)

    def is_own_step(self, step_id: int) -> bool:
        """Whether this workspace made (or already moved) the step since it was opened;
        False for steps of an earlier session or of another window or command."""
        return step_id in self._own_steps

    def undo_label(self) -> str | None:
        steps = self.db.steps(("applied",))
        return steps[-1].label if steps else None

    def redo_label(self) -> str | None:
        steps = self.db.steps(("undone",))
        return steps[0].label if steps else None

    # -- writing --------------------------------------------------------------------------
    def _write_file(self, rel: str, text: str | None, expected: str | None) -> str | None:
        """File I/O only (thread-safe): make the caption hold ``text`` (None: no file) if it
        still holds ``expected`` (compare-and-swap against the file read now: a caption
        changed by another program is never overwritten). Returns the error text (a
        :class:`WriteConflict` for a changed file), or None."""
        path = self._items[rel].caption_path
        try:
            cap = read_caption(path, root=self.root)
        except CaptionReadError as exc:
            return str(exc)
        if (cap.text if cap.exists else None) != expected:
            return WriteConflict(CHANGED_WHILE_SAVING)
        try:
            ensure_inside(self.root, path)  # a linked subfolder never leads a write outside
        except WriteRefused as exc:
            return f"cannot write caption {path.name}: {exc.reason}"
        try:
            if text is None:
                delete_caption(path)
            else:
                write_caption_atomic(path, text)
        except CaptionWriteError as exc:
            return str(exc)
        return None

    def _write_files(self, jobs: list[tuple[str, str | None]]) -> dict[str, str]:
        """Write many captions; in threads when there are several (each write is atomic and
        fsynced; concurrent fsyncs share journal commits: ~5x faster for a bulk edit)."""
        jobs3 = [(rel, text, self.disk_sync.disk.get(rel)) for rel, text in jobs]
        if len(jobs) <= 2:
            errors = [self._write_file(*job) for job in jobs3]
        else:
            with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(jobs))) as pool:
                errors = list(pool.map(lambda job: self._write_file(*job), jobs3))
        return {rel: err for (rel, _t), err in zip(jobs, errors, strict=True) if err}

    def _after_write(self, rel: str, text: str | None, error: str | None) -> tuple | None:
        """Update the in-memory state after a write; returns a caption state row if the
        file changed. On error the edit becomes pending."""
        if error:
            base = self._pending[rel][2] if rel in self._pending else self.disk_sync.disk.get(rel)
            self._pending[rel] = (text, error, base)
            return None
        self._pending.pop(rel, None)
        if text == self.disk_sync.disk.get(rel):
            return None
        self.caption_warnings.pop(rel, None)  # written by us: UTF-8
        stat = self.disk_sync.stat_caption(self._items[rel]) if text is not None else None
        return self.disk_sync.set_known(rel, text, stat)

    def _put(self, rel: str, text: str | None) -> tuple[tuple | None, str | None]:
        """Write one caption: (caption state row or None, error or None)."""
        old = self.disk_sync.disk.get(rel)
        error = None if text == old else self._write_file(rel, text, old)
        return self._after_write(rel, text, error), error

    def _persist_pending(self, conn: sqlite3.Connection, rels: Iterable[str]) -> None:
        for rel in rels:
            StateDB.put_pending(conn, rel, self._pending.get(rel))

    def flush_pending(self) -> SaveResult:
        """Retry writing pending edits (the next save does this too)."""
        with self._writer.hold(), self._lock:
            result = SaveResult(label="save pending edits")
            if not self._pending:
                return result
            rels = list(self._pending)
            self.sync_from_disk(rels)
            state_rows, hist = [], []
            for rel in rels:
                text, _error, base = self._pending[rel]
                old = self.disk_sync.disk.get(rel)
                if old != base:  # another program changed the file since: do not clobber it
                    err = CONFLICT_MESSAGE
                    self._pending[rel] = (text, err, base)
                    result.pending.append(ItemResult(path=rel, error=err))
                    continue
                row, err = self._put(rel, text)
                if err:
                    result.pending.append(ItemResult(path=rel, error=err))
                else:
                    result.written.append(rel)
                    if row:
                        state_rows.append(row)
                        hist.append((rel, "user", old, text, None))
            with self.db.tx() as conn:
                StateDB.upsert_caption_state(conn, state_rows)
                StateDB.add_history(conn, hist)
                self._persist_pending(conn, rels)
            return result

    def set_caption(
        self, rel: str, text: str, origin: str = "user", base: str | None = None
    ) -> SaveResult:
        """Save one caption (one undo step). ``base``: the text the edit started from (what
        the editor showed); when the caption is no longer that (another program changed
        it), nothing is written and ``skipped`` says so: a stale editor never overwrites a
        newer caption. None: no check."""
        if base is None:
            return self.apply_changes({rel: text}, origin=origin, label=f"edit {rel}")
        return self.apply_changes([Change(rel, base, text)], origin=origin, label=f"edit {rel}")

    def apply_changes(
        self,
        changes: Mapping[str, str] | Iterable,
        origin: str = "bulk",
        label: str | None = None,
    ) -> SaveResult:
        """Apply many caption changes as ONE undo step.

        ``changes``: ``{rel: new_text}`` or ``BulkChange(rel, old, new)`` items from a
        planner; a planned change whose ``old`` no longer matches the caption (edited since
        the preview) is skipped, not applied.
        """
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {ORIGINS}, not {origin!r}")
        if isinstance(changes, Mapping):
            wanted = [(rel, None, new) for rel, new in changes.items()]
        else:
            wanted = [(c.rel, c.old, c.new) for c in changes]
        # one line, as every trainer reads it (curation.caption_io.normalize_caption)
        wanted = [(rel, old, normalize_caption(storable_text(new))) for rel, old, new in wanted]
        with self._writer.hold(), self._lock:
            result = SaveResult(label=label or f"{origin} edit of {len(wanted)} captions")
            if self._pending:
                retry = self.flush_pending()
                result.written += retry.written
            self.sync_from_disk([rel for rel, _, _ in wanted])
            planned: list[Change] = []
            for rel, expected, new in wanted:
                if rel not in self._items:
                    result.skipped.append(
                        ItemResult(path=rel, error="no such image in the dataset")
                    )
                    continue
                if rel in self.disk_sync.unreadable:  # never overwrite a file we could not read
                    result.skipped.append(
                        ItemResult(path=rel, error=self.disk_sync.unreadable[rel])
                    )
                    continue
                if rel in self.disk_sync.readonly:  # a link: never written through
                    result.skipped.append(ItemResult(path=rel, error=self.disk_sync.readonly[rel]))
                    continue
                current = self.caption(rel)
                if expected is not None and expected != current:
                    why = EDITED_ELSEWHERE if origin == "user" else CHANGED_SINCE_PREVIEW
                    result.skipped.append(ItemResult(path=rel, error=why))
                    continue
                if new == current and rel in self._pending:
                    # saving a pending edit again (e.g. after a conflict): it goes to disk now
                    planned.append(Change(rel, self.disk_sync.disk.get(rel), new))
                    continue
                if new == current:
                    continue
                old = current if self.has_caption(rel) else None
                planned.append(Change(rel, old, new))
            if not planned:
                return result
            step_id = self._journal(result.label, origin, planned)
            result.step_id = step_id
            self._run_step(step_id, planned, forward=True, origin=origin, result=result)
            return result

    def _journal(self, label: str, origin: str, planned: list[Change]) -> int:
        with self.db.tx() as conn:
            step_id = StateDB.start_step(
                conn, label, origin, "applying", "captions", keep=MAX_UNDO_STEPS
            )
            mark_live(self.db.path, step_id)  # before COMMIT: no other open can "recover" it
            StateDB.add_step_changes(conn, step_id, planned)
        self._own_steps.add(step_id)
        return step_id

    def _run_step(
        self, step_id: int, changes: list[Change], forward: bool, origin: str, result: SaveResult
    ) -> None:
        try:
            self._run_step_files(step_id, changes, forward, origin, result)
        finally:
            mark_live(self.db.path, step_id, live=False)

    def _run_step_files(
        self, step_id: int, changes: list[Change], forward: bool, origin: str, result: SaveResult
    ) -> None:
        targets = [(c.rel, c.new if forward else c.old) for c in changes]
        errors = self._write_files([(r, t) for r, t in targets if t != self.disk_sync.disk.get(r)])
        conflicts = [rel for rel, err in errors.items() if isinstance(err, WriteConflict)]
        for rel in conflicts:
            result.skipped.append(ItemResult(path=rel, error=errors.pop(rel)))
        if conflicts:
            self.sync_from_disk(conflicts)  # records the other program's text (external)
            targets = [(r, t) for r, t in targets if r not in set(conflicts)]
        state_rows, hist = [], []
        for rel, target in targets:
            before = self.disk_sync.disk.get(rel)
            row = self._after_write(rel, target, errors.get(rel))
            if rel in errors:
                result.pending.append(ItemResult(path=rel, error=errors[rel]))
            else:
                result.written.append(rel)
            if row is not None:
                state_rows.append(row)
                hist.append((rel, origin, before, target, step_id))
        with self.db.tx() as conn:
            StateDB.upsert_caption_state(conn, state_rows)
            StateDB.add_history(conn, hist)
            self._persist_pending(conn, [r for r, _t in targets])
            if forward and conflicts:  # the step holds only what it changed
                StateDB.drop_step_changes(conn, step_id, conflicts)
            StateDB.set_step_state(conn, step_id, "applied" if forward else "undone")
            if forward and len(conflicts) == len(changes) and changes:
                StateDB.delete_steps(conn, [step_id])

    def _step_for(self, state: str, last: bool) -> Step | None:
        steps = self.db.steps((state,))
        return (steps[-1] if last else steps[0]) if steps else None

    def undo(self) -> SaveResult | None:
        """Revert the last step; None when there is nothing to undo. Captions changed since
        (by another program) are left alone and listed in ``skipped``."""
        return self._undo_redo(undo=True)

    def redo(self) -> SaveResult | None:
        return self._undo_redo(undo=False)

    def _undo_redo(self, undo: bool) -> SaveResult | None:
        with self._writer.hold(), self._lock:
            step = self._step_for("applied" if undo else "undone", last=undo)
            if step is None:
                return None
            result = SaveResult(step_id=step.id, label=step.label)
            self._own_steps.add(step.id)
            if step.kind == "meta":
                self.meta.move_step(step, undo, result)
                return result
            changes = self.db.changes(step.id)
            self.sync_from_disk([c.rel for c in changes])
            todo: list[Change] = []
            for c in changes:
                expect = c.new if undo else c.old
                if c.rel not in self._items:
                    result.skipped.append(
                        ItemResult(path=c.rel, error="image no longer in the dataset")
                    )
                    continue
                if c.rel in self.disk_sync.readonly or c.rel in self.disk_sync.unreadable:
                    why = self.disk_sync.readonly.get(c.rel) or self.disk_sync.unreadable[c.rel]
                    result.skipped.append(ItemResult(path=c.rel, error=why))
                    continue
                current = self.caption(c.rel) if self.has_caption(c.rel) else None
                if current != expect:
                    result.skipped.append(
                        ItemResult(path=c.rel, error="caption changed since; left as it is")
                    )
                    continue
                todo.append(c)
            with self.db.tx() as conn:
                StateDB.set_step_state(conn, step.id, "undoing" if undo else "redoing")
                mark_live(self.db.path, step.id)
            self._run_step(
                step.id, todo, forward=not undo, origin="undo" if undo else "redo", result=result
            )
            return result
