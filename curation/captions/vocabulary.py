"""Caption vocabulary: the bundled lexicon in ``resources/lexicon`` merged with the user's own.

User files live in ``curation.paths.config_dir() / "lexicon" / *.yaml`` and use the bundled
keys: they add words (``sets``, ``categories``, ``garments``, ``accessories``, ...), add
``exceptions`` (phrases never flagged as identity), ``words`` / ``first_names`` (for the
trigger checker) and ``not_words`` (tokens the trigger checker must not treat as words).
An unknown key is an error, so a misspelt key is never silently ignored.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from curation.errors import LikenessError
from resources import resource_path

log = logging.getLogger(__name__)

_LIST_KEYS = (
    "exceptions",
    "hair_styling",
    "garments",
    "accessories",
    "vague_outfits",
    "expressions",
    "poses",
    "places",
    "words",
    "first_names",
    "not_words",
)
_ALLOWED_KEYS = {"schema_version", "sets", "categories", "synonyms", *_LIST_KEYS}
#: parts of hyphenated set words too common to act as keywords ("young-looking")
_COMMON_PARTS = frozenset(
    "looking something size sized built well full small average broad east south middle "
    "native race aged age skinned figured framed shouldered plus mixed very light dark".split()
)
_BUNDLED = ("identity.yaml", "clothing.yaml", "scene.yaml")


class VocabularyError(LikenessError, ValueError):
    """A lexicon file is unreadable or has an unknown key."""


def _trie_regex(seqs: list[list[str]]) -> str:
    """Regex for a set of token sequences as a trie: fast first-character dispatch."""
    trie: dict = {}
    for seq in seqs:
        node = trie
        for ch in seq:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        end = "" in node
        alts = []
        for key in sorted(k for k in node if k):
            alts.append(key + build(node[key]))
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 and not end else "(?:" + "|".join(alts) + ")"
        if end:
            body += "?"
            if len(alts) == 1 and not body.startswith("(?:"):
                body = "(?:" + alts[0] + ")?"
        return body

    return build(trie)


def _alternation(words: list[str]) -> str:
    """Regex alternation for literal words; a hyphen also matches a space."""
    seqs = []
    for word in {w.strip().lower() for w in words if w.strip()}:
        seq: list[str] = []
        for i, tok in enumerate(re.split(r"[\s-]+", word)):
            if i:
                seq.append(r"[\s-]")
            seq.extend(re.escape(ch) for ch in tok)
        seqs.append(seq)
    return _trie_regex(seqs) if seqs else r"(?!x)x"


def phrase_regex(phrases: list[str]) -> re.Pattern[str]:
    """Whole-word, case-insensitive regex matching any of ``phrases``."""
    return re.compile(rf"(?<![\w-])(?:{_alternation(phrases)})(?![\w-])", re.IGNORECASE)


@dataclass
class Category:
    name: str
    reason: str
    patterns: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)


@dataclass
class Vocabulary:
    """Merged lexicon with compiled matchers. Build with :func:`load_vocabulary`."""

    sets: dict[str, list[str]]
    categories: dict[str, Category]
    lists: dict[str, list[str]]
    synonyms: dict[str, list[str]]
    sources: list[str] = field(default_factory=list)
    #: compiled helpers other modules derive from this vocabulary (stripper regexes)
    derived: dict[str, Any] = field(default_factory=dict, repr=False)

    # ----- identity ------------------------------------------------------------------------
    @cached_property
    def category_matchers(self) -> list[tuple[Category, re.Pattern[str], frozenset[str] | None]]:
        """Per category: its regex and the keywords that must be in a caption (None: any)."""
        out = []
        for cat in self.categories.values():
            body = "|".join(f"(?:{self._expand(p)})" for p in cat.patterns)
            rx = re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)
            keys: set[str] | None = set() if cat.keywords else None
            for kw in cat.keywords:
                m = re.fullmatch(r"\{([A-Z_]+)\}", kw)
                words = self.sets.get(m.group(1), []) if m else [kw]
                for w in words:
                    parts = [t for t in re.split(r"[\s-]+", w.lower()) if t]
                    if keys is not None:
                        keys.update(t for t in parts if len(parts) == 1 or t not in _COMMON_PARTS)
            out.append((cat, rx, frozenset(keys) if keys is not None else None))
        return out

    def _expand(self, pattern: str) -> str:
        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in self.sets:
                raise VocabularyError(f"pattern refers to unknown set {{{name}}}: {pattern}")
            return _alternation(self.sets[name])

        return re.sub(r"\{([A-Z_]+)\}", sub, pattern)

    @cached_property
    def exception_regex(self) -> re.Pattern[str]:
        return phrase_regex(self.lists["exceptions"])

    @cached_property
    def hair_styling_regex(self) -> re.Pattern[str]:
        return phrase_regex(self.lists["hair_styling"])

    # ----- clothing / scene ----------------------------------------------------------------
    @cached_property
    def garment_regex(self) -> re.Pattern[str]:
        return phrase_regex(self.lists["garments"])

    @cached_property
    def accessory_regex(self) -> re.Pattern[str]:
        return phrase_regex(self.lists["accessories"])

    @cached_property
    def vague_outfit_regex(self) -> re.Pattern[str]:
        return phrase_regex(self.lists["vague_outfits"])

    @cached_property
    def expression_regex(self) -> re.Pattern[str]:
        return phrase_regex(self.lists["expressions"])

    @cached_property
    def pose_regex(self) -> re.Pattern[str]:
        return phrase_regex(self.lists["poses"])

    @cached_property
    def place_regex(self) -> re.Pattern[str]:
        return phrase_regex(self.lists["places"])

    @cached_property
    def canonical_item(self) -> dict[str, str]:
        """Lower-case garment/accessory name (or synonym) -> canonical name."""
        out = {w.lower(): w.lower() for w in self.lists["garments"] + self.lists["accessories"]}
        for canon, names in self.synonyms.items():
            for name in names:
                out[name.lower()] = canon.lower()
            out[canon.lower()] = canon.lower()
        return out

    # ----- trigger checker -----------------------------------------------------------------
    @cached_property
    def words(self) -> frozenset[str]:
        words = set(_read_lines(resource_path("lexicon", "words.txt")))
        words.update(w.lower() for w in self.lists["words"])
        return frozenset(words - {w.lower() for w in self.lists["not_words"]})

    @cached_property
    def first_names(self) -> frozenset[str]:
        names = set(_read_lines(resource_path("lexicon", "first_names.txt")))
        names.update(w.lower() for w in self.lists["first_names"])
        return frozenset(names - {w.lower() for w in self.lists["not_words"]})


def _read_lines(path: Path) -> list[str]:
    out = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            line = line.strip().lower()
            if line and not line.startswith("#"):
                out.append(line)
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise VocabularyError(f"cannot read lexicon file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise VocabularyError(f"lexicon file {path} must hold a mapping of keys")
    unknown = set(data) - _ALLOWED_KEYS
    if unknown:
        raise VocabularyError(
            f"lexicon file {path}: unknown key(s) {sorted(unknown)}; "
            f"allowed: {sorted(_ALLOWED_KEYS)}"
        )
    return data


def _merge(vocab: Vocabulary, data: dict[str, Any], source: str) -> None:
    for name, words in (data.get("sets") or {}).items():
        vocab.sets.setdefault(str(name), []).extend(str(w) for w in words or [])
    for name, spec in (data.get("categories") or {}).items():
        spec = spec or {}
        cat = vocab.categories.get(name)
        if cat is None:
            cat = vocab.categories[name] = Category(name, spec.get("reason", f"identity: {name}"))
        cat.patterns.extend(str(p) for p in spec.get("patterns") or [])
        cat.keywords.extend(str(k) for k in spec.get("keywords") or [])
        # literal terms are a convenience for users who do not write regexes
        if cat.keywords:
            cat.keywords.extend(
                t for term in spec.get("terms") or [] for t in re.split(r"[\s-]+", str(term)) if t
            )
        cat.patterns.extend(
            r"[\s-]".join(re.escape(t) for t in re.split(r"[\s-]+", str(term).strip().lower()))
            for term in spec.get("terms") or []
            if str(term).strip()
        )
    for canon, names in (data.get("synonyms") or {}).items():
        vocab.synonyms.setdefault(str(canon), []).extend(str(n) for n in names or [])
    for key in _LIST_KEYS:
        vocab.lists[key].extend(str(w) for w in data.get(key) or [])
    vocab.sources.append(source)


_CACHE: dict[tuple, Vocabulary] = {}


def user_lexicon_dir() -> Path:
    from curation.paths import config_dir

    return config_dir() / "lexicon"


def load_vocabulary(user_dir: Path | None = None, *, include_user: bool = True) -> Vocabulary:
    """The bundled lexicon merged with the user's ``*.yaml`` files (cached by mtime).

    The user folder is looked at again at most once a second, so callers in a loop pay
    nothing for it.
    """
    import time

    folder = user_dir
    if folder is None and include_user:
        env = os.environ.get("LIKENESS_CONFIG_DIR")
        folder = _USER_DIRS.get(env)
        if folder is None:
            folder = _USER_DIRS[env] = user_lexicon_dir()
    try:
        stamp = folder.stat().st_mtime_ns if folder is not None else 0
    except OSError:
        stamp = 0
    memo_key = (str(folder), include_user, stamp)
    last = _LAST.get(memo_key)
    now = time.monotonic()
    if last is not None and now - last[0] < 1.0:
        return last[1]
    vocab = _load(folder, include_user)
    _LAST.clear()
    _LAST[memo_key] = (now, vocab)
    return vocab


def reload_vocabulary() -> Vocabulary:
    """Forget cached lexicons (after the user edited a lexicon file) and load again."""
    _LAST.clear()
    _CACHE.clear()
    return load_vocabulary()


_USER_DIRS: dict[str | None, Path] = {}
_LAST: dict[tuple, tuple[float, Vocabulary]] = {}


def _load(user_dir: Path | None, include_user: bool) -> Vocabulary:
    user_files: list[Path] = []
    if include_user:
        folder = user_dir if user_dir is not None else user_lexicon_dir()
        if folder.is_dir():
            user_files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    key = tuple((str(p), p.stat().st_mtime_ns) for p in user_files)
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    vocab = Vocabulary(sets={}, categories={}, lists={k: [] for k in _LIST_KEYS}, synonyms={})
    for name in _BUNDLED:
        path = resource_path("lexicon", name)
        _merge(vocab, _read_yaml(path), f"bundled:{name}")
    for path in user_files:
        _merge(vocab, _read_yaml(path), str(path))
        log.info("merged user lexicon %s", path)
    try:  # compile now so a bad user pattern fails here, naming the files
        _ = vocab.category_matchers
    except re.error as exc:
        raise VocabularyError(f"bad identity pattern in {vocab.sources}: {exc}") from exc
    _CACHE[key] = vocab
    return vocab
