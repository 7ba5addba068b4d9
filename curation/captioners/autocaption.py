"""Autocaption flow: captioner -> identity stripper -> suggestions the user reviews.

Modes:

- ``fill``: only images with no caption (or an empty one); accepting never touches others.
- ``replace``: every targeted image, written over its caption (asked for explicitly).
- ``suggest``: every targeted image; nothing is written. Suggestions are stored in the
  workspace cache (namespace ``autocaption.suggestions``) for review later (the GUI, or
  ``likeness autocaption --mode suggest --out file.json``).

Every raw captioner output (text, task, model, ``<OD>`` objects) is kept in the workspace
cache (``autocaption.raw``, a list per image), so nothing the model said is lost, and the
lint's ``untagged-recurring`` rule reads the objects from there (:func:`detected_objects`).
:func:`accept` writes suggestions through ``Workspace.apply_changes(origin="auto")``: one
undo step per call, whether it holds one image or all of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from curation.captioners.base import Captioner, CaptionOutput
from curation.captions import clean_caption
from curation.captions.vocabulary import load_vocabulary
from curation.errors import LikenessError
from curation.jobs import CancelToken, ProgressFn

if TYPE_CHECKING:
    from curation.workspace import SaveResult, Workspace

log = logging.getLogger(__name__)

MODES = ("fill", "replace", "suggest")
RAW_NS = "autocaption.raw"
SUGGEST_NS = "autocaption.suggestions"


class AutocaptionError(LikenessError, ValueError):
    """Bad options for an autocaption run (unknown mode, no trigger)."""


@dataclass
class Suggestion:
    """One image's proposal: raw output -> cleaned line, next to the current caption."""

    rel: str
    raw: str
    cleaned: str
    current: str | None
    removed: list[dict[str, str]] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    model: str = ""
    task: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Suggestion:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class AutocaptionResult:
    suggestions: list[Suggestion]
    skipped: list[str]  # targets left alone (fill mode: already captioned)
    written: list[str] = field(default_factory=list)
    step_label: str | None = None

    @property
    def errors(self) -> list[Suggestion]:
        return [s for s in self.suggestions if s.error]


def select_targets(
    workspace: Workspace,
    mode: str,
    selection: Iterable[str] | None = None,
    only_uncaptioned: bool = False,
) -> tuple[list[str], list[str]]:
    """(targets, skipped) among the selection (all images when None)."""
    if mode not in MODES:
        raise AutocaptionError(f"unknown mode {mode!r}: use one of {', '.join(MODES)}")
    rels = list(selection) if selection is not None else [i.rel for i in workspace.items]
    targets, skipped = [], []
    for rel in rels:
        has_text = workspace.has_caption(rel) and workspace.caption(rel).strip() != ""
        if has_text and (mode == "fill" or only_uncaptioned):
            skipped.append(rel)
        else:
            targets.append(rel)
    return targets, skipped


def run_autocaption(
    workspace: Workspace,
    captioner: Captioner,
    *,
    trigger: str,
    identity_line: str | None = None,
    mode: str = "fill",
    task: str = "<MORE_DETAILED_CAPTION>",
    selection: Iterable[str] | None = None,
    only_uncaptioned: bool = False,
    shots: Mapping[str, str] | None = None,
    detect_objects: bool = False,
    batch_size: int = 8,
    write: bool = False,
    on_progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> AutocaptionResult:
    """Caption the targets, clean each output, keep raw outputs, return suggestions.

    ``write=True`` accepts them at once (fill / replace; never in suggest mode). ``shots``
    maps an image to its shot tier (from face analysis) for the caption prefix.
    """
    if not (trigger or "").strip():
        raise AutocaptionError("a trigger token is required (the dataset's trigger)")
    targets, skipped = select_targets(workspace, mode, selection, only_uncaptioned)
    result = AutocaptionResult([], skipped)
    if not targets:
        return result
    paths = [workspace.item(rel).path for rel in targets]
    outputs = captioner.caption(
        paths,
        task,
        detect_objects=detect_objects,
        batch_size=batch_size,
        on_progress=on_progress,
        cancel=cancel,
    )
    vocab = load_vocabulary()
    shots = shots or {}
    raw_records: dict[str, list] = {}
    now = time.time()
    for rel, item in zip(targets, outputs, strict=True):
        current = workspace.caption(rel) if workspace.has_caption(rel) else None
        out = item.value
        if item.error or not isinstance(out, CaptionOutput):
            result.suggestions.append(
                Suggestion(rel, "", "", current, error=item.error or "no output", task=task)
            )
            continue
        cleaned = clean_caption(out.text, trigger, shots.get(rel), identity_line, vocab=vocab)
        sug = Suggestion(
            rel=rel,
            raw=out.text,
            cleaned=cleaned.text,
            current=current,
            removed=[{"phrase": r.phrase, "reason": r.reason} for r in cleaned.removed],
            objects=list(out.objects),
            model=out.model or getattr(captioner, "name", ""),
            task=out.task,
        )
        result.suggestions.append(sug)
        record = out.to_dict() | {"time": now, "cleaned": cleaned.text, "accepted": False}
        raw_records[rel] = _records(workspace.cache_get(RAW_NS, rel)) + [record]
    if raw_records:
        workspace.cache_put_many(RAW_NS, raw_records)
    good = [s for s in result.suggestions if not s.error]
    if write and mode != "suggest":
        save = accept(workspace, good, mode=mode)
        result.written, result.step_label = list(save.written), save.label
    else:
        workspace.cache_put_many(SUGGEST_NS, {s.rel: s.to_dict() for s in good})
    return result


def accept(
    workspace: Workspace,
    suggestions: Iterable[Suggestion],
    *,
    mode: str = "replace",
    label: str | None = None,
) -> SaveResult:
    """Write suggestions as ONE undo step (origin ``auto``); returns the ``SaveResult``.

    In ``fill`` mode a caption written since the suggestion was made is left alone.
    """
    chosen = [s for s in suggestions if s.error is None and s.cleaned.strip()]
    if mode == "fill":
        chosen = [
            s
            for s in chosen
            if not (workspace.has_caption(s.rel) and workspace.caption(s.rel).strip())
        ]
    changes = {s.rel: s.cleaned for s in chosen}
    if not changes:
        from curation.workspace import SaveResult

        return SaveResult(label="autocaption: nothing to write")
    label = label or (
        f"autocaption {chosen[0].rel}" if len(chosen) == 1 else f"autocaption {len(chosen)} images"
    )
    save = workspace.apply_changes(changes, origin="auto", label=label)
    written = set(save.written)
    updates = {}
    for rel in written:
        records = _records(workspace.cache_get(RAW_NS, rel))
        if records:
            records[-1] = dict(records[-1]) | {"accepted": True}
            updates[rel] = records
    if updates:
        workspace.cache_put_many(RAW_NS, updates)
    for rel in written:
        workspace.cache_delete(SUGGEST_NS, rel)
    return save


def pending_suggestions(workspace: Workspace) -> list[Suggestion]:
    """Suggestions stored by a ``suggest`` run, not yet accepted or discarded."""
    rels = [i.rel for i in workspace.items]
    stored = workspace.cache_get_many(SUGGEST_NS, rels)
    out = []
    for rel in rels:
        value = stored.get(rel)
        if isinstance(value, dict):
            sug = Suggestion.from_dict(value)
            sug.current = workspace.caption(rel) if workspace.has_caption(rel) else None
            out.append(sug)
    return out


def discard_suggestions(workspace: Workspace, rels: Iterable[str]) -> None:
    for rel in rels:
        workspace.cache_delete(SUGGEST_NS, rel)


def raw_history(workspace: Workspace, rel: str) -> list[dict[str, Any]]:
    """Every raw captioner output recorded for an image, oldest first."""
    return _records(workspace.cache_get(RAW_NS, rel))


def _records(value: object) -> list[dict[str, Any]]:
    """The raw-output records stored for one image (a damaged entry reads as none)."""
    if not isinstance(value, list):
        return []
    return [r for r in value if isinstance(r, dict)]


def detected_objects(workspace: Workspace) -> dict[str, tuple[str, ...]]:
    """Garments and accessories the autocaptioner saw per image (latest run): ``<OD>``
    labels plus the ones its raw caption names. Feeds the ``untagged-recurring`` rule."""
    vocab = load_vocabulary()
    rels = [i.rel for i in workspace.items]
    stored = workspace.cache_get_many(RAW_NS, rels)
    out: dict[str, tuple[str, ...]] = {}
    for rel, value in stored.items():
        records = _records(value)
        if not records:
            continue
        last = records[-1]
        labels = list(last.get("objects") or [])
        text = last.get("text") or ""
        labels += [m.group(0).lower() for m in vocab.accessory_regex.finditer(text)]
        labels += [m.group(0).lower() for m in vocab.garment_regex.finditer(text)]
        out[rel] = tuple(dict.fromkeys(labels))
    return out
