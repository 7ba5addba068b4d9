"""Keeping a :class:`curation.workspace.Workspace` in step with the caption files on disk.

The files are the truth: size + mtime tell which captions to re-read (captions about to be
written are always re-read), and a caption whose text changed since Likeness last saw it is
taken as it is and recorded in the history with origin ``external``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

from curation.caption_io import read_caption
from curation.dataset import ImageItem
from curation.errors import CaptionReadError
from curation.state import StateDB

__all__ = ["DEEP_SYNC_MAX", "DiskSyncMixin"]

DEEP_SYNC_MAX = 2000  # captions re-read (not just stat'ed) before they are written


class DiskSyncMixin:
    """Part of Workspace. Expects ``self.db``, ``self._lock``, ``self._items``,
    ``self._disk``, ``self._pending``, ``self.caption_warnings`` and ``self._unreadable``."""

    db: StateDB
    _items: dict[str, ImageItem]
    _disk: dict[str, str | None]
    _readonly: dict[str, str]
    root: Path

    def _stat_caption(self, item: ImageItem) -> tuple[int, int] | None:
        try:
            st = os.stat(item.caption_path)
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns

    def _read_disk(self, item: ImageItem) -> tuple[str | None, tuple[int, int] | None]:
        try:
            cap = read_caption(item.caption_path, root=self.root)
        except CaptionReadError as exc:
            self.caption_warnings[item.rel] = str(exc)
            self._unreadable[item.rel] = str(exc)
            return self._disk.get(item.rel), self._stat_caption(item)
        self._unreadable.pop(item.rel, None)
        if cap.read_only:
            self._readonly[item.rel] = cap.warning or "caption is read-only"
        else:
            self._readonly.pop(item.rel, None)
        if not cap.exists:
            self.caption_warnings.pop(item.rel, None)
            return None, None
        if cap.warning:
            self.caption_warnings[item.rel] = cap.warning
        else:
            self.caption_warnings.pop(item.rel, None)
        return cap.text, self._stat_caption(item)

    def _mark_known(self, rel: str, text: str | None) -> tuple:
        """The caption of ``rel`` on disk is ``text`` now (None: no file): memory updated
        from a fresh stat; returns its caption-state row."""
        stat = self._stat_caption(self._items[rel]) if text is not None else None
        return self._set_known(rel, text, stat)

    def _set_known(self, rel: str, text: str | None, stat: tuple[int, int] | None) -> tuple:
        item = self._items[rel]
        size, mtime = stat if stat else (0, 0)
        self._items[rel] = dataclasses.replace(
            item, has_caption=text is not None, caption_size=size, caption_mtime_ns=mtime
        )
        self._disk[rel] = text
        warning = self.caption_warnings.get(rel)
        return (
            rel,
            text is not None,
            size if stat else None,
            mtime if stat else None,
            text,
            warning,
        )

    def sync_from_disk(self, rels: Iterable[str] | None = None) -> list[str]:
        """Re-check captions (all, or ``rels``) against the disk; changes made by other
        programs are taken as the truth and recorded in the history (origin ``external``).
        Returns the rels that changed.

        Size and mtime decide which files are re-read, except for an explicit short ``rels``
        list (the captions about to be written): those are always read and compared, so an
        edit made within the file system's mtime granularity is not overwritten either."""
        with self._lock:
            changed: list[str] = []
            state_rows: list[tuple] = []
            hist: list[tuple] = []
            keys = list(self._items if rels is None else rels)
            deep = rels is not None and len(keys) <= DEEP_SYNC_MAX
            for rel in keys:
                item = self._items.get(rel)
                if item is None:
                    continue
                stat = self._stat_caption(item)
                known = (item.caption_size, item.caption_mtime_ns) if item.has_caption else None
                if stat == known and not (deep and stat is not None):
                    continue
                old = self._disk.get(rel)
                text, stat = self._read_disk(item)
                if text == old and stat == known:
                    continue
                state_rows.append(self._set_known(rel, text, stat))
                if text != old:
                    hist.append((rel, "external", old, text, None))
                    changed.append(rel)
            if state_rows:
                with self.db.tx() as conn:
                    StateDB.upsert_caption_state(conn, state_rows)
                    StateDB.add_history(conn, hist)
            return changed

    def _reconcile(self) -> None:
        """First sync after opening: one transaction for the whole dataset."""
        rows = self.db.caption_rows()
        state_rows: list[tuple] = []
        hist: list[tuple] = []
        for rel, item in self._items.items():
            row = rows.get(rel)
            same = (
                row is not None
                and row.cap_exists == item.has_caption
                and (
                    not item.has_caption
                    or (row.cap_size, row.cap_mtime_ns)
                    == (item.caption_size, item.caption_mtime_ns)
                )
            )
            if same:
                self._disk[rel] = row.cap_text if item.has_caption else None
                if row.cap_warning and item.has_caption:
                    self.caption_warnings[rel] = row.cap_warning
                if not row.present:
                    state_rows.append(
                        (
                            rel,
                            item.has_caption,
                            row.cap_size,
                            row.cap_mtime_ns,
                            row.cap_text,
                            row.cap_warning,
                        )
                    )
                continue
            text, stat = self._read_disk(item) if item.has_caption else (None, None)
            state_rows.append(self._set_known(rel, text, stat))
            if row is not None and (text != row.cap_text or row.cap_exists != (text is not None)):
                hist.append((rel, "external", row.cap_text if row.cap_exists else None, text, None))
        gone = [rel for rel, row in rows.items() if row.present and rel not in self._items]
        with self.db.tx() as conn:
            StateDB.upsert_caption_state(conn, state_rows)
            StateDB.set_present(conn, [r[0] for r in state_rows], True)
            StateDB.set_present(conn, gone, False)
            StateDB.add_history(conn, hist)
        for rel, text, base, error in self.db.pending_rows():
            if rel in self._items:
                self._pending[rel] = (text, error, base)
