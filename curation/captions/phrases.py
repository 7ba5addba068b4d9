"""Regexes and small splitters the identity stripper uses (kept apart for readability)."""

from __future__ import annotations

import functools
import re

_FRAMING_WORDS = (
    r"(?:extreme\s+)?close[\s-]?up|medium[\s-]shot|medium|full[\s-]body|full[\s-]length|"
    r"head[\s-]and[\s-]shoulders|upper[\s-]body|half[\s-]body|waist[\s-]up|chest[\s-]up|"
    r"cowboy\s+shot|headshot|portrait|candid|professional|studio|high[\s-]quality|"
    r"black[\s-]and[\s-]white|color|colour|digital|realistic|photorealistic|detailed|"
    r"cinematic|wide[\s-]angle|wide|side[\s-]view|front[\s-]view"
)
_SHOT_PREFIX_RE = re.compile(
    rf"^(?:(?:a|an|the|this)\s+)?(?:(?:{_FRAMING_WORDS})\s+)*"
    r"(?:photo(?:graph)?|picture|image|shot|portrait|selfie|snapshot|close[\s-]?up|render"
    r"|illustration|headshot)(?:\s+of\b)?\s*",
    re.I,
)
_FRAMING_TAG_RE = re.compile(
    rf"^(?!studio$)(?:(?:{_FRAMING_WORDS})(?:\s+(?:shot|view|photo))?\s*)+$", re.I
)
_BOILER_RES = [
    re.compile(
        r"^(?:the|this)\s+(?:image|photo|photograph|picture|shot|scene|illustration)\s+"
        r"(?:is\s+of|is|shows|depicts|features|captures|presents|displays|contains|portrays"
        r"|appears\s+to\s+(?:be|show))\s+(?:of\s+)?",
        re.I,
    ),
    re.compile(
        r"^in\s+(?:this|the)\s+(?:image|photo|picture)\s*,?\s*(?:we\s+(?:can\s+)?see|"
        r"there\s+(?:is|are)|you\s+can\s+see)?\s*",
        re.I,
    ),
    re.compile(
        r"^(?:this|it)\s+is\s+(?:a|an)\s+(?:[\w-]+\s+){0,3}?(?:photo(?:graph)?|image|picture"
        r"|portrait|shot|close-up|selfie|snapshot)\s+(?:of|showing|that\s+shows|depicting)\s+",
        re.I,
    ),
    re.compile(r"^(?:there\s+(?:is|are)|we\s+(?:can\s+)?see|it\s+(?:is|shows))\s+", re.I),
]
_MOOD_SENTENCE_RE = re.compile(
    r"^(?:the\s+)?(?:overall\s+)?(?:mood|atmosphere|feel|tone|vibe|impression|aesthetic|style)"
    r"(?:\s+of\s+the\s+(?:image|photo|picture|scene|photograph))?\s+(?:is|seems|appears)\b"
    r"|^(?:the|this)\s+(?:image|photo|picture)\s+(?:has|gives|conveys|evokes|creates)\b"
    r"|^(?:suggesting|indicating|which\s+suggests|giving|creating|adding|perhaps|possibly|making"
    r"|which\s+makes|drawing\s+attention|emphasi[sz]ing|highlighting"
    r"|it\s+(?:appears|seems)|this\s+(?:suggests|adds|creates|gives))\b",
    re.I,
)
_BACKGROUND_SENT_RE = re.compile(
    r"^(?:the\s+)?(?:background|backdrop)\s+(?:is|appears\s+to\s+be|seems\s+to\s+be|features|"
    r"shows|consists\s+of|has)\s+(.+)$",
    re.I,
)
_IN_BACKGROUND_RE = re.compile(
    r"^in\s+the\s+background\s*,?\s*(?:there\s+(?:is|are)\s+|we\s+can\s+see\s+|you\s+can\s+see\s+)?",
    re.I,
)
_LIGHTING_SENT_RE = re.compile(r"^(?:the\s+)?lighting\s+(?:is|appears)\s+(.+)$", re.I)
_PRONOUN_RE = re.compile(
    r"^(?:(?:she|he|they|it)|(?:the|this)\s+(?:woman|man|girl|boy|person|lady|guy|subject|model"
    r"|female|male))\s+(?:is|are|was|were|has|have|appears\s+to\s+be|seems\s+to\s+be|looks"
    r"|can\s+be\s+seen)?\s*",
    re.I,
)
_LEAD_VERB_RE = re.compile(
    r"^(?:is|are|has|have|was|were|appears\s+to\s+be|seems\s+to\s+be|appears|seems)(?:\s+|$)",
    re.I,
)
_POSSESSIVE_IS_RE = re.compile(
    r"^(?:(?:her|his|their)\s+)?(hair|arms?|hands?|legs?|head|eyes|gaze|body|mouth|lips)\s+"
    r"(?:is|are)\s+",
    re.I,
)
_EXPRESSION_IS_RE = re.compile(r"^(?:her|his|their)\s+expression\s+is\s+(.+)$", re.I)
_BODY_POSSESSIVE_RE = re.compile(
    r"\b(?:her|his|their)\s+(?=(?:arms?|hands?|hips?|legs?|head|chin|face|shoulders?|hair|knees?"
    r"|waist|chest|lap|side|back|fingers?|neck|ears?|lips|mouth|eyes|feet|foot|pockets?|cheeks?"
    r"|forehead|body|gaze|temple|thighs?|elbows?|wrists?)\b)",
    re.I,
)
_BEHIND_PRONOUN_RE = re.compile(r"\bbehind\s+(?:her|him|them)\b", re.I)
_ON_FACE_RE = re.compile(r"\s+on\s+(?:her|his|their)\s+face\b", re.I)
_HAIR_TAIL_RE = re.compile(
    r"^\s*(?:that|which)?\s*(?:falls?|falling|flows?|flowing|cascades?|cascading|frames?|framing"
    r"|reaching|reaches|hangs?|hanging|draped|down\s+(?:to|past)|past|over|spread|spreading"
    r"|spilling|fanned|blowing|blown|sparkling|shining|glistening|gleaming)\b"
    r"(?:(?!\s+and\s)[^,.;])*",
    re.I,
)
_LIGHTING_RE = re.compile(
    r"\b(?:lighting|lit|sunlight|sunlit|backlit|backlighting|shadows?|golden\s+hour|daylight"
    r"|neon\s+lights?|spotlight|rim\s+light|natural\s+light|soft\s+light|studio\s+light)\b",
    re.I,
)
_BG_PREP_RE = r"in\s+front\s+of|against|behind(?=\s+(?:a|an|the)\b)"
_COLOURS = (
    "black|white|red|blue|green|yellow|pink|purple|orange|brown|grey|gray|navy|beige|gold"
    "|silver|cream|tan|teal|maroon"
)
_COLOUR_END_RE = re.compile(rf"\b(?:{_COLOURS})$", re.I)
_COLOUR_START_RE = re.compile(rf"^(?:{_COLOURS})\b", re.I)


def _split_items(text: str) -> list[str]:
    """Split on commas and "and", keeping colour pairs ("black and white") together."""
    out: list[str] = []
    for chunk in re.split(r"\s*,\s*", text):
        parts = re.split(r"\s+and\s+", chunk, flags=re.I)
        merged = [parts[0]]
        for part in parts[1:]:
            if _COLOUR_END_RE.search(merged[-1]) and _COLOUR_START_RE.match(part):
                merged[-1] += " and " + part
            else:
                merged.append(part)
        out.extend(merged)
    return out


_SOLO_RE = re.compile(
    r"^(?:solo|1girl|1boy|1woman|1man|single|alone|one\s+person|(?:male|female|solo)\s+focus)$",
    re.I,
)
#: JoyCaption writes the present simple ("she stands with ..."): the slots want "standing"
_PRESENT_VERB_RE = re.compile(
    r"\b((?:she|he|and|who)\s+)(stands|sits|leans|looks|holds|smiles|poses|walks|lies|kneels"
    r"|gazes|rests|crouches|laughs|grins|runs|reads|sips|carries|stares|glances|faces|reaches)\b",
    re.I,
)
_ING = {"lies": "lying", "poses": "posing", "smiles": "smiling", "gazes": "gazing",
        "stares": "staring", "faces": "facing", "runs": "running", "sits": "sitting"}  # fmt: skip


def present_to_ing(text: str) -> str:
    """ "she stands with one hand on her hip" -> "she standing with ..." (then "standing")."""

    def sub(m: re.Match[str]) -> str:
        verb = m.group(2).lower()
        return m.group(1) + (_ING.get(verb) or re.sub(r"e?s$", "", verb) + "ing")

    return _PRESENT_VERB_RE.sub(sub, text)


#: a clause about somebody else: "a group of people is dancing in the background"
_OTHER_CLAUSE_RE = re.compile(
    r"^((?:a|an|two|three|several|some|many|other)\s+(?:[\w-]+\s+){0,4}?)(?:is|are)\s+"
    r"(?=[\w-]+ing\b)",
    re.I,
)


_AN_RE = re.compile(r"\ban\s+(?=[b-df-hj-np-tv-z]\w)", re.I)
_DOUBLE_CONN_RE = re.compile(r"\b(with|and)\s+(?:and|with)\b", re.I)
_DANGLING_RE = re.compile(r"\b(?:with|and|a|an|the)\s*(?=,|$)", re.I)
_SPACES_RE = re.compile(r"\s{2,}")


_ADJ_END_RE = re.compile(
    r"\b(?:large|small|long|short|round|big|thin|thick|light|dark|bright|soft|loose|tight|wavy"
    r"|curly|straight|oversized|chunky|delicate|simple|plain|pale|deep|sheer|flowing)$",
    re.I,
)
_PIECE_START_RE = re.compile(
    r"^(?:a|an|the|she|he|they|her|his|their|and|with|wearing|in|on|at|while|who|which|is"
    r"|are|has|[a-z]+ing)\b",
    re.I,
)


def _split_pieces(sentence: str) -> list[str]:
    """Split on commas (and "and she ...") but keep adjective lists ("large, round earrings")."""
    raw = re.split(r"\s*,\s*|\s+and\s+(?=(?:she|he|they|her|his|their)\b)", sentence)
    out: list[str] = []
    for part in raw:
        if out and _ADJ_END_RE.search(out[-1]) and part and not _PIECE_START_RE.match(part):
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


@functools.lru_cache(maxsize=64)
def _trigger_regex(trigger: str) -> re.Pattern[str]:
    words = re.escape(trigger) if trigger else r"(?!x)x"
    return re.compile(rf"(?<![\w-]){words}(?:['’]s)?(?![\w-])", re.I)
