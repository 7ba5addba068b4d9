"""The one place the caption panels call the captions core (``curation.captions`` and
``curation.captioners``): plain dataclasses in, plain dataclasses (``Mark``) out, so a change
in the core's classes touches this file only. No Qt here.

Dataset settings (trigger, identity line, caption profile) live in the workspace state under
``cache_put("dataset", "settings", {...})`` so lint, autocaption and training read the same.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass, field
from dataclasses import replace as dataclass_replace
from typing import Any

from desktop.panels.captions.common import Fix, Mark

log = logging.getLogger(__name__)

SETTINGS_NS, SETTINGS_KEY = "dataset", "settings"
PROFILES = (("character", "Character LoRA"), ("face", "Face LoRA (short captions)"))
_KOHYA = re.compile(r"^\d+_(.+)$")


# -- settings ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaptionSettings:
    trigger: str = ""
    identity_line: str = ""
    profile: str = "character"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def guess_trigger(workspace) -> str:
    """The trigger a kohya folder name implies (``10_l3yla`` -> ``l3yla``), else ""."""
    names = {item.path.parent.name for item in workspace.items[:200]}
    names.add(workspace.root.name)
    for name in sorted(names):
        m = _KOHYA.match(name)
        if m and " " not in m.group(1):
            return m.group(1)
    return ""


def load_settings(workspace) -> CaptionSettings:
    raw = workspace.cache_get(SETTINGS_NS, SETTINGS_KEY) or {}
    if not isinstance(raw, dict):
        raw = {}
    known = {k: str(v) for k, v in raw.items() if k in CaptionSettings.__dataclass_fields__}
    s = CaptionSettings(**known)
    if not s.trigger:
        s = CaptionSettings(guess_trigger(workspace), s.identity_line, s.profile)
    return s


def save_settings(workspace, settings: CaptionSettings) -> None:
    old = workspace.cache_get(SETTINGS_NS, SETTINGS_KEY) or {}
    merged = dict(old) if isinstance(old, dict) else {}
    merged.update(settings.to_dict())  # keep keys other panels may have added
    workspace.cache_put(SETTINGS_NS, SETTINGS_KEY, merged)


# -- trigger checker ---------------------------------------------------------------------------
@dataclass(frozen=True)
class TriggerVerdict:
    token: str
    verdict: str  # good / weak / bad
    reasons: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


def check_trigger(token: str) -> TriggerVerdict:
    """The core trigger checker's verdict on ``token``."""
    from curation.captions.trigger import check_trigger as core_check

    r = core_check(token)
    return TriggerVerdict(r.token, r.verdict, list(r.reasons), list(r.suggestions))


# -- lint ----------------------------------------------------------------------------------------
_BUDGETS: dict[tuple, int | None] = {}


def profile_max_words(name: str) -> int | None:
    """The caption word budget of balance profile ``name`` (``captions.max_words`` in its
    YAML, the same value ``likeness lint --profile`` uses); None when it is off (0) or the
    profile cannot be loaded (the lint then has no budget, and the reason is logged).
    Cached per profile file and mtime, so an edited user profile is read again."""
    from curation.balance.profiles import ProfileError, available_profiles, load_profile

    path = available_profiles().get(name)
    try:
        key = (name, str(path), path.stat().st_mtime_ns if path else None)
    except OSError:
        key = (name, str(path), None)
    if key not in _BUDGETS:
        try:
            _BUDGETS[key] = load_profile(name).captions.max_words or None
        except ProfileError as exc:
            log.warning("caption profile %r: %s", name, exc)
            _BUDGETS[key] = None
    return _BUDGETS[key]


def profile_choices() -> list[tuple[str, str]]:
    """(name, title) of every balance profile (bundled and the user's) with its word budget,
    for the dataset settings; a profile that cannot be loaded is left out."""
    from curation.balance.profiles import ProfileError, available_profiles, load_profile

    titles = dict(PROFILES)
    out = []
    for name in available_profiles():
        try:
            p = load_profile(name)
        except ProfileError as exc:
            log.warning("caption profile %r: %s", name, exc)
            continue
        budget = p.captions.max_words
        words = f"captions up to {budget} words" if budget else "no caption word budget"
        out.append((name, f"{titles.get(name, p.title or name)} ({words})"))
    return out


def _fix(fix: Any) -> Fix | None:
    if fix is None:
        return None
    label = fix.label or (f"replace with “{fix.replacement}”" if fix.replacement else "remove it")
    return Fix(label, int(fix.start), int(fix.end), str(fix.replacement))


def _severity(value: Any) -> str:
    return str(getattr(value, "value", value))


def to_mark(issue: Any, rel: str = "") -> Mark:
    """A core ``LintIssue`` as a GUI ``Mark``."""
    return Mark(
        rule=issue.rule,
        severity=_severity(issue.severity),
        message=issue.message,
        start=int(issue.start),
        end=int(issue.end),
        fix=_fix(issue.fix),
        rel=rel,
    )


def lint_config(settings: CaptionSettings):
    """The core's ``LintConfig`` for these settings (vocabulary loaded once, then cached)."""
    from curation.captions.lint import LintConfig

    return LintConfig(
        trigger=settings.trigger,
        identity_line=settings.identity_line or None,
        max_words=profile_max_words(settings.profile),
        vocab=_vocabulary(),
    )


_VOCAB: list = []


def _vocabulary():
    if not _VOCAB:
        from curation.captions.vocabulary import load_vocabulary

        _VOCAB.append(load_vocabulary())
    return _VOCAB[0]


def reload_vocabulary() -> None:
    """Forget the cached vocabulary (after the user edited their lexicon files)."""
    _VOCAB.clear()


@dataclass
class LintReport:
    """Marks per image (caption rules, plus dataset rules placed on each image they name)
    and the dataset findings that name no image."""

    by_rel: dict[str, list[Mark]] = field(default_factory=dict)
    dataset: list[Mark] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # rel -> the ImageFacts used

    def all_marks(self) -> list[Mark]:
        out = [m for marks in self.by_rel.values() for m in marks]
        return out + list(self.dataset)


def _phrase_span(text: str, phrase: str | None) -> tuple[int, int]:
    if not text or not phrase:
        return 0, 0
    m = re.search(rf"(?<![\w-]){re.escape(phrase)}(?![\w-])", text, re.IGNORECASE)
    if m is None:
        at = text.casefold().find(phrase.casefold())
        return (at, at + len(phrase)) if at >= 0 else (0, 0)
    return m.span()


def _dataset_marks(issue: Any, captions: dict[str, str | None]) -> list[Mark]:
    """Place a core ``DatasetIssue`` on every image it names, with a span and a fix."""
    sev, rule, phrase = _severity(issue.severity), issue.rule, issue.phrase
    if not issue.paths:
        return [Mark(rule, sev, issue.message)]
    out = []
    for rel in issue.paths:
        text = captions.get(rel) or ""
        start, end = _phrase_span(text, phrase)
        fix = None
        if rule == "identity-leak" and end > start:
            fix = Fix(f"remove “{text[start:end]}”", start, end, "")
        elif rule == "untagged-recurring" and phrase and text and end == start:
            fix = Fix(f"add “{phrase}”", len(text), len(text), f", {phrase}")
        out.append(Mark(rule, sev, issue.message, start, end, fix, rel))
    return out


def lint_dataset(
    captions: dict[str, str | None], settings: CaptionSettings, facts: dict | None = None
) -> LintReport:
    """Every rule over ``captions`` (rel -> text, None when the image has no caption file)."""
    from curation.captions.lint import ImageFacts
    from curation.captions.rules.dataset_rules import run_dataset_rules

    config = lint_config(settings)
    key = (settings.trigger, settings.identity_line, config.max_words, id(config.vocab))
    facts = facts or {}
    none = ImageFacts()
    # the core's lint_dataset, with the per-caption half cached by (settings, text, facts):
    # after one edit only that caption is re-linted, then the dataset rules run over all
    per = {
        rel: _caption_issues(key, text, config, facts.get(rel) or none)
        for rel, text in captions.items()
    }
    dataset = run_dataset_rules(captions, config, facts, per)
    report = LintReport()
    for rel, issues in per.items():
        issues.sort(key=lambda i: (i.start, i.end, i.rule))
        report.by_rel[rel] = [to_mark(i, rel) for i in issues]
    for issue in dataset:
        # the core places most dataset findings on each caption (with spans and fixes);
        # only the images it did not place them on get a mark here
        todo = [
            p
            for p in issue.paths
            if not any(m.rule == issue.rule for m in report.by_rel.get(p, ()))
        ]
        if issue.paths and not todo:
            continue
        placed = dataclass_replace(issue, paths=tuple(todo)) if issue.paths else issue
        for mark in _dataset_marks(placed, captions):
            if mark.rel:
                report.by_rel.setdefault(mark.rel, []).append(mark)
            else:
                report.dataset.append(mark)
    return report


_ISSUES: dict[tuple, tuple] = {}
_ISSUES_MAX = 200_000


def _caption_issues(key: tuple, text: str | None, config, facts) -> list:
    """Per-caption lint issues, memoised (the same caption text lints the same)."""
    from curation.captions.lint import lint_caption as core_lint_caption

    k = (key, text, facts)
    hit = _ISSUES.get(k)
    if hit is None:
        if len(_ISSUES) >= _ISSUES_MAX:
            _ISSUES.clear()
        hit = _ISSUES[k] = tuple(core_lint_caption(text, config, facts))
    return list(hit)


def lint_caption(text: str | None, settings: CaptionSettings, facts: Any = None) -> list[Mark]:
    """The per-caption rules on one caption (the editor's live underlines)."""
    from curation.captions.lint import lint_caption as core_lint_caption

    return [to_mark(i) for i in core_lint_caption(text, lint_config(settings), facts)]


def rule_info() -> dict[str, str]:
    """Rule id -> one-line description (for the lint panel's group headers)."""
    try:
        from curation.captions.lint import rules

        return {k: v.description for k, v in rules().items()}
    except Exception:  # noqa: BLE001 - descriptions are decoration
        return {}


def caption_rules() -> frozenset[str]:
    """Rules the per-caption lint decides alone; the others need the whole dataset."""
    try:
        from curation.captions.lint import rules

        return frozenset(k for k, v in rules().items() if v.scope == "caption")
    except Exception:  # noqa: BLE001
        return frozenset()


# -- autocaption -------------------------------------------------------------------------------
class AutocaptionError(Exception):
    """The run could not start or load its model; the message says what to do."""


@dataclass
class AutocaptionRequest:
    rels: list[str]
    settings: CaptionSettings
    model: str = "base"  # base / large / a local folder
    task: str = "<MORE_DETAILED_CAPTION>"
    mode: str = "suggest"  # fill / replace / suggest
    device: str = "auto"
    batch_size: int = 4
    detect_objects: bool = False
    shots: dict[str, str] = field(default_factory=dict)


def image_facts(workspace, analysis: dict[str, Any] | None = None) -> dict:
    """Per-image ``ImageFacts`` for the lint, from the core's helpers: the user's overrides
    and the objects the autocaptioner saw, overlaid with the face analysis (shot tier, pose,
    confirmed back views; a back-view *candidate* is not one) when the faces panel has run."""
    from types import SimpleNamespace

    from curation.captions.facts import facts_from_analysis, facts_from_workspace, merge_facts

    try:
        facts = facts_from_workspace(workspace)
    except Exception as exc:  # noqa: BLE001 - optional inputs to two rules
        log.debug("no workspace facts: %s", exc)
        facts = {}
    if analysis:
        measured = facts_from_analysis(SimpleNamespace(images=list(analysis.values())))
        facts = merge_facts(facts, measured)  # the user's overrides win over the measurement
    return facts


def make_captioner(request: AutocaptionRequest):
    from curation.captioners.florence2 import Florence2Captioner

    return Florence2Captioner(request.model, device=request.device)


def run_autocaption(
    workspace, request: AutocaptionRequest, *, on_progress, cancel, captioner=None
) -> list:
    """Load the captioner, caption ``request.rels``, clean every output; nothing is written
    (the raw outputs are kept in the workspace history). Returns review ``Suggestion``s.
    Raises :class:`AutocaptionError` when the model cannot load; runs off the GUI thread."""
    from curation.captioners import CaptionerError
    from curation.captioners import autocaption as flow
    from curation.jobs import Cancelled

    total = len(request.rels)
    own = captioner is None
    captioner = captioner or make_captioner(request)

    def loading(done: int, size: int, message: str) -> None:
        if message.startswith("downloading") and size:
            message = f"{message}: {done / 1e6:.0f} / {size / 1e6:.0f} MB"
        on_progress(0, total, message)

    try:
        try:
            captioner.load(on_progress=loading, cancel=cancel)
        except Cancelled:
            return []
        except CaptionerError as exc:
            raise AutocaptionError(str(exc)) from exc
        except ImportError as exc:
            raise AutocaptionError(f"Florence-2 needs torch and transformers: {exc}") from exc
        try:
            result = flow.run_autocaption(
                workspace,
                captioner,
                trigger=request.settings.trigger,
                identity_line=request.settings.identity_line or None,
                mode=request.mode,
                task=request.task,
                selection=request.rels,
                shots=request.shots,
                detect_objects=request.detect_objects,
                batch_size=request.batch_size,
                write=False,
                on_progress=on_progress,
                cancel=cancel,
            )
        except (flow.AutocaptionError, CaptionerError) as exc:
            raise AutocaptionError(str(exc)) from exc
    finally:
        if own:
            captioner.unload()
    out = []
    for sug in result.suggestions:
        if sug.error == "cancelled":
            continue
        out.append(to_review(workspace, sug))
    return out


def to_review(workspace, sug):
    """A core autocaption ``Suggestion`` as the review screen's ``Suggestion``."""
    from desktop.panels.captions.review_screen import Suggestion

    return Suggestion(
        rel=sug.rel,
        path=workspace.item(sug.rel).path,
        raw=sug.raw,
        cleaned=sug.cleaned,
        removed=[(r["phrase"], r["reason"]) for r in sug.removed],
        error=sug.error or "",
        source=sug,
    )


def pending_suggestions(workspace) -> list:
    """Suggestions a "suggest" run stored in the workspace, still to review."""
    from curation.captioners import autocaption as flow

    return [to_review(workspace, s) for s in flow.pending_suggestions(workspace)]


def discard_suggestions(workspace, rels: list[str]) -> None:
    from curation.captioners import autocaption as flow

    flow.discard_suggestions(workspace, rels)


def accept_suggestions(session, suggestions: list, label: str, mode: str = "replace"):
    """Write reviewed suggestions (with the user's edits) as ONE undo step through the core
    flow (which marks the raw outputs accepted), then tell the session."""
    from curation.captioners import autocaption as flow
    from desktop.panels.captions.common import notify_session

    ws = session.workspace
    if ws is None or not suggestions:
        return None
    chosen = []
    for s in suggestions:
        core = s.source or flow.Suggestion(s.rel, s.raw, s.cleaned, None)
        chosen.append(
            flow.Suggestion(
                core.rel,
                core.raw,
                s.proposal.strip(),
                core.current,
                core.removed,
                core.objects,
                core.model,
                core.task,
            )
        )
    result = flow.accept(ws, chosen, mode=mode, label=label)
    notify_session(session, result)
    return result
