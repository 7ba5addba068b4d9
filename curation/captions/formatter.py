"""Assemble the structured caption line from classified phrases.

    <shot> photo of <trigger>[, <identity line>], <hair styling>, <pose>, <expression>,
    wearing <outfit>, <accessories>, <other>, <background>, <lighting>

Empty slots are dropped. The slot order follows ``docs/domain.md``; hair styling (kept
because it varies, see ``resources/lexicon/README.md``) sits right after the identity line,
lighting after the background.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from curation.errors import LikenessError

SLOTS = ("hair", "pose", "expression", "outfit", "accessories", "other", "background", "lighting")

_SHOT_PREFIX = {
    None: "a photo of",
    "close-up": "a close-up photo of",
    "medium": "a medium shot photo of",
    "full-body": "a full-body photo of",
}
_SHOT_ALIASES = {
    "close-up": "close-up",
    "closeup": "close-up",
    "close_up": "close-up",
    "close": "close-up",
    "medium": "medium",
    "medium-shot": "medium",
    "medium_shot": "medium",
    "mid": "medium",
    "full-body": "full-body",
    "full_body": "full-body",
    "fullbody": "full-body",
    "full": "full-body",
}


class CaptionFormatError(LikenessError, ValueError):
    """An argument to the formatter cannot be used (unknown shot tier, empty trigger)."""


def normalize_shot(shot: str | None) -> str | None:
    """Map a shot tier name (``close-up``, ``close_up``, ``medium``, ``full-body``...) to ours."""
    if shot is None or str(shot).strip() == "":
        return None
    key = str(shot).strip().lower().replace(" ", "-")
    if key not in _SHOT_ALIASES:
        raise CaptionFormatError(
            f"unknown shot tier {shot!r}: use close-up, medium or full-body (or none)"
        )
    return _SHOT_ALIASES[key]


def shot_prefix(shot: str | None) -> str:
    return _SHOT_PREFIX[normalize_shot(shot)]


@dataclass
class Slots:
    """Kept phrases per slot, in caption order, without duplicates."""

    items: dict[str, list[str]] = field(default_factory=lambda: {s: [] for s in SLOTS})

    def add(self, slot: str, phrase: str) -> bool:
        phrase = tidy(phrase)
        if not phrase:
            return False
        key = _key(phrase)
        for existing in self.items.values():
            if any(_key(p) == key for p in existing):
                return False
        self.items[slot].append(phrase)
        return True

    def as_dict(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.items.items() if v}


_ARTICLE_RE = re.compile(r"^(?:a|an|the)\s+")


def _key(phrase: str) -> str:
    return _ARTICLE_RE.sub("", phrase.lower()).strip()


_WS_RE = re.compile(r"\s+")
_LEAD_RE = re.compile(
    r"^(?:(?:and|with|or|also|but|while|who|that|which|has|have|is|are|was)\s+)+", re.I
)
_TRAIL_RE = re.compile(r"(?:\s+(?:and|with|or|of|a|an|the|in|on|at|her|his|their|to))+$", re.I)


def tidy(phrase: str) -> str:
    """Trim connectors and punctuation left at the edges of a phrase."""
    p = _WS_RE.sub(" ", phrase).strip(" ,;:.-")
    for _ in range(2):
        p = _TRAIL_RE.sub("", _LEAD_RE.sub("", p)).strip(" ,;:.-")
    if p.lower() in {"a", "an", "the", "and", "with", "her", "his", "their", "is", "are", "has",
                     "have", "was", "were", "of", "in", "on"}:  # fmt: skip
        return ""
    if p and p[0].isupper() and not (len(p) > 1 and p[1].isupper()):
        p = p[0].lower() + p[1:]
    return p


def _join_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    if len(items) == 2:
        return f"{items[0]} and {items[1]}"
    return ", ".join(items[:-1]) + f" and {items[-1]}"


def format_caption(
    trigger: str, slots: Slots, shot: str | None = None, identity_line: str | None = None
) -> str:
    """The structured one-line caption."""
    trigger = (trigger or "").strip()
    if not trigger:
        raise CaptionFormatError("a trigger token is required to format a caption")
    parts = [f"{shot_prefix(shot)} {trigger}"]
    if identity_line and identity_line.strip():
        parts.append(identity_line.strip().strip(","))
    for slot in SLOTS:
        phrases = slots.items[slot]
        if not phrases:
            continue
        if slot == "outfit":
            parts.append("wearing " + _join_list(phrases))
        elif slot == "accessories" and not slots.items["outfit"]:
            parts.append("wearing " + _join_list(phrases))
        else:
            parts.extend(phrases)
    return ", ".join(parts)
