"""Keeping a :class:`curation.workspace.Workspace` in step with the caption files on disk
(a collaborator of the workspace: :class:`CaptionSync`).

The files are the truth: size + mtime tell which captions to re-read (captions about to be
written are always re-read), and a caption whose text changed since Likeness last saw it is
taken as it is and recorded in the history with origin ``external``.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from curation.caption_io import read_caption
from curation.dataset import ImageItem
from curation.errors import CaptionReadError
from curation.state import StateDB

__all__ = ["DEEP_SYNC_MAX", "CaptionSync"]

DEEP_SYNC_MAX = 2000  # captions re-read (not just stat'ed) before they are written


class CaptionSync:
    """What Likeness knows of each caption on disk: ``disk`` (rel -> text; None: no file),
    ``warnings`` (rel -> decoding warning or read error), ``unreadable`` and ``readonly``
    (rel -> why it is never written), and ``items`` (rel -> ImageItem with the caption's
    size and mtime as last seen). Shares the workspace's lock."""

    def __init__(
        self, root: Path, db: StateDB, lock: threading.RLock, items: dict[str, ImageItem]
    ) -> None:
        self.root = root
        self.db = db
        self._lock = lock
        self.items = items
        self.disk: dict[str, str | None] = {}
        self.warnings: dict[str, str] = {}
        self.unreadable: dict[str, str] = {}
        self.readonly: dict[str, str] = {}

    def forget(self, rel: str) -> None:
        """An image left the dataset."""
        for table in (self.disk, self.warnings, self.unreadable, self.readonly):
            table.pop(rel, None)

    def stat_caption(self, item: ImageItem) -> tuple[int, int] | None:
        try:
            st = os.stat(item.caption_path)
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns

    def read_disk(self, item: ImageItem) -> tuple[str | None, tuple[int, int] | None]:
        try:
            cap = read_caption(item.caption_path, root=self.root)
        except CaptionReadError as exc:
            self.warnings[item.rel] = str(exc)
            self.unreadable[item.rel] = str(exc)
            return self.disk.get(item.rel), self.stat_caption(item)
        self.unreadable.pop(item.rel, None)
        if cap.read_only:
            self.readonly[item.rel] = cap.warning or "caption is read-only"
        else:
            self.readonly.pop(item.rel, None)
        if not cap.exists:
            self.warnings.pop(item.rel, None)
            return None, None
        if cap.warning:
            self.warnings[item.rel] = cap.warning
        else:
            self.warnings.pop(item.rel, None)
        return cap.text, self.stat_caption(item)

    def mark_known(self, rel: str, text: str | None) -> tuple:
        """The caption of ``rel`` on disk is ``text`` now (None: no file): memory updated
        from a fresh stat; returns its caption-state row."""
        stat = self.stat_caption(self.items[rel]) if text is not None else None
        return self.set_known(rel, text, stat)

    def set_known(self, rel: str, text: str | None, stat: tuple[int, int] | None) -> tuple:
        item = self.items[rel]
        size, mtime = stat if stat else (0, 0)
        self.items[rel] = dataclasses.replace(
            item, has_caption=text is not None, caption_size=size, caption_mtime_ns=mtime
        )
        self.disk[rel] = text
        warning = self.warnings.get(rel)
        return (
            rel,
            text is not None,
            size if stat else None,
            mtime if stat else None,
            text,
            warning,
        )

    def sync(self, rels: Iterable[str] | None = None) -> list[str]:
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
            keys = list(self.items if rels is None else rels)
            deep = rels is not None and len(keys) <= DEEP_SYNC_MAX
            for rel in keys:
                item = self.items.get(rel)
                if item is None:
                    continue
                stat = self.stat_caption(item)
                known = (item.caption_size, item.caption_mtime_ns) if item.has_caption else None
                if stat == known and not (deep and stat is not None):
                    continue
                old = self.disk.get(rel)
                text, stat = self.read_disk(item)
                if text == old and stat == known:
                    continue
                state_rows.append(self.set_known(rel, text, stat))
                if text != old:
                    hist.append((rel, "external", old, text, None))
                    changed.append(rel)
            if state_rows:
                with self.db.tx() as conn:
                    StateDB.upsert_caption_state(conn, state_rows)
                    StateDB.add_history(conn, hist)
            return changed

    def reconcile(self) -> None:
        """First sync after opening: one transaction for the whole dataset."""
        rows = self.db.caption_rows()
        state_rows: list[tuple] = []
        hist: list[tuple] = []
        for rel, item in self.items.items():
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
            if same and row is not None:
                self.disk[rel] = row.cap_text if item.has_caption else None
                if row.cap_warning and item.has_caption:
                    self.warnings[rel] = row.cap_warning
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
            text, stat = self.read_disk(item) if item.has_caption else (None, None)
            state_rows.append(self.set_known(rel, text, stat))
            if row is not None and (text != row.cap_text or row.cap_exists != (text is not None)):
                hist.append((rel, "external", row.cap_text if row.cap_exists else None, text, None))
        gone = [rel for rel, row in rows.items() if row.present and rel not in self.items]
        with self.db.tx() as conn:
            StateDB.upsert_caption_state(conn, state_rows)
            StateDB.set_present(conn, [r[0] for r in state_rows], True)
            StateDB.set_present(conn, gone, False)
            StateDB.add_history(conn, hist)
