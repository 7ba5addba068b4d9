""" "Lint this workspace": THE entry point of the CLI (``likeness lint``), ``--headless`` and
the GUI, so the three see the same findings for the same dataset.

It gathers what the rules need from the workspace: the captions of the images that are not
excluded (excluded images are not trained, so not linted), the dataset settings (trigger,
identity line, profile and its word budget), the vocabulary, and the per-image facts (the
user's overrides and the autocaptioner's detections laid over the face analysis: the one
just run, or the cached one, read without detection). A :class:`LintMemo` kept by a caller
that lints often (the GUI, after every edit) re-lints only the captions that changed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from curation.captions.facts import facts_from_analysis, facts_from_workspace, merge_facts
from curation.captions.issues import DatasetReport, ImageFacts, LintConfig, LintIssue
from curation.captions.rules import run_caption_rules
from curation.captions.rules.dataset_rules import run_dataset_rules
from curation.captions.vocabulary import Vocabulary, load_vocabulary
from curation.dataset_settings import DatasetSettings

if TYPE_CHECKING:
    from curation.analysis import DatasetAnalysis, ImageAnalysis
    from curation.workspace import Workspace

    #: a run's ``DatasetAnalysis``, or rel -> ``ImageAnalysis`` (the GUI's, maybe partial)
    Analysis = DatasetAnalysis | Mapping[str, ImageAnalysis]

log = logging.getLogger(__name__)

PROFILE_TITLES = {"character": "Character LoRA", "face": "Face LoRA (short captions)"}
_MEMO_MAX = 200_000


class LintMemo:
    """What repeated lints of one workspace can reuse: the vocabulary (loaded once), each
    profile's word budget (read again when its file changes), the cached face analysis
    (read once), and the per-caption issues by (config, text, facts). Thread-safe."""

    def __init__(self, vocab: Vocabulary | None = None) -> None:
        self._lock = threading.Lock()
        self._vocab = vocab
        self._budgets: dict[tuple[str, str, int | None], int | None] = {}
        self._issues: dict[tuple, tuple[LintIssue, ...]] = {}
        self._cached: dict[str, DatasetAnalysis | None] = {}
        self.cached_reads = 0

    def vocabulary(self) -> Vocabulary:
        with self._lock:
            if self._vocab is None:
                self._vocab = load_vocabulary()
            return self._vocab

    def forget_workspace(self) -> None:
        """Drop what belongs to one workspace (its cached analysis; the issues are keyed by
        text and kept), when another dataset opens."""
        with self._lock:
            self._cached.clear()

    def reload_vocabulary(self) -> None:
        """Forget the vocabulary (after the user edited their lexicon files)."""
        with self._lock:
            self._vocab = None
            self._issues.clear()

    def max_words(self, profile: str) -> int | None:
        """The caption word budget of balance profile ``profile`` (``captions.max_words``);
        None when it is off (0) or the profile cannot be loaded (logged)."""
        from curation.balance.profiles import ProfileError, available_profiles, load_profile

        path = available_profiles().get(profile) or Path(profile)
        try:
            key = (profile, str(path), path.stat().st_mtime_ns)
        except OSError:
            key = (profile, str(path), None)
        with self._lock:
            if key in self._budgets:
                return self._budgets[key]
        try:
            budget = load_profile(profile).captions.max_words or None
        except ProfileError as exc:
            log.warning("caption profile %r: %s", profile, exc)
            budget = None
        with self._lock:
            self._budgets[key] = budget
        return budget

    def cached_analysis(self, workspace: Workspace, profile: str) -> DatasetAnalysis | None:
        """The workspace's cached face analysis (no detection), read once per profile."""
        with self._lock:
            if profile not in self._cached:
                from curation.analysis.cached import cached_analysis

                self.cached_reads += 1
                try:
                    self._cached[profile] = cached_analysis(workspace, profile)
                except Exception as exc:  # noqa: BLE001 - a profile that cannot load
                    log.info("no cached face analysis: %s", exc)
                    self._cached[profile] = None
            return self._cached[profile]

    def caption_issues(
        self, text: str | None, config: LintConfig, facts: ImageFacts
    ) -> list[LintIssue]:
        """The per-caption issues of ``text``, memoised (a fresh list each call: the dataset
        rules append to it)."""
        key = (_config_key(config), text, facts)
        hit = self._issues.get(key)
        if hit is None:
            hit = tuple(run_caption_rules(text, config, facts))
            with self._lock:
                if len(self._issues) >= _MEMO_MAX:
                    self._issues.clear()
                self._issues[key] = hit
        return list(hit)


def _config_key(config: LintConfig) -> tuple:
    return (
        config.trigger,
        config.identity_line,
        config.max_words,
        id(config.vocab),
        config.disabled,
    )


def lint_config(
    settings: DatasetSettings,
    memo: LintMemo | None = None,
    *,
    max_words: int | None = -1,
    disabled: frozenset[str] = frozenset(),
) -> LintConfig:
    """The lint's config for ``settings``: its profile's word budget unless ``max_words``
    overrides it (0: no budget; -1, the default: the profile's)."""
    memo = memo or LintMemo()
    budget = memo.max_words(settings.profile) if max_words == -1 else (max_words or None)
    return LintConfig(
        trigger=settings.trigger,
        identity_line=settings.identity_line or None,
        max_words=budget,
        vocab=memo.vocabulary(),
        disabled=disabled,
    )


def workspace_captions(workspace: Workspace) -> dict[str, str | None]:
    """rel -> caption (None: no caption file) of every image that is not excluded."""
    excluded = workspace.excluded()
    return {
        item.rel: (workspace.caption(item.rel) if workspace.has_caption(item.rel) else None)
        for item in workspace.items
        if item.rel not in excluded
    }


def workspace_facts(
    workspace: Workspace,
    profile: str,
    analysis: Analysis | None = None,
    *,
    complete: bool = True,
    memo: LintMemo | None = None,
) -> dict[str, ImageFacts]:
    """The lint's per-image facts. ``analysis``: a ``DatasetAnalysis`` or a mapping rel ->
    ``ImageAnalysis`` (the GUI's, maybe partial); None: the cached analysis. ``complete``
    False lays a partial ``analysis`` over the cached one (a run still going)."""
    memo = memo or LintMemo()
    try:
        user = facts_from_workspace(workspace)
    except Exception as exc:  # noqa: BLE001 - optional inputs to two rules
        log.debug("no workspace facts: %s", exc)
        user = {}
    if analysis is None:
        cached = memo.cached_analysis(workspace, profile)
        return merge_facts(user, facts_from_analysis(cached)) if cached is not None else user
    images = list(analysis.values()) if isinstance(analysis, Mapping) else list(analysis.images)
    if not complete:
        cached = memo.cached_analysis(workspace, profile)
        fresh = {img.rel for img in images}
        older = [img for img in (cached.images if cached else []) if img.rel not in fresh]
        images = older + images
    return merge_facts(user, facts_from_analysis(_Images(images)))


class _Images:
    """A ``DatasetAnalysis``-shaped holder of ``images`` (what ``facts_from_analysis`` reads)."""

    def __init__(self, images: list[ImageAnalysis]) -> None:
        self.images = images


def lint_workspace(
    workspace: Workspace,
    settings: DatasetSettings | None = None,
    *,
    analysis: Analysis | None = None,
    analysis_complete: bool = True,
    max_words: int | None = -1,
    disabled: frozenset[str] = frozenset(),
    memo: LintMemo | None = None,
    captions: Mapping[str, str | None] | None = None,
) -> DatasetReport:
    """Every rule over the workspace's captions. ``settings``: None reads the stored ones;
    ``analysis``, ``analysis_complete``: see :func:`workspace_facts`; ``max_words``: see
    :func:`lint_config`; ``captions``: a snapshot taken by the caller (the GUI takes it on
    its own thread), else read here. The report's ``facts`` are the facts used."""
    memo = memo or LintMemo()
    chosen: DatasetSettings = settings if settings is not None else workspace.settings()
    config = lint_config(chosen, memo, max_words=max_words, disabled=disabled)
    captions = dict(captions) if captions is not None else workspace_captions(workspace)
    facts = workspace_facts(
        workspace, chosen.profile, analysis, complete=analysis_complete, memo=memo
    )
    none = ImageFacts()
    per = {
        rel: memo.caption_issues(text, config, facts.get(rel) or none)
        for rel, text in captions.items()
    }
    dataset = run_dataset_rules(captions, config, facts, per)
    for issues in per.values():
        issues.sort(key=lambda i: (i.start, i.end, i.rule))
    return DatasetReport(per, dataset, facts)


def profile_choices() -> list[tuple[str, str]]:
    """(name, title) of every balance profile (bundled and the user's) with its word budget,
    for the dataset settings; a profile that cannot be loaded is left out (logged)."""
    from curation.balance.profiles import ProfileError, available_profiles, load_profile

    out = []
    for name in available_profiles():
        try:
            p = load_profile(name)
        except ProfileError as exc:
            log.warning("caption profile %r: %s", name, exc)
            continue
        budget = p.captions.max_words
        words = f"captions up to {budget} words" if budget else "no caption word budget"
        out.append((name, f"{PROFILE_TITLES.get(name, p.title or name)} ({words})"))
    return out
