"""Dataset rules: identity leaks, duplicate captions, untagged recurring objects."""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Mapping

from curation.captions.issues import (
    DatasetIssue,
    Fix,
    ImageFacts,
    LintConfig,
    LintIssue,
    Severity,
)
from curation.captions.rules.base import SHOT_PREFIX_RE, removal_fix

_STOP = frozenset(
    "a an the her his their she he they it its is are with and of wearing in on".split()
)
_FRAG_RE = re.compile(r"[^,.;\n]+")
_SIMILAR = 0.75
_WS_RE = re.compile(r"\s+")


_TOKEN_RE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def _norm_tokens(fragment: str, trigger: str, first: bool = True) -> tuple[str, ...]:
    text = fragment.lower()
    if trigger:
        text = text.replace(trigger.lower(), " ")
    if first:
        text = SHOT_PREFIX_RE.sub(" ", text)
    return tuple(t for t in _TOKEN_RE.findall(text) if t not in _STOP)


def _fragments(text: str, trigger: str, memo: dict):
    """(tokens, start, end) per comma/sentence fragment; ``memo`` caches repeated ones."""
    for m in _FRAG_RE.finditer(text):
        frag = m.group(0)
        key = (frag, m.start() == 0)
        toks = memo.get(key)
        if toks is None:
            toks = memo[key] = _norm_tokens(frag, trigger, m.start() == 0)
        if toks:
            start = m.start() + len(frag) - len(frag.lstrip())
            yield toks, start, m.end() - (len(frag) - len(frag.rstrip()))


def identity_leak(
    captions: Mapping[str, str | None], config: LintConfig, per: dict[str, list[LintIssue]]
) -> list[DatasetIssue]:
    texts = {rel: t for rel, t in captions.items() if t and t.strip()}
    n = len(texts)
    if n < config.leak_min_captions:
        return []
    trig = config.trigger or ""
    allowed: set[frozenset[str]] = set()
    if config.identity_line:
        allowed.add(frozenset(_norm_tokens(config.identity_line, trig)))
        for frag in _FRAG_RE.findall(config.identity_line):
            allowed.add(frozenset(_norm_tokens(frag, trig)))
    # fragment (as a token set) -> {rel: (start, end)}
    where: dict[frozenset[str], dict[str, tuple[int, int]]] = defaultdict(dict)
    doc_freq: dict[str, int] = defaultdict(int)
    memo: dict = {}
    keys: dict[tuple[str, ...], frozenset[str]] = {}
    for rel, text in texts.items():
        seen_tokens: set[str] = set()
        for toks, start, end in _fragments(text, trig, memo):
            key = keys.get(toks)
            if key is None:
                key = keys[toks] = frozenset(toks)
            if key in allowed:
                continue
            where[key].setdefault(rel, (start, end))
            seen_tokens.update(toks)
        for tok in seen_tokens:
            doc_freq[tok] += 1
    need = max(config.leak_min_captions, math.ceil(config.leak_fraction * n - 1e-9))
    common = {t for t, c in doc_freq.items() if c >= need * _SIMILAR}
    seeds = [k for k in where if k and len(k & common) * 2 >= len(k)]
    seeds.sort(key=lambda k: (-len(where[k]), sorted(k)))
    by_token: dict[str, list[frozenset[str]]] = defaultdict(list)
    for key in where:
        for tok in key & common:
            by_token[tok].append(key)
    reported: set[frozenset[str]] = set()
    out: list[DatasetIssue] = []
    for seed in seeds[:500]:
        if seed in reported:
            continue
        group = {seed}
        for tok in seed & common:
            for other in by_token[tok]:
                if other not in group and len(seed & other) / len(seed | other) >= _SIMILAR:
                    group.add(other)
        hits: dict[str, tuple[int, int]] = {}
        for key in sorted(group, key=lambda k: -len(where[k])):
            for rel, span in where[key].items():
                hits.setdefault(rel, span)
        if len(hits) < need:
            continue
        reported |= group
        first_rel = next(iter(where[seed]))
        s, e = where[seed][first_rel]
        phrase = texts[first_rel][s:e]
        pct = round(100 * len(hits) / n)
        msg = (
            f"'{phrase}' (or a close variant) is in {len(hits)} of {n} captions ({pct}%): "
            "a fragment this common becomes part of the identity. Vary it, remove it, or "
            "declare it as the identity line"
        )
        out.append(
            DatasetIssue("identity-leak", Severity.WARNING, msg, tuple(sorted(hits)), phrase)
        )
        for rel, (start, end) in hits.items():
            text = texts[rel]
            per[rel].append(
                LintIssue(
                    "identity-leak",
                    Severity.WARNING,
                    msg,
                    start,
                    end,
                    removal_fix(text, start, end, f"remove '{text[start:end]}'"),
                )
            )
    return out


def duplicate_caption(
    captions: Mapping[str, str | None], per: dict[str, list[LintIssue]]
) -> list[DatasetIssue]:
    groups: dict[str, list[str]] = defaultdict(list)
    for rel, text in captions.items():
        if text and text.strip():
            key = _WS_RE.sub(" ", text.strip().lower()).rstrip(".")
            groups[key].append(rel)
    out = []
    for rels in groups.values():
        if len(rels) < 2:
            continue
        rels = sorted(rels)
        out.append(
            DatasetIssue(
                "duplicate-caption",
                Severity.WARNING,
                f"{len(rels)} images share one caption: describe what differs in each",
                tuple(rels),
                captions[rels[0]],
            )
        )
        for rel in rels:
            others = ", ".join(r for r in rels if r != rel)
            text = captions[rel] or ""
            per[rel].append(
                LintIssue(
                    "duplicate-caption",
                    Severity.WARNING,
                    f"same caption as {others}",
                    0,
                    len(text),
                )
            )
    return out


def _canonical(label: str, canon: dict[str, str]) -> str | None:
    label = re.sub(r"\s+", " ", label.strip().lower())
    for cand in (label, label + "s", label.rstrip("s"), label[:-2] if label.endswith("es") else ""):
        if cand and cand in canon:
            return canon[cand]
    last = label.split(" ")[-1] if label else ""
    if last and last != label:
        return _canonical(last, canon)
    return None


def untagged_recurring(
    captions: Mapping[str, str | None],
    config: LintConfig,
    facts: Mapping[str, ImageFacts],
    per: dict[str, list[LintIssue]],
) -> list[DatasetIssue]:
    vocab = config.vocabulary
    canon = vocab.canonical_item
    names: dict[str, set[str]] = defaultdict(set)
    for name, c in canon.items():
        names[c].add(name)
    seen: dict[str, set[str]] = defaultdict(set)
    observed = [rel for rel in captions if facts.get(rel) and facts[rel].detected]
    for rel in observed:
        for label in facts[rel].detected:
            c = _canonical(label, canon)
            if c:
                seen[c].add(rel)
    need = max(config.recurring_min_images, math.ceil(config.recurring_fraction * len(observed)))
    out = []
    for item, rels in sorted(seen.items()):
        if len(rels) < need:
            continue
        alts = "|".join(
            re.escape(n) + "s?" for n in sorted(names[item] | {item}, key=len, reverse=True)
        )
        rx = re.compile(rf"\b(?:{alts})\b", re.I)
        if any(rx.search(captions[r] or "") for r in captions):
            continue
        msg = (
            f"the autocaptioner saw '{item}' in {len(rels)} of {len(observed)} images but no "
            "caption mentions it: untagged, it becomes part of the identity"
        )
        out.append(
            DatasetIssue("untagged-recurring", Severity.WARNING, msg, tuple(sorted(rels)), item)
        )
        for rel in rels:
            text = captions.get(rel)
            if not text or not text.strip():
                continue
            end = len(text.rstrip())
            per[rel].append(
                LintIssue(
                    "untagged-recurring",
                    Severity.WARNING,
                    msg,
                    end,
                    end,
                    Fix(end, end, f", {item}", f"add '{item}'"),
                )
            )
    return out


def run_dataset_rules(
    captions: Mapping[str, str | None],
    config: LintConfig,
    facts: Mapping[str, ImageFacts],
    per: dict[str, list[LintIssue]],
) -> list[DatasetIssue]:
    out: list[DatasetIssue] = []
    if "identity-leak" not in config.disabled:
        out += identity_leak(captions, config, per)
    if "duplicate-caption" not in config.disabled:
        out += duplicate_caption(captions, per)
    if "untagged-recurring" not in config.disabled:
        out += untagged_recurring(captions, config, facts, per)
    return out
