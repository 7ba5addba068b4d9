"""A dataset folder plus Likeness's state about it: captions, undo, flags, overrides, caches.

The caption ``.txt`` files are the truth. On open the workspace compares every caption with
what it saw last time (size + mtime, then the text) and records changes made by other
programs in the history (origin ``external``) instead of overwriting them. Before every write
it checks the affected captions again.

Every caption change is an undo step (a bulk edit is one step). A step is written to the
state db in a transitional state *before* any file is touched (the journal); each file is
replaced atomically; then the step is marked done. If the process dies in between, the next
open compares each caption of the step with its old and new text and keeps exactly the part
that reached the disk as an "incomplete" step that undo reverts normally.

A caption that cannot be written (read-only file, full disk) stays as a *pending* edit in the
state db: ``caption()`` shows it, the next save retries it, nothing is lost.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from curation.caption_io import (
    delete_caption,
    remove_stale_temp_files,
    write_caption_atomic,
)
from curation.dataset import ImageItem, ScanResult, natural_key, scan_folder
from curation.errors import CaptionWriteError
from curation.jobs import CancelToken, ItemResult, ProgressFn
from curation.state import (
    Change,
    JournalMixin,
    StateDB,
    Step,
    mark_live,
    open_state_db,
    owner,
    state_location,
)
from curation.workspace_meta import MetaMixin
from curation.workspace_sync import DiskSyncMixin

__all__ = ["HistoryEntry", "SaveResult", "Step", "Workspace", "state_location"]

log = logging.getLogger(__name__)

MAX_UNDO_STEPS = 200
HISTORY_MAX_ROWS = 1_000_000  # ~100-200 MB of caption text at most
CONFLICT_MESSAGE = (
    "the caption file was changed by another program since your unsaved edit; it is not "
    "overwritten automatically: save your edit again to replace it"
)
WRITE_THREADS = 8
ORIGINS = ("user", "bulk", "auto")


_SURROGATE = re.compile("[\ud800-\udfff]")


def _storable(text: str) -> str:
    """Text that UTF-8 (file and db) can hold: lone surrogates (possible in strings from a
    GUI toolkit) become U+FFFD instead of crashing the save."""
    if not isinstance(text, str):
        raise TypeError(f"a caption must be a str, not {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


@dataclass(frozen=True)
class HistoryEntry:
    time: float
    origin: str  # user, bulk, auto, undo, redo, external
    old: str | None  # None: no caption file
    new: str | None
    step_id: int | None


@dataclass
class SaveResult:
    """What a caption operation did: ``written`` reached the disk, ``pending`` are kept in the
    state db because the file could not be written (error text per item), ``skipped`` were
    not applied (changed since the preview, unknown image)."""

    step_id: int | None = None
    label: str = ""
    written: list[str] = field(default_factory=list)
    pending: list[ItemResult] = field(default_factory=list)
    skipped: list[ItemResult] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return len(self.written) + len(self.pending)


class Workspace(DiskSyncMixin, MetaMixin, JournalMixin):
    """Open with :meth:`open`; thread-safe (one lock); close with :meth:`close`."""

    def __init__(self, scan: ScanResult, db: StateDB, state_dir: Path | None) -> None:
        self.root = scan.root
        self.scan = scan
        self.db = db
        self.state_dir = state_dir
        self._lock = db.lock
        self._items: dict[str, ImageItem] = {item.rel: item for item in scan.items}
        self._disk: dict[str, str | None] = {}  # caption text on disk; None: no file
        # rel -> (text, error, base): an edit not yet on disk, and the disk text it was based on
        self._pending: dict[str, tuple[str | None, str, str | None]] = {}
        self.caption_warnings: dict[str, str] = {}  # rel -> decoding warning or read error
        self._unreadable: dict[str, str] = {}  # rel -> why its caption file cannot be read
        self.recovered: list[str] = []  # messages about interrupted operations repaired
        self._recursive = True
        MetaMixin.__init__(self)

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
            ws._recover()
            ws._reconcile()
            ws._load_meta()
            ws._trim_history()
        except BaseException:
            db.close()
            raise
        if state_dir is not None:
            for sub in {item.rel.rpartition("/")[0] for item in scan.items}:
                remove_stale_temp_files(scan.root / sub if sub else scan.root)
        return ws

    def close(self) -> None:
        self.db.close()

    def _trim_history(self) -> None:
        """Keep the newest HISTORY_MAX_ROWS caption changes (the history is a convenience;
        the captions themselves are in the .txt files)."""
        with self.db.tx() as conn:
            conn.execute(
                "DELETE FROM history WHERE id <= (SELECT MAX(id) FROM history) - ?",
                (HISTORY_MAX_ROWS,),
            )

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
            self._items = {item.rel: item for item in scan.items}
            removed = sorted(before - set(self._items), key=natural_key)
            for rel in removed:
                self._disk.pop(rel, None)
                self._pending.pop(rel, None)
                self.caption_warnings.pop(rel, None)
                self._unreadable.pop(rel, None)
            self._reconcile()
            added = [rel for rel in self._items if rel not in before]
            return added, removed

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
            return self._disk.get(rel) or ""

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
            return self._disk.get(rel) is not None

    def pending(self) -> dict[str, str]:
        """rel -> why the edit could not be written yet."""
        with self._lock:
            return {rel: p[1] for rel, p in self._pending.items()}

    def history(self, rel: str) -> list[HistoryEntry]:
        rows = self.db.query(
            "SELECT time, origin, old_text, new_text, step_id FROM history WHERE rel=? ORDER BY id",
            (rel,),
        )
        return [HistoryEntry(*r) for r in rows]

    def steps(self) -> list[Step]:
        return self.db.steps()

    @property
    def can_undo(self) -> bool:
        return bool(self.db.steps(("applied",)))

    @property
    def can_redo(self) -> bool:
        return bool(self.db.steps(("undone",)))

    def undo_label(self) -> str | None:
        steps = self.db.steps(("applied",))
        return steps[-1].label if steps else None

    def redo_label(self) -> str | None:
        steps = self.db.steps(("undone",))
        return steps[0].label if steps else None

    # -- writing --------------------------------------------------------------------------
    def _write_file(self, rel: str, text: str | None) -> str | None:
        """File I/O only (thread-safe): make the caption hold ``text`` (None: no file).
        Returns the error text, or None."""
        path = self._items[rel].caption_path
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
        if len(jobs) <= 2:
            errors = [self._write_file(rel, text) for rel, text in jobs]
        else:
            with ThreadPoolExecutor(max_workers=min(WRITE_THREADS, len(jobs))) as pool:
                errors = list(pool.map(lambda job: self._write_file(*job), jobs))
        return {rel: err for (rel, _t), err in zip(jobs, errors, strict=True) if err}

    def _after_write(self, rel: str, text: str | None, error: str | None) -> tuple | None:
        """Update the in-memory state after a write; returns a caption state row if the
        file changed. On error the edit becomes pending."""
        if error:
            base = self._pending[rel][2] if rel in self._pending else self._disk.get(rel)
            self._pending[rel] = (text, error, base)
            return None
        self._pending.pop(rel, None)
        if text == self._disk.get(rel):
            return None
        self.caption_warnings.pop(rel, None)  # written by us: UTF-8
        stat = self._stat_caption(self._items[rel]) if text is not None else None
        return self._set_known(rel, text, stat)

    def _put(self, rel: str, text: str | None) -> tuple[tuple | None, str | None]:
        """Write one caption: (caption state row or None, error or None)."""
        error = None if text == self._disk.get(rel) else self._write_file(rel, text)
        return self._after_write(rel, text, error), error

    def _persist_pending(self, conn: sqlite3.Connection, rels: Iterable[str]) -> None:
        for rel in rels:
            if rel in self._pending:
                text, error, base = self._pending[rel]
                conn.execute(
                    "INSERT OR REPLACE INTO pending VALUES(?,?,?,?,?,?)",
                    (rel, text, base, int(base is not None), time.time(), error),
                )
            else:
                conn.execute("DELETE FROM pending WHERE rel=?", (rel,))

    def flush_pending(self) -> SaveResult:
        """Retry writing pending edits (the next save does this too)."""
        with self._lock:
            result = SaveResult(label="save pending edits")
            if not self._pending:
                return result
            rels = list(self._pending)
            self.sync_from_disk(rels)
            state_rows, hist = [], []
            for rel in rels:
                text, _error, base = self._pending[rel]
                old = self._disk.get(rel)
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

    def set_caption(self, rel: str, text: str, origin: str = "user") -> SaveResult:
        """Save one caption (one undo step)."""
        return self.apply_changes({rel: text}, origin=origin, label=f"edit {rel}")

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
        wanted = [(rel, old, _storable(new)) for rel, old, new in wanted]
        with self._lock:
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
                if rel in self._unreadable:  # never overwrite a file we could not read
                    result.skipped.append(ItemResult(path=rel, error=self._unreadable[rel]))
                    continue
                current = self.caption(rel)
                if expected is not None and expected != current:
                    result.skipped.append(
                        ItemResult(path=rel, error="caption changed since the preview; not applied")
                    )
                    continue
                if new == current and rel in self._pending:
                    # saving a pending edit again (e.g. after a conflict): it goes to disk now
                    planned.append(Change(rel, self._disk.get(rel), new))
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
            undone = [r[0] for r in conn.execute("SELECT id FROM steps WHERE state='undone'")]
            conn.executemany("DELETE FROM step_changes WHERE step_id=?", [(i,) for i in undone])
            conn.executemany("DELETE FROM steps WHERE id=?", [(i,) for i in undone])
            cur = conn.execute(
                "INSERT INTO steps(time, label, origin, state, owner) VALUES(?,?,?,'applying',?)",
                (time.time(), label, origin, owner()),
            )
            step_id = int(cur.lastrowid)
            mark_live(self.db.path, step_id)  # before COMMIT: no other open can "recover" it
            conn.executemany(
                "INSERT INTO step_changes VALUES(?,?,?,?)",
                [(step_id, c.rel, c.old, c.new) for c in planned],
            )
            old_ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM steps WHERE state='applied' ORDER BY id DESC LIMIT -1 OFFSET ?",
                    (MAX_UNDO_STEPS,),
                )
            ]
            conn.executemany("DELETE FROM step_changes WHERE step_id=?", [(i,) for i in old_ids])
            conn.executemany("DELETE FROM steps WHERE id=?", [(i,) for i in old_ids])
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
        errors = self._write_files([(r, t) for r, t in targets if t != self._disk.get(r)])
        state_rows, hist = [], []
        for rel, target in targets:
            before = self._disk.get(rel)
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
            self._persist_pending(conn, [c.rel for c in changes])
            StateDB.set_step_state(conn, step_id, "applied" if forward else "undone")

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
        with self._lock:
            step = self._step_for("applied" if undo else "undone", last=undo)
            if step is None:
                return None
            result = SaveResult(step_id=step.id, label=step.label)
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
