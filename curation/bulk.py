"""Bulk caption edits, planned as a preview and applied as one undo step.

Every planner takes ``captions`` (rel -> text, e.g. ``Workspace.captions()``) and an optional
selection ``rels`` and returns ``list[BulkChange]`` with only the captions that change. Show
them (``diff_segments`` / ``format_diff``), then ``Workspace.apply_changes(changes,
origin="bulk", label=...)`` applies them as one undoable step (a caption edited since the
preview is skipped, not overwritten).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from curation.errors import BulkEditError

__all__ = [
    "BulkChange",
    "BulkEditError",
    "compile_find",
    "diff_segments",
    "format_diff",
    "plan_append",
    "plan_dedupe_phrases",
    "plan_prepend",
    "plan_rename_trigger",
    "plan_replace",
    "split_phrases",
]

_WORD_BEFORE = r"(?<!\w)"
_WORD_AFTER = r"(?!\w)"


@dataclass(frozen=True)
class BulkChange:
    rel: str
    old: str
    new: str


def _selected(captions: Mapping[str, str], rels: Iterable[str] | None) -> list[tuple[str, str]]:
    if rels is None:
        return list(captions.items())
    return [(rel, captions[rel]) for rel in rels if rel in captions]


def _plan(
    captions: Mapping[str, str], rels: Iterable[str] | None, fn: Callable[[str], str]
) -> list[BulkChange]:
    changes = []
    for rel, old in _selected(captions, rels):
        new = fn(old)
        if new != old:
            changes.append(BulkChange(rel, old, new))
    return changes


def compile_find(
    find: str, regex: bool = False, whole_word: bool = False, case_sensitive: bool = True
) -> re.Pattern[str]:
    """The pattern a find/replace uses; raises :class:`BulkEditError` on bad input."""
    if not find:
        raise BulkEditError("the text to find is empty")
    body = find if regex else re.escape(find)
    if whole_word:
        body = f"{_WORD_BEFORE}(?:{body}){_WORD_AFTER}"
    try:
        return re.compile(body, 0 if case_sensitive else re.IGNORECASE)
    except re.error as exc:
        where = f" at position {exc.pos}" if exc.pos is not None else ""
        raise BulkEditError(f"invalid regular expression {find!r}: {exc.msg}{where}") from exc


def plan_replace(
    captions: Mapping[str, str],
    find: str,
    replace: str,
    *,
    regex: bool = False,
    whole_word: bool = False,
    case_sensitive: bool = True,
    rels: Iterable[str] | None = None,
) -> list[BulkChange]:
    """Find/replace. With ``regex=True`` the replacement may use ``\\1`` / ``\\g<name>``;
    otherwise both texts are literal."""
    pattern = compile_find(find, regex, whole_word, case_sensitive)
    if regex:
        try:  # the template is parsed even when nothing matches
            pattern.sub(replace, "")
        except re.error as exc:
            raise BulkEditError(f"invalid replacement {replace!r}: {exc}") from exc

        def fn(text: str) -> str:
            return pattern.sub(replace, text)
    else:

        def fn(text: str) -> str:
            return pattern.sub(lambda _m: replace, text)

    return _plan(captions, rels, fn)


def _outer(text: str) -> tuple[str, str, str]:
    """(leading whitespace, core, trailing whitespace); all-blank text is all trailing."""
    core = text.strip()
    if not core:
        return "", "", text
    lead = text[: len(text) - len(text.lstrip())]
    return lead, core, text[len(text.rstrip()) :]


def plan_prepend(
    captions: Mapping[str, str],
    text: str,
    *,
    separator: str = ", ",
    rels: Iterable[str] | None = None,
    skip_if_present: bool = True,
) -> list[BulkChange]:
    """Put ``text`` at the start of each caption (``"a"`` + ``"b, c"`` -> ``"a, b, c"``).
    Captions that already start with it are left alone when ``skip_if_present``."""
    if not text.strip():
        raise BulkEditError("the text to prepend is empty")
    token = text.strip()

    def fn(old: str) -> str:
        lead, core, trail = _outer(old)
        if skip_if_present and core.startswith(token):
            return old
        return lead + (token + separator + core if core else token) + trail

    return _plan(captions, rels, fn)


def plan_append(
    captions: Mapping[str, str],
    text: str,
    *,
    separator: str = ", ",
    rels: Iterable[str] | None = None,
    skip_if_present: bool = True,
) -> list[BulkChange]:
    """Put ``text`` at the end of each caption."""
    if not text.strip():
        raise BulkEditError("the text to append is empty")
    token = text.strip()

    def fn(old: str) -> str:
        lead, core, trail = _outer(old)
        if skip_if_present and core.endswith(token):
            return old
        return lead + (core + separator + token if core else token) + trail

    return _plan(captions, rels, fn)


def plan_rename_trigger(
    captions: Mapping[str, str],
    old_token: str,
    new_token: str,
    *,
    case_sensitive: bool = True,
    rels: Iterable[str] | None = None,
) -> list[BulkChange]:
    """Rename the trigger token, whole words only (``l3yla`` -> ``ohwx`` leaves
    ``l3ylas`` and ``xl3yla`` alone)."""
    old_token, new_token = old_token.strip(), new_token.strip()
    if not old_token or not new_token:
        raise BulkEditError("both the old and the new trigger token are needed")
    if re.search(r"\s", new_token):
        raise BulkEditError(f"the new trigger token {new_token!r} contains a space")
    return plan_replace(
        captions, old_token, new_token, whole_word=True, case_sensitive=case_sensitive, rels=rels
    )


def split_phrases(caption: str) -> list[str]:
    """The comma-separated phrases of a caption, stripped (empty ones kept)."""
    return [p.strip() for p in caption.split(",")]


def _phrase_key(phrase: str, case_sensitive: bool) -> str:
    key = " ".join(phrase.split())
    return key if case_sensitive else key.casefold()


def plan_dedupe_phrases(
    captions: Mapping[str, str],
    *,
    case_sensitive: bool = False,
    rels: Iterable[str] | None = None,
) -> list[BulkChange]:
    """Remove repeated comma phrases (keeping the first) and empty ones (``a, , b``).
    Captions without any are left untouched (their spacing is not reformatted)."""

    def fn(old: str) -> str:
        if "," not in old:
            return old
        phrases = split_phrases(old)
        seen: set[str] = set()
        kept: list[str] = []
        for phrase in phrases:
            key = _phrase_key(phrase, case_sensitive)
            if not key or key in seen:
                continue
            seen.add(key)
            kept.append(phrase)
        if len(kept) == len(phrases):
            return old
        trailing = old[len(old.rstrip()) :]
        return ", ".join(kept) + trailing

    return _plan(captions, rels, fn)


def diff_segments(old: str, new: str) -> list[tuple[str, str]]:
    """Word-level diff for a preview: ``[(op, text)]`` with op ``=``, ``-`` or ``+``."""
    a = re.findall(r"\s+|\w+|[^\w\s]+", old)
    b = re.findall(r"\s+|\w+|[^\w\s]+", new)
    out: list[tuple[str, str]] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            out.append(("=", "".join(a[i1:i2])))
            continue
        if i2 > i1:
            out.append(("-", "".join(a[i1:i2])))
        if j2 > j1:
            out.append(("+", "".join(b[j1:j2])))
    return out


def format_diff(old: str, new: str) -> str:
    """One-line text preview: ``a [-old-]{+new+} c``."""
    parts = []
    for op, text in diff_segments(old, new):
        parts.append(text if op == "=" else (f"[-{text}-]" if op == "-" else f"{{+{text}+}}"))
    return "".join(parts)
