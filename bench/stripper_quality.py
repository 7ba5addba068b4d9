"""Stripper quality on the frozen evaluation set: identity removed, varying phrases kept.

    python bench/stripper_quality.py                 # totals, per family, per source
    python bench/stripper_quality.py --failures      # every leaked descriptor / lost phrase
    python bench/stripper_quality.py --speed 20      # also captions/s over the set, 20 passes
    python bench/stripper_quality.py --stress 32000  # lint/clean one huge caption per word run

The set is ``tests/curation/data/stripper_eval.yaml`` (written for Likeness, see its header).
A descriptor counts as removed when none of its telling words is left in the cleaned line
once the trigger, the shot prefix, the declared identity line and the phrases that must be
kept are taken out ("black" of "black hair" may stay in "black jacket"). A kept phrase
counts when it is in the cleaned line as whole words (case-insensitive).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EVAL_SET = (
    Path(__file__).resolve().parents[1] / "tests" / "curation" / "data" / "stripper_eval.yaml"
)
#: words that carry no identity on their own (the noun a descriptor is about)
_GENERIC = frozenset(
    "a an the and with of in her his their she he is are has have its it that which very "
    "eyes eye hair skin lips face tone nose build figure body shade colour color undertone "
    "female male woman man girl boy framed by".split()
)


@dataclass
class Score:
    descriptors: int = 0
    removed: int = 0
    phrases: int = 0
    kept: int = 0
    leaks: list[tuple[str, str, str]] = field(default_factory=list)  # (text, descriptor, out)
    lost: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.descriptors += other.descriptors
        self.removed += other.removed
        self.phrases += other.phrases
        self.kept += other.kept
        self.leaks += other.leaks
        self.lost += other.lost

    def to_dict(self) -> dict:
        return {
            "descriptors": self.descriptors,
            "removed": self.removed,
            "removed_pct": round(100 * self.removed / max(1, self.descriptors), 1),
            "phrases": self.phrases,
            "kept": self.kept,
            "kept_pct": round(100 * self.kept / max(1, self.phrases), 1),
        }


def _norm(text: str) -> str:
    return re.sub(r"[\s,]+", " ", text.lower().replace("-", " ")).strip()


def _has(haystack: str, phrase: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(_norm(phrase))}(?!\w)", haystack) is not None


def load_cases(path: Path = EVAL_SET) -> list[dict]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data["cases"])


def score_case(case: dict, out: str) -> Score:
    trigger = case.get("trigger", "l3yla")
    line = _norm(out)
    score = Score()
    for phrase in case.get("keep") or []:
        score.phrases += 1
        if _has(line, phrase):
            score.kept += 1
        else:
            score.lost.append((case["text"], phrase, out))
    rest = line
    for phrase in [trigger, case.get("identity_line") or "", *(case.get("keep") or [])]:
        if phrase:
            rest = re.sub(rf"(?<!\w){re.escape(_norm(phrase))}(?!\w)", " ", rest)
    rest = re.sub(r"^(?:a|an)\s+(?:close up |medium shot |full body )?photo of\s+", "", rest)
    for desc in case.get("identity") or []:
        score.descriptors += 1
        words = [w for w in _norm(desc).split() if w not in _GENERIC] or _norm(desc).split()
        if any(_has(rest, w) for w in words):
            score.leaks.append((case["text"], desc, out))
        else:
            score.removed += 1
    return score


def evaluate(cases: list[dict] | None = None) -> dict[str, Score]:
    """Scores keyed "total", "split:<main|holdout>", "family:<name>", "source:<name>"."""
    from curation.captions import clean_caption

    out: dict[str, Score] = defaultdict(Score)
    for case in cases if cases is not None else load_cases():
        result = clean_caption(
            case["text"],
            case.get("trigger", "l3yla"),
            shot=case.get("shot"),
            identity_line=case.get("identity_line"),
        )
        s = score_case(case, result.text)
        split = case.get("split", "main")
        keys = ("total", f"split:{split}", f"family:{case['family']}", f"source:{case['source']}")
        for key in keys:
            out[key].add(s)
    return dict(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--failures", action="store_true", help="print every miss")
    ap.add_argument("--speed", type=int, default=0, metavar="N", help="time N passes")
    ap.add_argument("--stress", type=int, default=0, metavar="CHARS", help="huge captions")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    scores = evaluate()
    elapsed = time.perf_counter() - t0
    for key, s in sorted(scores.items(), key=lambda kv: (kv[0] != "total", kv[0])):
        print(json.dumps({"set": key, **s.to_dict()}))
    if args.failures:
        total = scores["total"]
        for text, desc, out in total.leaks:
            print(f"LEAK  {desc!r}\n  in:  {text}\n  out: {out}")
        for text, phrase, out in total.lost:
            print(f"LOST  {phrase!r}\n  in:  {text}\n  out: {out}")
    print(json.dumps({"cases": len(load_cases()), "seconds": round(elapsed, 2)}))
    if args.speed:
        print(json.dumps(_speed(args.speed)))
    if args.stress:
        for row in _stress(args.stress):
            print(json.dumps(row))
    return 0


STRESS_UNITS = (
    "tall slim ", "tall, slim, ", "brown ", "long black ", "pale fair ", "pale, fair, ",
    "young ", "asian ", "full thin ", "her eyes are large and ", "wide hips ", "freckles ",
    "blonde ponytail ", "smiling ",
)  # fmt: skip


def _stress(chars: int) -> list[dict]:
    """Hostile input: one caption of ``chars`` characters repeating one run of words; wall
    seconds for ``lint_caption`` and ``clean_caption`` (both must stay linear)."""
    from curation.captions import clean_caption
    from curation.captions.lint import LintConfig, lint_caption

    cfg = LintConfig("l3yla")
    lint_caption("l3yla, smiling", cfg)  # compile the lexicon first
    rows = []
    for unit in STRESS_UNITS:
        text = "l3yla, " + unit * (chars // len(unit))
        t0 = time.perf_counter()
        lint_caption(text, cfg)
        t1 = time.perf_counter()
        clean_caption(text, "l3yla")
        t2 = time.perf_counter()
        rows.append(
            {
                "run": unit,
                "chars": len(text),
                "lint_s": round(t1 - t0, 2),
                "clean_s": round(t2 - t1, 2),
            }
        )
    return rows


def _speed(passes: int) -> dict:
    """clean_caption over every caption of the set ``passes`` times: wall and CPU rates."""
    from curation.captions import clean_caption

    cases = load_cases()
    clean_caption(cases[0]["text"], "l3yla")  # compile the lexicon first
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(passes):
        for case in cases:
            clean_caption(case["text"], "l3yla", shot=case.get("shot"))
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    n = passes * len(cases)
    return {"speed_captions": n, "per_s_wall": round(n / wall), "per_s_cpu": round(n / cpu)}


if __name__ == "__main__":
    raise SystemExit(main())
