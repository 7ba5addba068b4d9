"""Dataset lint rules (identity-leak, duplicate-caption, untagged-recurring), fix-all, speed."""

from __future__ import annotations

import random
import time

import pytest

from curation.captions.lint import (
    ImageFacts,
    LintConfig,
    apply_fix,
    fixes_for_rule,
    lint_dataset,
)

EXPR = ["smiling", "serious expression", "laughing", "sad expression", "neutral expression"]
OUTFIT = ["a red coat", "a white shirt", "a green dress", "a grey hoodie", "a denim jacket"]
PLACE = ["park", "studio", "beach", "library", "street"]
TIME = ["at dawn", "at noon", "at dusk", "at night"]


def dataset(n: int, extra=lambda i: None) -> dict[str, str]:
    caps = {}
    for i in range(n):
        parts = [f"a photo of l3yla, {EXPR[i % 5]}", f"wearing {OUTFIT[(i * 2) % 5]}"]
        if extra(i):
            parts.append(extra(i))
        parts.append(f"{PLACE[(i * 3) % 5]} {TIME[i // 5 % 4]}")
        caps[f"img{i:02d}.png"] = ", ".join(parts)
    return caps


def test_identity_leak_with_close_paraphrases():
    variants = ["long dark hair", "her long dark hair", "long dark hair", "dark long hair"]
    caps = dataset(10, lambda i: variants[i % 4] if i < 9 else None)
    report = lint_dataset(caps, LintConfig(trigger="l3yla"))
    (leak,) = [d for d in report.dataset if d.rule == "identity-leak"]
    assert leak.phrase == "long dark hair"
    assert "9 of 10 captions (90%)" in leak.message
    assert len(leak.paths) == 9 and "img09.png" not in leak.paths
    per = report.issues("identity-leak")
    assert {p for p, _ in per} == set(leak.paths)
    path, issue = next((p, i) for p, i in per if p == "img01.png")
    assert caps[path][issue.start : issue.end] == "her long dark hair"
    assert "hair" not in apply_fix(caps[path], issue.fix)


def test_no_leak_below_80_percent_or_4_captions():
    caps = dataset(10, lambda i: "gold hoop earrings" if i < 7 else None)
    report = lint_dataset(caps, LintConfig(trigger="l3yla"))
    assert not [d for d in report.dataset if d.rule == "identity-leak"]
    tiny = {f"{i}.png": f"l3yla, golden bracelet, {EXPR[i]}" for i in range(3)}
    assert not lint_dataset(tiny, LintConfig(trigger="l3yla")).dataset
    four = {f"{i}.png": f"l3yla, golden bracelet, {EXPR[i]}" for i in range(4)}
    assert [d.rule for d in lint_dataset(four, LintConfig(trigger="l3yla")).dataset] == [
        "identity-leak"
    ]


def test_trigger_shot_prefix_and_identity_line_never_leak():
    line = "a woman with long dark brown wavy hair"
    caps = {
        f"img{i}.png": f"a close-up photo of l3yla, {line}, {EXPR[i % 5]}, {PLACE[i // 2]}"
        for i in range(10)
    }
    report = lint_dataset(caps, LintConfig(trigger="l3yla", identity_line=line))
    assert report.dataset == []
    without = lint_dataset(caps, LintConfig(trigger="l3yla"))
    assert [d.phrase for d in without.dataset if d.rule == "identity-leak"] == [line]


def test_duplicate_captions():
    caps = dataset(5)
    caps["copy.png"] = caps["img01.png"].upper() + "."
    report = lint_dataset(caps, LintConfig(trigger="l3yla"))
    (dup,) = [d for d in report.dataset if d.rule == "duplicate-caption"]
    assert dup.paths == ("copy.png", "img01.png")
    assert [i.message for i in report.captions["img01.png"] if i.rule == "duplicate-caption"] == [
        "same caption as copy.png"
    ]
    assert not [d for d in lint_dataset(dataset(5), LintConfig(trigger="l3yla")).dataset]


def test_untagged_recurring_from_autocaption_objects():
    caps = dataset(10)
    facts = {
        rel: ImageFacts(detected=("earring", "woman", "human face") if i < 8 else ("woman",))
        for i, rel in enumerate(caps)
    }
    report = lint_dataset(caps, LintConfig(trigger="l3yla"), facts)
    (rec,) = [d for d in report.dataset if d.rule == "untagged-recurring"]
    assert rec.phrase == "earrings" and len(rec.paths) == 8
    issue = next(i for i in report.captions["img00.png"] if i.rule == "untagged-recurring")
    assert apply_fix(caps["img00.png"], issue.fix).endswith(", earrings")
    fixed = fixes_for_rule(caps, report, "untagged-recurring")
    assert len(fixed) == 8 and all(t.endswith(", earrings") for t in fixed.values())


def test_untagged_recurring_is_quiet_when_captions_mention_it_or_it_is_rare():
    caps = dataset(10)
    caps["img03.png"] += ", gold hoops"  # a synonym counts as a mention
    facts = {rel: ImageFacts(detected=("earring",)) for rel in caps}
    assert lint_dataset(caps, LintConfig(trigger="l3yla"), facts).dataset == []
    rare = {rel: ImageFacts(detected=("necklace",) if i < 2 else ()) for i, rel in enumerate(caps)}
    assert lint_dataset(dataset(10), LintConfig(trigger="l3yla"), rare).dataset == []
    assert lint_dataset(dataset(10), LintConfig(trigger="l3yla")).dataset == []


def test_fix_all_for_a_rule_gives_new_texts():
    caps = dataset(6, lambda i: "brown eyes" if i % 2 else None)
    report = lint_dataset(caps, LintConfig(trigger="l3yla"))
    fixed = fixes_for_rule(caps, report, "identity-descriptor")
    assert sorted(fixed) == ["img01.png", "img03.png", "img05.png"]
    assert all("eyes" not in t and t.startswith("a photo of l3yla") for t in fixed.values())


def test_report_json_shape():
    caps = dataset(4)
    caps["none.png"] = None
    data = lint_dataset(caps, LintConfig(trigger="l3yla")).to_dict()
    assert set(data) == {"captions", "dataset"}
    entry = next(c for c in data["captions"] if c["path"] == "none.png")
    assert entry["issues"][0]["rule"] == "missing-caption"


@pytest.mark.slow
def test_lint_5000_captions_under_two_seconds():
    rng = random.Random(0)
    caps = {}
    for i in range(5000):
        parts = [
            rng.choice(["a close-up photo of l3yla", "a medium shot photo of l3yla"]),
            rng.choice(EXPR),
            "wearing " + rng.choice(OUTFIT),
            rng.choice(["gold earrings", "round glasses", "a straw hat", ""]),
            rng.choice(PLACE),
        ]
        if i % 7 == 0:
            parts.insert(1, "brown eyes")
        if i % 11 == 0:
            parts.insert(1, "a young woman with long dark hair")
        caps[f"img{i:05d}.png"] = ", ".join(p for p in parts if p)
    facts = {rel: ImageFacts(detected=("earring",)) for rel in caps}
    config = LintConfig(trigger="l3yla", max_words=40)
    lint_dataset(dict(list(caps.items())[:50]), config, facts)  # compile regexes
    start = time.process_time()
    report = lint_dataset(caps, config, facts)
    elapsed = time.process_time() - start
    assert report.count() > 0
    # goal < 2 s (docs/benchmarks.md has the measured figure); CPU time, slack for CI
    assert elapsed < 4.0, f"lint of 5000 captions took {elapsed:.2f} s CPU"
