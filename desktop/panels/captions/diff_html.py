"""Rich-text renderings for the review screen: a coloured word diff and the raw autocaption
with the phrases the stripper removed marked (the reason in a legend below)."""

from __future__ import annotations

import html

from desktop.panels.captions.common import DIFF_ADD, DIFF_ADD_BG, DIFF_DEL, DIFF_DEL_BG
from desktop.widgets.diff_html import diff_runs_html


def word_diff_html(old: str, new: str) -> str:
    """``old`` -> ``new`` as one paragraph: removed words red and struck, added words green."""
    if not old and not new:
        return "<i style='color:#8b93a0'>(empty)</i>"
    return diff_runs_html(
        old,
        new,
        f"<span style='color:{DIFF_DEL};background:{DIFF_DEL_BG};text-decoration:line-through'>",
        f"<span style='color:{DIFF_ADD};background:{DIFF_ADD_BG}'>",
        gap_after_deleted=True,  # keep a removed and an added run apart
    )


def removed_spans(raw: str, removed: list[tuple[str, str]]) -> list[tuple[int, int, int]]:
    """Where each removed phrase occurs in ``raw``: (start, end, index into ``removed``),
    first occurrence not already taken, case-insensitive, non-overlapping."""
    low = raw.casefold()
    taken: list[tuple[int, int, int]] = []
    for i, (phrase, _reason) in enumerate(removed):
        p = phrase.casefold().strip()
        if not p:
            continue
        start = 0
        while True:
            at = low.find(p, start)
            if at < 0:
                break
            end = at + len(p)
            if all(end <= a or at >= b for a, b, _ in taken):
                taken.append((at, end, i))
                break
            start = at + 1
    return sorted(taken)


def raw_html(raw: str, removed: list[tuple[str, str]]) -> str:
    """The raw caption with removed phrases struck through in red, numbered for the legend."""
    if not raw:
        return "<i style='color:#8b93a0'>(no output)</i>"
    out, pos = [], 0
    for start, end, _i in removed_spans(raw, removed):
        out.append(html.escape(raw[pos:start]))
        out.append(
            f"<span style='color:{DIFF_DEL};background:{DIFF_DEL_BG};"
            f"text-decoration:line-through'>{html.escape(raw[start:end])}</span>"
        )
        pos = end
    out.append(html.escape(raw[pos:]))
    return "".join(out)


def removed_legend_html(removed: list[tuple[str, str]], limit: int = 12) -> str:
    """ "Removed: ‘brown eyes’ (eye colour) · ‘young’ (age) …" for under the raw text."""
    if not removed:
        return "<span style='color:#8b93a0'>Nothing removed.</span>"
    items = [
        f"<span style='color:{DIFF_DEL}'>‘{html.escape(p)}’</span> "
        f"<span style='color:#8b93a0'>({html.escape(r)})</span>"
        for p, r in removed[:limit]
    ]
    more = f" · … {len(removed) - limit} more" if len(removed) > limit else ""
    return "Removed: " + " · ".join(items) + more
