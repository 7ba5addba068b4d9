"""Identity stripper: any caption -> the structured line, with what was removed and why.

Handles Florence-2 prose ("The image shows a young woman with long dark hair..."), booru
tag lists ("1girl, solo, brown eyes, ...") and human captions. Deterministic and rule based
(regexes over the lexicon in ``resources/lexicon``), so every removal can be explained.

Hair decision (see resources/lexicon/README.md): hair colour, length and texture are
identity and are removed (they belong in the declared identity line); hair *styling* that
varies between images (ponytail, bun, braids, hair down, tied back...) is kept as
"hair in a ponytail".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from curation.captions.formatter import Slots, format_caption, normalize_shot, tidy
from curation.captions.identity import find_identity
from curation.captions.phrases import (
    _AN_RE,
    _BACKGROUND_SENT_RE,
    _BEHIND_PRONOUN_RE,
    _BG_PREP_RE,
    _BODY_POSSESSIVE_RE,
    _BOILER_RES,
    _DANGLING_RE,
    _DOUBLE_CONN_RE,
    _EXPRESSION_IS_RE,
    _FRAMING_TAG_RE,
    _HAIR_TAIL_RE,
    _IN_BACKGROUND_RE,
    _LEAD_VERB_RE,
    _LIGHTING_RE,
    _LIGHTING_SENT_RE,
    _MOOD_SENTENCE_RE,
    _ON_FACE_RE,
    _OTHER_CLAUSE_RE,
    _POSSESSIVE_IS_RE,
    _PRONOUN_RE,
    _SHOT_PREFIX_RE,
    _SOLO_RE,
    _SPACES_RE,
    _split_items,
    _split_pieces,
    _trigger_regex,
    present_to_ing,
)
from curation.captions.vocabulary import Vocabulary, load_vocabulary

R_BOILER = "boilerplate: the captioner's framing, not content"
R_SUBJECT = "subject: replaced by the trigger token"
R_FRAMING = "framing: the shot prefix says this"
R_MOOD = "mood or guess: not something visible"
R_DUPLICATE = "duplicate: already in the caption"


@dataclass(frozen=True)
class Removal:
    phrase: str
    reason: str


@dataclass
class CleanedCaption:
    """Result of :func:`clean_caption`: the new line, what went and why, the kept slots."""

    text: str
    removed: list[Removal] = field(default_factory=list)
    slots: dict[str, list[str]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "removed": [{"phrase": r.phrase, "reason": r.reason} for r in self.removed],
        }


def clean_caption(
    text: str,
    trigger: str,
    shot: str | None = None,
    identity_line: str | None = None,
    *,
    vocab: Vocabulary | None = None,
) -> CleanedCaption:
    """Strip identity from ``text`` and format it as one structured caption line."""
    return _Stripper(vocab or load_vocabulary(), trigger, identity_line).run(text or "", shot)


#: words that cannot stand between an article and the subject noun: "a street with people",
#: "a poster of a man", "a group of people" name something else, not the person
_NOT_ADJ = (
    r"(?:with|of|and|or|in|on|at|behind|near|next|to|by|from|for|beside|under|over|into"
    r"|holding|wearing|is|are|was|were|has|have|who|which|that|group|crowd|couple|pair"
    r"|poster|painting|photo|picture|statue|drawing|portrait|mannequin|shop|street|window)"
)

#: plural people: "with people walking" describes them, not the subject
_OTHERS = frozenset(
    "people men women children kids crowd crowds pedestrians friends tourists others".split()
)

_EYE_TAIL_RE = re.compile(
    r"^\s+(?:sparkling|shining|glistening|gleaming|twinkling|glowing|bright)\b", re.I
)


class _Stripper:
    def __init__(self, vocab: Vocabulary, trigger: str, identity_line: str | None) -> None:
        self.v = vocab
        self.trigger = (trigger or "").strip()
        self.identity_line = (identity_line or "").strip() or None
        self.removed: list[Removal] = []
        self.slots = Slots()
        self._trigger_re = _trigger_regex(self.trigger)
        self._subject_done = False
        subject_re: re.Pattern[str] | None = vocab.derived.get("subject_re")
        if subject_re is None:
            subject_re = vocab.derived["subject_re"] = re.compile(
                rf"^(?:(?:a|an|the|one)\s+)?((?:(?!{_NOT_ADJ}\b)[\w-]+\s+){{0,3}}?)"
                rf"(?:{vocab._expand('{PERSON}')})(?:['’]s(?:\s+(?:face|head|portrait))?)?"
                r"(?![\w-])",
                re.I,
            )
        self._subject_re = subject_re

    def remove(self, phrase: str, reason: str) -> None:
        phrase = re.sub(r"\s+", " ", phrase).strip(" ,.;")
        if phrase and Removal(phrase, reason) not in self.removed:
            self.removed.append(Removal(phrase, reason))

    # ----- top level ------------------------------------------------------------------------
    def run(self, text: str, shot: str | None) -> CleanedCaption:
        shot = normalize_shot(shot)
        t = text.replace("\u2019", "'").replace("_", " ")
        t = re.sub(r"\(([^():]+):[\d.]+\)", r"\1", t)  # prompt weights "(smile:1.2)"
        t = re.sub(r"[\r\n]+", ". ", t)
        t = present_to_ing(re.sub(r"\s+", " ", t).strip())
        if self.identity_line:
            t = re.sub(re.escape(self.identity_line), ", ", t, flags=re.I)
        if self.trigger:
            t = self._trigger_re.sub(", ", t)
        for sentence in re.split(r"(?<=[.!?;])\s+|[.!?;]$", t):
            self.sentence(sentence.strip(" .!?;"))
        line = format_caption(self.trigger, self.slots, shot, self.identity_line)
        return CleanedCaption(line, self.removed, self.slots.as_dict())

    def sentence(self, s: str) -> None:
        if not s.strip(" ,"):
            return
        s = s.strip(" ,")
        if _MOOD_SENTENCE_RE.search(s):
            self.remove(s, R_MOOD)
            return
        for rx in _BOILER_RES:
            m = rx.match(s)
            if m and m.end() > 0:
                self.remove(m.group(0), R_BOILER)
                s = s[m.end() :]
                break
        m = _BACKGROUND_SENT_RE.match(s)
        if m:
            first, _, rest = m.group(1).partition(",")
            body = re.sub(r"^(?:a|an|the)\s+", "", first.strip(), flags=re.I)
            if body and "background" not in body.lower() and len(body.split()) <= 3:
                body += " background"
            self.slots.add("background", self.strip_identity(body))
            if rest.strip():
                self.sentence(rest)
            return
        m = _LIGHTING_SENT_RE.match(s)
        if m:
            body = m.group(1).strip()
            self.slots.add("lighting", body if "light" in body.lower() else body + " lighting")
            return
        s = self.strip_identity(s)  # descriptors may span commas ("long, wavy brown hair")
        for piece in _split_pieces(s):
            self.piece(piece)

    # ----- one comma piece ---------------------------------------------------------------------
    def piece(self, p: str) -> None:
        p = p.strip()
        if not p:
            return
        if _MOOD_SENTENCE_RE.search(p):
            self.remove(p, R_MOOD)
            return
        if _SOLO_RE.match(p):
            self.remove(p, R_SUBJECT)
            return
        if _FRAMING_TAG_RE.match(p):
            self.remove(p, R_FRAMING)
            return
        m = _SHOT_PREFIX_RE.match(p)
        if m and (m.end() < len(p) or m.group(0).strip().lower().endswith("of")):
            self.remove(m.group(0), R_FRAMING)
            p = p[m.end() :]
        m = _IN_BACKGROUND_RE.match(p)
        if m:
            rest = self.strip_identity(p[m.end() :])
            if tidy(rest):
                self.slots.add("background", tidy(rest) + " in the background")
            return
        removed_before = len(self.removed)
        p = re.sub(r"^(?:and|but|also)\s+", "", self.strip_identity(p), flags=re.I)
        if len(self.removed) > removed_before:  # a lone leftover word ("her sparkling")
            rest = tidy(re.sub(r"^(?:her|his|their)\s+", "", p, flags=re.I))
            if rest and " " not in rest and self.classify(rest) == "other":
                self.remove(rest, self.removed[-1].reason)
                return
        if not p:
            return
        m = _EXPRESSION_IS_RE.match(p)
        if m:
            p = m.group(1) + " expression"
        m = self.subject(p)
        if m is not None:
            p = m.strip()
        elif not _PRONOUN_RE.match(p) and (other := _OTHER_CLAUSE_RE.match(p)):
            p = tidy(other.group(1) + p[other.end() :])  # somebody else: one phrase
            if p:
                self._add(self.classify(p), p)
            return
        m = _PRONOUN_RE.match(p) or _LEAD_VERB_RE.match(p)
        if m and m.end() > 0:
            p = p[m.end() :]
        m = _LEAD_VERB_RE.match(p)
        if m:
            p = p[m.end() :]
        p = _POSSESSIVE_IS_RE.sub(lambda mm: mm.group(1) + " ", p)
        p = _BEHIND_PRONOUN_RE.sub("in the background", p)
        p = _BODY_POSSESSIVE_RE.sub("", _ON_FACE_RE.sub("", p))
        self.split_and_add(p)

    def subject(self, p: str) -> str | None:
        m = self._subject_re.match(p)
        if not m:
            return None
        if self._subject_done and re.match(r"(?:a|an|one)\s", m.group(0), re.I):
            return None  # the subject was replaced already: "a man walking by" is content
        self._subject_done = True
        between = m.group(1) or ""
        kept = [w for w in between.split() if self.v.expression_regex.fullmatch(w)]
        kept += [w for w in between.split() if self.v.pose_regex.fullmatch(w)]
        phrase = m.group(0)
        self.remove(phrase, R_SUBJECT)
        for word in kept:
            self.slots.add(self.classify(word), word)
        return p[m.end() :]

    def strip_identity(self, p: str) -> str:
        matches = find_identity(p, self.v)
        if not matches:
            return p
        out, pos = [], 0
        for mt in matches:
            if mt.start < pos:
                continue
            out.append(p[pos : mt.start])
            pos = mt.end
            self.remove(mt.text, mt.reason)
            if mt.category == "eye_colour":
                tail = _EYE_TAIL_RE.match(p[pos:])
                if tail:
                    pos += tail.end()
            if mt.category == "hair" and mt.text.lower().endswith("hair"):
                tail = _HAIR_TAIL_RE.match(p[pos:])
                # "long blonde hair in a ponytail" -> "hair in a ponytail"; a lone "long hair"
                # tag next to a "ponytail" tag leaves nothing behind
                rest = p[pos:].split(",", 1)[0]
                if not re.match(r"\s+with\b", rest) and self.v.hair_styling_regex.search(
                    "hair" + rest
                ):
                    out.append("hair")
                elif tail:
                    self.remove(tail.group(0), mt.reason)
                    pos += tail.end()
        out.append(p[pos:])
        s = _AN_RE.sub("a ", "".join(out))
        for _ in range(2):
            s = _DOUBLE_CONN_RE.sub(r"\1", s)
            s = _DANGLING_RE.sub("", s)
            s = _SPACES_RE.sub(" ", s)
        return s.strip()

    # ----- split a clause and put each phrase in its slot --------------------------------------
    def split_and_add(self, p: str) -> None:
        splitter = self._splitter()
        parts: list[tuple[str, str]] = []
        pos, key = 0, ""
        people = self._people()
        for m in splitter.finditer(p):
            before = p[: m.start()].rsplit(" ", 1)[-1].lower()
            if (m.group(2) and before in people) or (
                not m.group(1) and not m.group(2) and before in _OTHERS
            ):
                continue  # "an older man in a suit", "people walking": somebody else's
            parts.append((key, p[pos : m.start()]))
            key = re.sub(r"\s+", " ", (m.group(1) or m.group(2) or "").lower())
            key = "wearing" if key in ("in", "wears") else key
            pos = m.end()
        parts.append((key, p[pos:]))
        last_slot = None
        for key, body in parts:
            body = tidy(body)
            if not body:
                continue
            if key in ("wearing", "dressed in"):
                for item in _split_items(body):
                    item = tidy(item)
                    if item:
                        slot = "accessories" if self._is_accessory(item) else "outfit"
                        self._add(slot, item)
                last_slot = "outfit"
            elif key in ("in front of", "against", "behind"):
                key = "behind" if key.startswith("behind") else key
                self._add("background", f"{key} {body}")
                last_slot = "background"
            elif key == "with":
                for item in _split_items(body):
                    item = tidy(item)
                    if not item:
                        continue
                    slot = self.classify(item)
                    head, _, rest = item.partition(" ")
                    if rest and head.lower() in _OTHERS:
                        slot = "background"  # "a street with people walking": not her pose
                    if slot == last_slot == "pose" and self.slots.items["pose"]:
                        self.slots.items["pose"][-1] += f" with {item}"
                    else:
                        self._add(slot, item)
                        last_slot = slot
            else:
                for item in self._split_head(body):
                    item = tidy(item)
                    if item:
                        last_slot = self.classify(item)
                        self._add(last_slot, item)

    def _splitter(self) -> re.Pattern[str]:
        cached = self.v.derived.get("split_re")
        if cached is None:
            place = self.v.place_regex.pattern
            garment = self.v.garment_regex.pattern
            ing = sorted(
                {
                    w
                    for w in self.v.lists["poses"] + self.v.lists["expressions"]
                    if w.endswith("ing")
                }
            )
            not_prep = r"(?:(?!(?:in|on|at|with|and)\b)[\w-]+\s+)"
            cached = self.v.derived["split_re"] = re.compile(
                rf"\s*\b(wearing|wears|dressed\s+in|while|{_BG_PREP_RE}|with)\s+"
                rf"|(?:^|\s+)(in)\s+(?=(?:a|an)\s+{not_prep}{{0,3}}?{garment})"
                r"|\s+(?!in\s+the\s+background)"
                rf"(?=(?:in|on|at|inside|outside|near|by|beside|under)\s+(?:a|an|the)\s+"
                rf"{not_prep}{{0,3}}?{place})"
                r"|\s+(?=(?:outdoors|indoors|outside)\b)"
                rf"|\s+(?=(?:{'|'.join(ing)})\b)",
                re.I,
            )
        return cached

    def _people(self) -> frozenset[str]:
        people = self.v.derived.get("people")
        if people is None:
            words = self.v.sets.get("PERSON", [])
            people = self.v.derived["people"] = frozenset(w.lower() for w in words)
        return people

    def _split_head(self, body: str) -> list[str]:
        """Split a clause on "and" only between actions ("standing and smiling")."""
        out = [body]
        for m in reversed(list(re.finditer(r"\s+and\s+", body, re.I))):
            right = body[m.end() :].split(" ", 1)[0].lower()
            if (
                right.endswith("ing")
                or right in ("has", "have", "is", "wears")
                or self.v.expression_regex.fullmatch(right)
            ):
                head = out.pop(0)
                cut = m.start()
                out = [head[:cut], head[m.end() :], *out]
        return out

    def _add(self, slot: str, item: str) -> None:
        if slot in ("outfit", "accessories"):
            item = re.sub(r"^(?:wearing\s+)?(?:her|his|their)\s+", "", item, flags=re.I)
            item = re.sub(r"^wearing\s+", "", item, flags=re.I)
        if not self.slots.add(slot, item) and tidy(item):
            self.remove(item, R_DUPLICATE)

    def _is_accessory(self, item: str) -> bool:
        acc = self.v.accessory_regex.search(item)
        if not acc:
            return False
        garment = self.v.garment_regex.search(item)
        return garment is None or acc.end() >= garment.end()

    def classify(self, item: str) -> str:
        v = self.v
        if _LIGHTING_RE.search(item):
            return "lighting"
        if re.search(r"\b(?:background|backdrop)\b", item, re.I) or re.match(
            r"(?:in\s+front\s+of|against|behind|outdoors|indoors|outside)\b", item, re.I
        ):
            return "background"
        if re.match(r"(?:in|on|at|inside|near|by|beside|under)\s", item, re.I) and (
            v.place_regex.search(item)
        ):
            return "background"
        if v.hair_styling_regex.search(item) and not v.garment_regex.search(item):
            return "hair"
        if self._is_accessory(item):
            return "accessories"
        first = v.pose_regex.match(item)
        if first and first.group(0).lower().endswith("ing") and " " in item:
            return "pose"  # "sitting across from a man in a suit" is a pose, not an outfit
        if v.garment_regex.search(item):
            return "outfit"
        if v.expression_regex.search(item):
            pose = v.pose_regex.search(item)
            expr = v.expression_regex.search(item)
            if (
                pose
                and expr
                and pose.start() < expr.start()
                and not item.lower().startswith("smil")
            ):
                return "pose"
            return "expression"
        if v.pose_regex.search(item):
            return "pose"
        if v.place_regex.search(item):
            return "background"
        return "other"
