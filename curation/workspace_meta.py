"""Per-image metadata of a :class:`curation.workspace.Workspace`: flags (excluded, notes),
user overrides, the generic JSON cache and the image probe index. Stored in the workspace's
state db (all SQL is in :mod:`curation.state`). Exclusions and overrides are undo steps.

A collaborator of the workspace with explicit inputs (the db, the current images, the
dataset's writer lock and the set of steps this workspace made), not a mixin."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping

from curation.dataset import ImageItem
from curation.jobs import CancelToken, ItemResult, ProgressFn
from curation.save_result import SaveResult
from curation.state import MAX_UNDO_STEPS, MetaChange, StateDB, Step
from curation.writer_lock import WriterLock

__all__ = ["WorkspaceMeta"]

log = logging.getLogger(__name__)


class WorkspaceMeta:
    """Flags, notes, overrides, the JSON cache and the image probe index of a Workspace.

    ``items()`` returns the workspace's current images (rel -> ImageItem); ``writer`` is the
    dataset's writer lock (a settings step is ordered with caption steps); ``own_steps``
    collects the ids of the steps this workspace made or moved."""

    def __init__(
        self,
        db: StateDB,
        items: Callable[[], Mapping[str, ImageItem]],
        writer: WriterLock,
        own_steps: set[int],
    ) -> None:
        self.db = db
        self._items = items
        self._writer = writer
        self._own_steps = own_steps
        self._excluded: set[str] = set()
        self._notes: dict[str, str] = {}
        self._overrides: dict[str, dict[str, object]] = {}

    def reload(self) -> list[str]:
        """Read flags and overrides again (another window or command changed them);
        returns the rels whose exclusion or overrides differ from before."""
        before = (set(self._excluded), {r: dict(o) for r, o in self._overrides.items()})
        self._excluded.clear()
        self._notes.clear()
        self._overrides.clear()
        self.load()
        rels = (before[0] ^ self._excluded) | {
            rel
            for rel in set(before[1]) | set(self._overrides)
            if before[1].get(rel, {}) != self._overrides.get(rel, {})
        }
        return sorted(rels)

    def load(self) -> None:
        for rel, excluded, note in self.db.flag_rows():
            if excluded:
                self._excluded.add(rel)
            if note:
                self._notes[rel] = note
        for rel, key, value in self.db.override_rows():
            try:
                self._overrides.setdefault(rel, {})[key] = StateDB.loads(value)
            except ValueError:
                log.warning("ignoring a damaged override %s of %s in the state db", key, rel)

    def _known(self, rel: str) -> None:
        if rel not in self._items():
            raise KeyError(f"no image {rel!r} in this dataset")

    # -- flags and overrides: every change is an undo step -------------------------------
    def _save_flags(self, rel: str) -> None:
        with self.db.tx() as conn:
            StateDB.put_flag(conn, rel, rel in self._excluded, self._notes.get(rel, ""))

    def set_excluded(self, rel: str, excluded: bool = True) -> SaveResult | None:
        """Exclude an image from training (kept in the folder, never moved or deleted).
        One undo step; None when nothing changed."""
        return self.set_excluded_many([rel], excluded)

    def set_excluded_many(self, rels: Iterable[str], excluded: bool = True) -> SaveResult | None:
        """Exclude (or include) images as ONE undo step ("exclude 3 images"); keep/reject
        decisions of the duplicate review are these too. None when nothing changed."""
        rels = list(dict.fromkeys(rels))
        for rel in rels:
            self._known(rel)
        changes = [
            MetaChange(rel, "excluded", rel in self._excluded, bool(excluded))
            for rel in rels
            if (rel in self._excluded) != bool(excluded)
        ]
        verb = "exclude" if excluded else "include"
        return self._meta_step(f"{verb} {_what(changes)}", changes)

    def is_excluded(self, rel: str) -> bool:
        return rel in self._excluded

    def excluded(self) -> set[str]:
        """Excluded images that are still in the dataset."""
        items = self._items()
        return {rel for rel in self._excluded if rel in items}

    def note(self, rel: str) -> str:
        return self._notes.get(rel, "")

    def set_note(self, rel: str, text: str) -> None:
        """A free note on an image (not an undo step: it is the user's own text box)."""
        self._known(rel)
        with self.db.lock:
            if text:
                self._notes[rel] = text
            else:
                self._notes.pop(rel, None)
            self._save_flags(rel)

    def set_override(self, rel: str, key: str, value: object) -> SaveResult | None:
        """Per-image user override (e.g. ``tier``); ``None`` removes it. JSON values. One
        undo step; None when nothing changed."""
        return self.set_override_many([rel], key, value)

    def set_override_many(self, rels: Iterable[str], key: str, value: object) -> SaveResult | None:
        """The same override on many images as ONE undo step."""
        rels = list(dict.fromkeys(rels))
        for rel in rels:
            self._known(rel)
        StateDB.dumps(value)  # TypeError before anything changes
        changes = [
            MetaChange(rel, f"override:{key}", self._overrides.get(rel, {}).get(key), value)
            for rel in rels
            if self._overrides.get(rel, {}).get(key) != value
        ]
        if value is None:
            label = f"clear {key} of {_what(changes)}"
        else:
            label = f"set {key} of {_what(changes)} to {value}"
        return self._meta_step(label, changes)

    def overrides(self, rel: str) -> dict[str, object]:
        return dict(self._overrides.get(rel, {}))

    def overrides_for(self, key: str) -> dict[str, object]:
        """rel -> value of one override key, for every image that has it."""
        return {rel: o[key] for rel, o in self._overrides.items() if key in o}

    # -- meta steps -------------------------------------------------------------------------
    def _meta_value(self, rel: str, key: str) -> object:
        if key == "excluded":
            return rel in self._excluded
        return self._overrides.get(rel, {}).get(key.partition(":")[2])

    def _put_meta(self, conn, rel: str, key: str, value: object) -> None:
        """Store one setting (inside ``conn``'s transaction) and update memory."""
        if key == "excluded":
            (self._excluded.add if value else self._excluded.discard)(rel)
            StateDB.put_flag(conn, rel, bool(value), self._notes.get(rel, ""))
            return
        name = key.partition(":")[2]
        StateDB.put_override(conn, rel, name, value)
        if value is None:
            self._overrides.get(rel, {}).pop(name, None)
        else:
            self._overrides.setdefault(rel, {})[name] = value

    def _meta_step(self, label: str, changes: list[MetaChange]) -> SaveResult | None:
        """Apply ``changes`` and record them as one applied step, in ONE transaction (no
        journal needed: nothing outside the db changes)."""
        if not changes:
            return None
        with self._writer.hold(), self.db.lock:
            before = {(c.rel, c.key): self._meta_value(c.rel, c.key) for c in changes}
            try:
                with self.db.tx() as conn:
                    step_id = StateDB.start_step(
                        conn, label, "user", "applied", "meta", keep=MAX_UNDO_STEPS
                    )
                    StateDB.add_meta_changes(conn, step_id, changes)
                    for c in changes:
                        self._put_meta(conn, c.rel, c.key, c.new)
            except BaseException:
                self._restore_meta(before)
                raise
            self._own_steps.add(step_id)
        return SaveResult(step_id=step_id, label=label, meta=[c.rel for c in changes])

    def _restore_meta(self, before: dict[tuple[str, str], object]) -> None:
        """Memory back to ``before`` after a failed transaction (the db rolled back)."""
        for (rel, key), value in before.items():
            if key == "excluded":
                (self._excluded.add if value else self._excluded.discard)(rel)
            elif value is None:
                self._overrides.get(rel, {}).pop(key.partition(":")[2], None)
            else:
                self._overrides.setdefault(rel, {})[key.partition(":")[2]] = value

    def move_step(self, step: Step, undo: bool, result: SaveResult) -> None:
        """Move a meta step; settings changed since (by another window) are left alone."""
        todo = []
        for c in self.db.meta_changes(step.id):
            if c.rel not in self._items():
                result.skipped.append(ItemResult(c.rel, error="image no longer in the dataset"))
            elif self._meta_value(c.rel, c.key) != (c.new if undo else c.old):
                result.skipped.append(ItemResult(c.rel, error="changed since; left as it is"))
            else:
                todo.append(c)
        before = {(c.rel, c.key): self._meta_value(c.rel, c.key) for c in todo}
        try:
            with self.db.tx() as conn:
                for c in todo:
                    self._put_meta(conn, c.rel, c.key, c.old if undo else c.new)
                StateDB.set_step_state(conn, step.id, "undone" if undo else "applied")
        except BaseException:
            self._restore_meta(before)
            raise
        result.meta = list(dict.fromkeys(c.rel for c in todo))

    # -- JSON cache -----------------------------------------------------------------------
    def cache_get(self, namespace: str, key: str, default: object = None) -> object:
        text = self.db.cache_texts(namespace, [key]).get(key)
        if text is None:
            return default
        try:
            return StateDB.loads(text)
        except ValueError:  # a damaged entry is a cache miss
            return default

    def cache_put(self, namespace: str, key: str, value: object) -> None:
        self.cache_put_many(namespace, {key: value})

    def cache_get_many(self, namespace: str, keys: Iterable[str]) -> dict[str, object]:
        out: dict[str, object] = {}
        for k, v in self.db.cache_texts(namespace, keys).items():
            try:
                out[k] = StateDB.loads(v)
            except ValueError:  # a damaged entry is a cache miss
                continue
        return out

    def cache_put_many(self, namespace: str, values: Mapping[str, object]) -> None:
        self.db.cache_put_texts(namespace, [(k, StateDB.dumps(v)) for k, v in values.items()])

    def cache_delete(self, namespace: str, key: str | None = None) -> None:
        self.db.cache_delete(namespace, key)

    # -- image index (probe results keyed by file size + mtime) ---------------------------
    def probe_all(
        self,
        rels: Iterable[str] | None = None,
        max_pixels: int | None = None,
        on_progress: ProgressFn | None = None,
        cancel: CancelToken | None = None,
        thorough: bool = False,
    ) -> list[ItemResult]:
        """Probe images (see :func:`curation.images.probe_images`), reusing results stored
        in the index while a file's size and mtime are unchanged. ``ItemResult.path`` is the
        rel; ``value`` an ``ImageInfo``. Size-limit errors are not cached (the limit is a
        preference); a quick probe's success does not count for ``thorough=True``."""
        from curation.images import get_default_max_pixels, probe_images

        limit = get_default_max_pixels() if max_pixels is None else max_pixels
        items = self._items()
        rels = list(items if rels is None else rels)
        stored = self.db.probe_rows()
        results: dict[str, ItemResult] = {}
        todo: list[str] = []
        for rel in rels:
            item = items[rel]
            row = stored.get(rel)
            if row and (row[0], row[1]) == (item.size_bytes, item.mtime_ns):
                info = _cached_info(row[2], limit, thorough)
                if info is not None:
                    results[rel] = ItemResult(path=rel, value=info)
                    continue
                if row[3] and not row[2]:
                    results[rel] = ItemResult(path=rel, error=row[3])
                    continue
            todo.append(rel)
        fresh = probe_images(
            [items[rel].path for rel in todo],
            max_pixels,
            on_progress=on_progress,
            cancel=cancel,
            thorough=thorough,
        )
        rows = []
        for rel, res in zip(todo, fresh, strict=True):
            results[rel] = ItemResult(path=rel, value=res.value, error=res.error)
            if res.error == "cancelled" or (res.error and res.error.startswith("image is ")):
                continue
            info = None
            if res.value is not None:
                info = StateDB.dumps(
                    {**res.value.__dict__, "notes": list(res.value.notes), "thorough": thorough}
                )
            item = items[rel]
            rows.append((rel, item.size_bytes, item.mtime_ns, info, res.error))
        if rows:
            self.db.put_probe_rows(rows)
        return [results[rel] for rel in rels]

    def image_info(self, rel: str, max_pixels: int | None = None):  # -> ImageInfo
        """Probe one image (cached); raises ``ImageLoadError``."""
        from curation.errors import ImageLoadError

        self._known(rel)
        res = self.probe_all([rel], max_pixels)[0]
        if res.error:
            raise ImageLoadError(res.error)
        return res.value


def _cached_info(text: str | None, limit: int, thorough: bool):  # -> ImageInfo | None
    """A stored probe result if it still answers this request (None: probe again)."""
    from curation.images import ImageInfo

    if not text:
        return None
    try:
        data = StateDB.loads(text)
        if not isinstance(data, dict):
            return None
        was_thorough = bool(data.pop("thorough", False))
        fields = {f.name for f in dataclasses.fields(ImageInfo)}
        info = ImageInfo(**{k: v for k, v in data.items() if k in fields})
        info = dataclasses.replace(info, notes=tuple(info.notes))
    except (ValueError, TypeError, KeyError, AttributeError):  # an older or damaged entry
        return None
    if limit and info.width * info.height > limit:
        return None
    if thorough and not was_thorough:
        return None
    return info


def _what(changes: list[MetaChange]) -> str:
    rels = list(dict.fromkeys(c.rel for c in changes))
    return rels[0] if len(rels) == 1 else f"{len(rels)} images"
