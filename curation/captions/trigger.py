"""Trigger-token checker: is this token a fresh, short, rare string the model has no prior for?

Checks (from docs/domain.md): not a real English word, not a common first name (bundled
lists in ``resources/lexicon``, user-extensible), 4-6 characters, and at most 2 tokens for
Z-Image's text encoder tokenizer (Qwen3) when that tokenizer is available locally (the HF
cache or a configured folder; nothing is downloaded). Suggests leetspeak variants for names
and words (``leyla`` -> ``l3yla``).
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from curation.captions.vocabulary import Vocabulary, load_vocabulary

log = logging.getLogger(__name__)

#: repositories whose tokenizer is Z-Image's text-encoder tokenizer (or the same Qwen3 one)
TOKENIZER_REPOS = (
    ("Tongyi-MAI/Z-Image-Turbo", "tokenizer"),
    ("Tongyi-MAI/Z-Image", "tokenizer"),
    ("Qwen/Qwen3-4B", ""),
    ("Qwen/Qwen3-4B-Instruct-2507", ""),
)
_LEET = {"e": "3", "a": "4", "o": "0", "i": "1", "s": "5", "t": "7"}
_LEET_ORDER = "eaois t".replace(" ", "")


@dataclass
class TriggerReport:
    token: str
    verdict: str  # "good" | "weak" | "bad"
    reasons: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)
    token_count: int | None = None
    tokenizer: str | None = None

    def to_dict(self) -> dict:
        return {
            "token": self.token,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "suggestions": list(self.suggestions),
            "token_count": self.token_count,
            "tokenizer": self.tokenizer,
        }


def _hf_hub_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("HF_HUB_CACHE"):
        dirs.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        dirs.append(Path(os.environ["HF_HOME"]) / "hub")
    dirs.append(Path.home() / ".cache" / "huggingface" / "hub")
    return dirs


def find_text_encoder_tokenizer(extra: list[Path] | None = None) -> Path | None:
    """Path of a local ``tokenizer.json`` for Z-Image's text encoder, or None.

    Looks at ``LIKENESS_TEXT_TOKENIZER`` (a file or folder), ``extra`` folders, the app's
    model folder (``<model_dir>/Z-Image-Turbo/tokenizer``) and the Hugging Face cache.
    """
    candidates: list[Path] = []
    env = os.environ.get("LIKENESS_TEXT_TOKENIZER")
    if env:
        candidates.append(Path(env))
    candidates += list(extra or [])
    try:
        from curation.paths import model_dir

        base = model_dir()
        candidates += [base / "Z-Image-Turbo" / "tokenizer", base / "Z-Image" / "tokenizer"]
    except OSError:  # an unwritable model folder must not break the checker
        pass
    for hub in _hf_hub_dirs():
        for repo, sub in TOKENIZER_REPOS:
            snaps = hub / ("models--" + repo.replace("/", "--")) / "snapshots"
            if snaps.is_dir():
                for snap in sorted(snaps.iterdir(), reverse=True):
                    candidates.append(snap / sub if sub else snap)
    for cand in candidates:
        path = cand if cand.suffix == ".json" else cand / "tokenizer.json"
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=4)
def _load_tokenizer(path: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def count_tokens(token: str, tokenizer_path: Path) -> int:
    """Tokens the trigger takes in a caption (where a space precedes it)."""
    tok = _load_tokenizer(str(tokenizer_path))
    return len(tok.encode(" " + token, add_special_tokens=False).ids)


def leet_variants(token: str, limit: int = 5) -> list[str]:
    """Leetspeak variants with one (then two) substitutions, most natural first."""
    base = token.lower()
    out: list[str] = []
    positions = [(i, ch) for i, ch in enumerate(base) if ch in _LEET]
    positions.sort(key=lambda p: (_LEET_ORDER.index(p[1]), p[0] == 0, p[0]))
    for i, ch in positions:
        out.append(base[:i] + _LEET[ch] + base[i + 1 :])
    for a in range(len(positions)):
        for b in range(a + 1, len(positions)):
            (i, ci), (j, cj) = positions[a], positions[b]
            s = list(base)
            s[i], s[j] = _LEET[ci], _LEET[cj]
            out.append("".join(s))
    seen: list[str] = []
    for v in out:
        if v not in seen and v != base:
            seen.append(v)
    return seen[: limit * 3]


def check_trigger(
    token: str, *, vocab: Vocabulary | None = None, tokenizer_path: Path | None | bool = None
) -> TriggerReport:
    """Judge a trigger token. ``tokenizer_path``: a tokenizer.json, None to look for one
    locally, or False to skip the token count."""
    vocab = vocab or load_vocabulary()
    raw = token
    token = (token or "").strip()
    report = TriggerReport(token=raw, verdict="good")
    bad: list[str] = []
    weak: list[str] = []
    if not token:
        report.verdict = "bad"
        report.reasons = ["the trigger is empty"]
        return report
    if re.search(r"\s", token):
        bad.append("it contains a space: use one word so it stays one unit in every caption")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", token.replace(" ", "")):
        weak.append("it has characters other than letters and digits; tokenizers split those")
    low = token.lower()
    is_word = low in vocab.words
    is_name = low in vocab.first_names
    if is_word:
        bad.append(f"'{token}' is an English word: the model already has a meaning for it")
    if is_name:
        bad.append(f"'{token}' is a common first name: it fights the model's prior for the name")
    if not (4 <= len(token) <= 6):
        weak.append(f"{len(token)} characters: 4-6 is the sweet spot (short, yet rare)")
    if low.isdigit():
        weak.append("only digits: numbers carry meaning (counts, years) for the text encoder")
    path: Path | None = None
    if tokenizer_path is None:
        path = find_text_encoder_tokenizer()
    elif tokenizer_path is not False:
        path = Path(tokenizer_path)  # type: ignore[arg-type]
    if path is not None:
        try:
            report.token_count = count_tokens(token, path)
            report.tokenizer = str(path)
            if report.token_count > 2:
                weak.append(
                    f"{report.token_count} tokens for the text encoder: 1-2 tokens bind best"
                )
        except Exception as exc:  # a broken local tokenizer file must not break the checker
            log.warning("cannot use tokenizer %s: %s", path, exc)
    report.reasons = bad + weak
    report.verdict = "bad" if bad else ("weak" if weak else "good")
    if report.verdict != "good":
        report.suggestions = _suggest(token, vocab, path)
    return report


def _suggest(token: str, vocab: Vocabulary, tokenizer: Path | None) -> list[str]:
    base = re.sub(r"[^a-z0-9]", "", token.lower())
    if len(base) > 6:
        base = base[:5]
    cands = leet_variants(base) if base else []
    if len(base) < 4:
        cands += [v + "x" for v in [base] + cands]
    out = []
    for cand in cands:
        if cand in vocab.words or cand in vocab.first_names or not (4 <= len(cand) <= 6):
            continue
        if tokenizer is not None:
            try:
                if count_tokens(cand, tokenizer) > 2:
                    continue
            except Exception:  # noqa: BLE001 - the count is only a filter
                pass
        out.append(cand)
        if len(out) == 5:
            break
    return out
