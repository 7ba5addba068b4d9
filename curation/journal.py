"""Recovery of caption steps a killed process left half done (see ADR 0002).

A step is written in a transitional state (applying / undoing / redoing) before any file is
touched. On open, each such step whose owner is gone is compared with the disk, caption by
caption: exactly the captions that reached their new text stay in the step (marked
incomplete when only part did), so undo reverts precisely what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from curation.caption_io import read_caption
from curation.dataset import ImageItem
from curation.errors import CaptionReadError
from curation.state import TRANSITIONAL, StateDB, step_in_progress

__all__ = ["recover_interrupted"]

log = logging.getLogger(__name__)


def recover_interrupted(
    db: StateDB,
    root: Path,
    items: Mapping[str, ImageItem],
    mark_known: Callable[[str, str | None], tuple],
) -> list[str]:
    """Reconcile the steps a killed process left in a transitional state; returns messages
    for the user. ``mark_known(rel, text)`` records that ``rel``'s caption on disk is
    ``text`` (None: no file) in the caller's memory and returns its caption-state row."""
    messages: list[str] = []
    for step in db.steps(TRANSITIONAL):
        if step_in_progress(db.path, step):
            log.info("step %s is being applied by live process %s", step.id, step.owner)
            continue
        changes = db.changes(step.id)
        on_disk: dict[str, str | None] = {}
        for c in changes:
            item = items.get(c.rel)
            if item is None:
                on_disk[c.rel] = "\x00gone"
                continue
            try:
                cap = read_caption(item.caption_path, root=root)
            except CaptionReadError:
                on_disk[c.rel] = "\x00unreadable"
                continue
            on_disk[c.rel] = cap.text if cap.exists else None
        new_ = [c for c in changes if on_disk[c.rel] == c.new]
        old_ = [c for c in changes if on_disk[c.rel] == c.old and c.old != c.new]
        if step.state == "undoing":
            reached, origin = old_, "undo"
            state = "undone" if not new_ else "applied"
            keep = changes if state == "undone" or not old_ else new_
        else:
            reached, origin = new_, step.origin if step.state == "applying" else "redo"
            state = "applied" if new_ else ("undone" if step.state == "redoing" else "drop")
            keep = new_ if old_ else changes
        incomplete = bool(old_ and new_)
        with db.tx() as conn:
            drop = {c.rel for c in changes} - {c.rel for c in keep}
            StateDB.drop_step_changes(conn, step.id, drop)
            if state == "drop":
                StateDB.delete_steps(conn, [step.id])
            else:
                StateDB.settle_step(conn, step.id, state, incomplete)
            # the captions the step reached: history and index, so _reconcile does not
            # mistake them for external edits
            hist, rows = [], []
            for c in reached:
                target = c.old if step.state == "undoing" else c.new
                rows.append(mark_known(c.rel, target))
                before = c.new if step.state == "undoing" else c.old
                hist.append((c.rel, origin, before, target, step.id))
            StateDB.upsert_caption_state(conn, rows)
            StateDB.add_history(conn, hist)
        message = (
            f"'{step.label}' was interrupted: {len(reached)} of {len(changes)} captions had "
            f"been {'reverted' if step.state == 'undoing' else 'changed'}"
        )
        if incomplete:
            message += "; the finished part is kept as an undoable step"
        log.warning(message)
        messages.append(message)
    return messages
