"""A word diff as rich text, shared by the bulk-edit preview and the caption review screen
(each gives its own span styles). The segments come from ``curation.bulk.diff_segments``."""

from __future__ import annotations

import html

from curation.bulk import diff_segments


def diff_runs_html(
    old: str, new: str, deleted_tag: str, added_tag: str, gap_after_deleted: bool = False
) -> str:
    """``old`` -> ``new``: unchanged text escaped, removed runs inside ``deleted_tag`` and added
    runs inside ``added_tag`` (opening ``<span ...>`` tags). ``gap_after_deleted`` puts a space
    between a removed run and the added run right after it."""
    parts = []
    prev = "="
    for op, text in diff_segments(old, new):
        t = html.escape(text)
        if gap_after_deleted and op == "+" and prev == "-":
            parts.append(" ")
        prev = op
        if op == "=":
            parts.append(t)
        else:
            parts.append(f"{deleted_tag if op == '-' else added_tag}{t}</span>")
    return "".join(parts)
