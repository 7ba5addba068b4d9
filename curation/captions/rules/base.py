"""What the lint rules share: the rule table, the shot-prefix patterns, the per-caption
context and the removal fix. The rule modules import this, never the package (no cycle)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from curation.captions.issues import Fix, ImageFacts, LintConfig, RuleInfo, Severity
from curation.captions.vocabulary import Vocabulary

if TYPE_CHECKING:
    from curation.captions.identity import IdentityMatch

E, W, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO

RULES: dict[str, RuleInfo] = {
    r.id: r
    for r in (
        RuleInfo("missing-caption", E, "caption", "the image has no caption file"),
        RuleInfo("empty-caption", E, "caption", "the caption file is empty"),
        RuleInfo("trigger-missing", E, "caption", "the trigger token is not in the caption"),
        RuleInfo(
            "trigger-not-first", W, "caption", "the trigger is not first (after the shot type)"
        ),
        RuleInfo(
            "trigger-variant", W, "caption", "the trigger is misspelt, re-cased or possessive"
        ),
        RuleInfo("trigger-duplicate", W, "caption", "the trigger is written more than once"),
        RuleInfo(
            "multi-line",
            W,
            "caption",
            "the caption has several lines (trainers read them differently): join them",
        ),
        RuleInfo(
            "identity-descriptor", W, "caption", "the caption describes identity (eyes, skin...)"
        ),
        RuleInfo(
            "identity-line-mismatch",
            W,
            "caption",
            "the declared identity line is there, but not word for word",
        ),
        RuleInfo("invisible-feature", W, "caption", "a feature that cannot be seen in this view"),
        RuleInfo("vague-outfit", W, "caption", "the outfit is vague ('casual outfit')"),
        RuleInfo("too-long", INFO, "caption", "the caption is over the word budget"),
        RuleInfo(
            "identity-leak", W, "dataset", "a fragment in >= 80% of captions becomes identity"
        ),
        RuleInfo("duplicate-caption", W, "dataset", "several images share one caption"),
        RuleInfo(
            "untagged-recurring",
            W,
            "dataset",
            "an accessory or garment seen in many images but never captioned",
        ),
    )
}


_SHOT_WORDS = (
    r"(?:extreme\s+)?close[\s-]?up|medium[\s-]shot|medium|full[\s-]body|full[\s-]length|"
    r"head[\s-]and[\s-]shoulders|upper[\s-]body|half[\s-]body|waist[\s-]up|chest[\s-]up|"
    r"cowboy\s+shot|portrait|profile|three[\s-]quarter|side[\s-]view|back[\s-]view|candid|"
    r"studio|professional|cinematic|wide[\s-]shot|wide|low[\s-]angle|high[\s-]angle"
)
#: "a close-up portrait photo of", "photo of", "a medium shot of": allowed before the trigger
SHOT_PREFIX_RE = re.compile(
    rf"^\s*(?:(?:a|an|the)\s+)?(?:(?:{_SHOT_WORDS})\s+)*"
    r"(?:photo(?:graph)?|picture|image|shot|portrait|selfie|close[\s-]?up|headshot|render)"
    r"\s+of\s+",
    re.I,
)
#: a booru-style framing tag before the trigger: "close-up, l3yla, ..."
SHOT_TAG_RE = re.compile(
    rf"^\s*(?:(?:{_SHOT_WORDS})(?:\s+(?:shot|view|photo|portrait))?\s*,\s*)+", re.I
)
WORD_RE = re.compile(r"[\w][\w'’-]*")


@dataclass
class CaptionContext:
    """What every per-caption rule needs, computed once."""

    text: str
    config: LintConfig
    facts: ImageFacts

    @cached_property
    def vocab(self) -> Vocabulary:
        return self.config.vocabulary

    @cached_property
    def prefix_end(self) -> int:
        m = SHOT_PREFIX_RE.match(self.text) or SHOT_TAG_RE.match(self.text)
        if m:
            return m.end()
        return len(self.text) - len(self.text.lstrip())

    @cached_property
    def trigger_spans(self) -> list[tuple[int, int]]:
        trig = self.config.trigger
        if not trig:
            return []
        rx = self.config._cache.get("trigger_re")
        if rx is None:
            rx = re.compile(rf"(?<![\w-]){re.escape(trig)}(?![\w-]|['’]s\b)")
            self.config._cache["trigger_re"] = rx
        return [m.span() for m in rx.finditer(self.text)]

    @cached_property
    def identity_line_spans(self) -> tuple[tuple[int, int], ...]:
        line = (self.config.identity_line or "").strip()
        if not line:
            return ()
        out, pos = [], self.text.find(line)
        while pos >= 0:
            out.append((pos, pos + len(line)))
            pos = self.text.find(line, pos + 1)
        return tuple(out)

    @cached_property
    def identity(self) -> list[IdentityMatch]:
        from curation.captions.identity import find_identity

        return find_identity(self.text, self.vocab, allowed=self.identity_line_spans)


def removal_fix(text: str, start: int, end: int, label: str) -> Fix:
    """A fix deleting ``text[start:end]`` and the separator it leaves behind.

    Only the neighbourhood (``_NEAR`` characters each side) is looked at, so a huge caption
    with thousands of findings costs linear time, not quadratic."""
    lo, hi = max(0, start - _NEAR), min(len(text), end + _NEAR)
    # a whole comma (or sentence) fragment, maybe with "with a": drop it with one separator
    sep_before = max(text.rfind(sep, lo, start) for sep in ",.;")
    ends = [i for i in (text.find(sep, end, hi) for sep in ",.;") if i >= 0]
    frag_end_c = min(ends) if ends else -1
    whole = (sep_before >= 0 or lo == 0) and (ends or hi == len(text))
    if whole:
        frag_start = sep_before + 1
        frag_end = len(text) if frag_end_c < 0 else frag_end_c
        fragment = text[frag_start:frag_end].strip()
        core = re.sub(r"^(?:(?:a|an|the|with|and|her|his|their)\s+)+", "", fragment, flags=re.I)
        phrase = text[start:end].lower()
        if core.lower() == phrase or fragment.lower() == phrase:
            if frag_end_c >= 0:  # "x, <frag>, y" -> "x, y"
                return Fix(frag_start, frag_end_c + 1, "", label)
            return Fix(max(sep_before, 0), len(text), "", label)
    before = text[lo:start]
    after = text[end:hi]
    m_before = re.search(r"\s+(?:with|and)\s+$", before, re.I)
    m_after = re.match(r"\s+and\s+", after, re.I)
    if m_after and (m_before or re.search(r"\bwith\s+$", before, re.I)):
        return Fix(start, end + m_after.end(), "", label)
    if m_before and (after[:1] in ("", ",", ".") or after.startswith(" in ")):
        return Fix(lo + m_before.start(), end, "", label)
    if m_before and re.search(r"\band\s+$", before, re.I):
        return Fix(lo + m_before.start(), end, "", label)
    if after.startswith(" "):
        return Fix(start, end + 1, "", label)
    if before.endswith(" "):
        return Fix(start - 1, end, "", label)
    return Fix(start, end, "", label)


_NEAR = 300
