"""``likeness lint``, ``clean-caption``, ``check-trigger``, ``autocaption``.

Exit codes: ``lint`` 0 clean, 1 findings (an error or a warning, on a caption or on the
dataset; ``--fail-on error`` counts errors only, ``--fail-on info`` counts notes too), 2
unusable input (no such folder, bad arguments, unknown rule, unreadable lexicon or profile).
``check-trigger`` 0 for good, 1 for weak or bad. ``autocaption`` 0 done, 1 some images
failed, 2 unusable folder / model not available / bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from desktop.cli.common import (
    Progress,
    add_json_and_recursive,
    err,
    open_workspace,
    report_file_problems,
)

EXIT_OK, EXIT_ISSUES, EXIT_UNUSABLE = 0, 1, 2


def register(subparsers: Any) -> None:
    lint = subparsers.add_parser(
        "lint",
        help="check every caption against the caption rules",
        description="Lint the captions of DIR: trigger first and identical, no identity "
        "descriptors, no identity leaks, no vague outfits, duplicates, untagged recurring "
        "objects, one line per caption. With --fix RULE, every fix of that rule is applied "
        "(one undo step: likeness undo DIR) and the captions are linted again.",
        epilog="exit status: 0 clean, 1 findings (errors or warnings; see --fail-on), "
        "2 unusable input (no such folder, bad arguments, unknown rule, bad lexicon/profile)",
    )
    lint.add_argument("dir", metavar="DIR")
    lint.add_argument("--trigger", required=True, help="the dataset's trigger token")
    lint.add_argument("--identity-line", default=None, help="the declared identity line")
    lint.add_argument(
        "--profile",
        default=None,
        metavar="PROFILE",
        help="balance profile: character, face or a YAML file; sets the word budget and the "
        "shot tiers (default: the profile saved in the app's dataset settings, else character)",
    )
    lint.add_argument(
        "--max-words",
        type=int,
        default=None,
        help="word budget per caption, overriding the profile's (0 turns it off)",
    )
    lint.add_argument(
        "--disable", action="append", default=[], metavar="RULE", help="skip a rule id"
    )
    lint.add_argument(
        "--fail-on",
        choices=["error", "warning", "info"],
        default="warning",
        help="lowest severity that makes the exit status 1 (default: warning)",
    )
    lint.add_argument(
        "--fix",
        action="append",
        default=[],
        metavar="RULE",
        help="apply every fix of RULE to every caption (repeatable; one undo step), then lint",
    )
    add_json_and_recursive(lint)
    lint.set_defaults(func=cmd_lint)

    clean = subparsers.add_parser(
        "clean-caption",
        help="strip identity from a caption and format it as one structured line",
        description="Clean TEXT (a Florence-2 caption, a tag list or a human caption).",
    )
    clean.add_argument("text", metavar="TEXT")
    clean.add_argument("--trigger", required=True)
    clean.add_argument("--shot", choices=["close-up", "medium", "full-body"], default=None)
    clean.add_argument("--identity-line", default=None)
    clean.add_argument("--json", action="store_true", help="print one JSON object")
    clean.set_defaults(func=cmd_clean)

    trig = subparsers.add_parser(
        "check-trigger",
        help="judge a trigger token (real word? name? length? tokens?)",
        description="Check TOKEN: verdict good, weak or bad, reasons and suggestions.",
    )
    trig.add_argument("token", metavar="TOKEN")
    trig.add_argument("--json", action="store_true", help="print one JSON object")
    trig.set_defaults(func=cmd_check_trigger)

    auto = subparsers.add_parser(
        "autocaption",
        help="caption images with Florence-2, identity stripped",
        description="Caption DIR with Florence-2, clean each caption (identity stripped, "
        "structured line). fill: only uncaptioned images are written; replace: every "
        "image is rewritten; suggest: nothing is written, suggestions are stored in the "
        "dataset's state for review in the app (and written to --out as JSON if given). "
        "Every run is one undo step (likeness undo DIR).",
    )
    auto.add_argument("dir", metavar="DIR")
    auto.add_argument("--trigger", required=True)
    auto.add_argument("--identity-line", default=None)
    auto.add_argument("--model", default="base", help="base, large, a repo id or a folder")
    auto.add_argument(
        "--task",
        default="<MORE_DETAILED_CAPTION>",
        choices=["<CAPTION>", "<DETAILED_CAPTION>", "<MORE_DETAILED_CAPTION>"],
    )
    auto.add_argument("--mode", default="fill", choices=["fill", "replace", "suggest"])
    auto.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    auto.add_argument("--batch-size", type=int, default=8)
    auto.add_argument("--beams", type=int, default=3, help="beam search width (1 = fastest)")
    auto.add_argument("--max-tokens", type=int, default=256, help="longest caption in tokens")
    auto.add_argument("--objects", action="store_true", help="also run <OD> (feeds the lint)")
    auto.add_argument("--only", action="append", default=None, metavar="REL", help="one image")
    auto.add_argument("--out", default=None, metavar="FILE", help="write suggestions as JSON")
    add_json_and_recursive(auto)
    auto.set_defaults(func=cmd_autocaption)


def _lint_profile(ws, name: str | None) -> str | None:
    """The ``--profile`` given, else the one the app stored in the dataset settings; None
    (after printing why) when it cannot be loaded."""
    from curation.balance.profiles import ProfileError, load_profile

    if name is None:
        name = ws.settings().profile
    try:
        load_profile(name)
    except ProfileError as exc:
        err(str(exc))
        return None
    return name


def cmd_lint(args: argparse.Namespace) -> int:
    from curation.captions.lint import Severity, rules
    from curation.captions.vocabulary import VocabularyError, load_vocabulary
    from curation.captions.workspace_lint import LintMemo, lint_config, lint_workspace
    from curation.dataset_settings import DatasetSettings

    unknown = [r for r in args.disable + args.fix if r not in rules()]
    if unknown:
        err(f"unknown rule id(s) {unknown}; known: {', '.join(rules())}")
        return EXIT_UNUSABLE
    try:
        memo = LintMemo(load_vocabulary())
    except VocabularyError as exc:
        err(str(exc))
        return EXIT_UNUSABLE
    ws = open_workspace(args.dir, args.recursive, create=bool(args.fix))
    if ws is None:
        return EXIT_UNUSABLE
    report_file_problems(ws)
    fixed: dict[str, str] = {}
    with ws:
        profile = _lint_profile(ws, args.profile)
        if profile is None:
            return EXIT_UNUSABLE
        settings = DatasetSettings(args.trigger, args.identity_line or "", profile)
        max_words = -1 if args.max_words is None else args.max_words
        disabled = frozenset(args.disable)
        # the cached face analysis, if any (no detection); the same lint as the GUI's
        report = lint_workspace(ws, settings, max_words=max_words, disabled=disabled, memo=memo)
        if args.fix:
            config = lint_config(settings, memo, max_words=max_words, disabled=disabled)
            fixed = _apply_fix_all(ws, report, config, args.fix)
            if fixed:  # lint once more, after the fixes
                report = lint_workspace(
                    ws, settings, max_words=max_words, disabled=disabled, memo=memo
                )
    order = [Severity.ERROR, Severity.WARNING, Severity.INFO]
    failing = order[: order.index(Severity(args.fail_on)) + 1]
    has_findings = any(i.severity in failing for _, i in report.issues()) or any(
        d.severity in failing for d in report.dataset
    )
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        for path, issues in report.captions.items():
            for i in issues:
                print(f"{path}:{i.start}-{i.end}: {i.severity.value} [{i.rule}] {i.message}")
        for d in report.dataset:
            print(f"dataset: {d.severity.value} [{d.rule}] {d.message}")
        n = report.count()
        if args.fix:
            print(f"fixed {len(fixed)} captions ({', '.join(args.fix)}); undo: likeness undo")
        print(f"{len(report.captions)} captions, {n} issues, {len(report.dataset)} dataset issues")
    return EXIT_ISSUES if has_findings else EXIT_OK


def _apply_fix_all(ws, report, config, rules_to_fix) -> dict[str, str]:
    """Every fix of each rule in ``rules_to_fix`` (the core ``fixes_for_rule``, the same the
    GUI's "Fix all" uses), written as ONE undo step. Returns {rel: new text} written."""
    from curation.captions.lint import fixes_for_rule, lint_dataset

    current = {rel: (ws.caption(rel) if ws.has_caption(rel) else None) for rel in report.captions}
    changes: dict[str, str] = {}
    for i, rule in enumerate(rules_to_fix):
        if i:  # the previous rule changed captions: its spans are stale
            report = lint_dataset(current, config, report.facts)
        new = fixes_for_rule(current, report, rule, config)
        current.update(new)
        changes.update(new)
    if not changes:
        return {}
    result = ws.apply_changes(changes, origin="bulk", label=f"fix all: {', '.join(rules_to_fix)}")
    for item in result.pending + result.skipped:
        err(f"{item.path}: {item.error}")
    failed = {item.path for item in result.pending + result.skipped}
    return {rel: text for rel, text in changes.items() if rel not in failed}


def cmd_clean(args: argparse.Namespace) -> int:
    from curation.captions import clean_caption
    from curation.captions.formatter import CaptionFormatError

    try:
        result = clean_caption(args.text, args.trigger, args.shot, args.identity_line)
    except CaptionFormatError as exc:
        err(str(exc))
        return EXIT_UNUSABLE
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
    else:
        print(result.text)
        for r in result.removed:
            print(f"  removed '{r.phrase}': {r.reason}", file=sys.stderr)
    return EXIT_OK


def cmd_check_trigger(args: argparse.Namespace) -> int:
    from curation.captions.trigger import check_trigger

    report = check_trigger(args.token)
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False))
    else:
        print(f"{report.token}: {report.verdict}")
        for reason in report.reasons:
            print(f"  - {reason}")
        if report.suggestions:
            print(f"  try: {', '.join(report.suggestions)}")
    return EXIT_OK if report.verdict == "good" else EXIT_ISSUES


def cmd_autocaption(args: argparse.Namespace) -> int:
    from curation.captioners.autocaption import AutocaptionError, run_autocaption
    from curation.captioners.base import CaptionerError
    from curation.captioners.florence2 import Florence2Captioner
    from curation.jobs import Cancelled, CancelToken

    ws = open_workspace(args.dir, args.recursive, create=True)
    if ws is None:
        return EXIT_UNUSABLE
    cancel = CancelToken()
    progress = Progress("autocaption")
    captioner = Florence2Captioner(
        args.model, device=args.device, num_beams=args.beams, max_new_tokens=args.max_tokens
    )
    try:
        with ws:
            try:
                captioner.load(on_progress=progress, cancel=cancel)
                result = run_autocaption(
                    ws,
                    captioner,
                    trigger=args.trigger,
                    identity_line=args.identity_line,
                    mode=args.mode,
                    task=args.task,
                    selection=args.only,
                    detect_objects=args.objects,
                    batch_size=args.batch_size,
                    write=args.mode != "suggest",
                    on_progress=progress,
                    cancel=cancel,
                )
            except (CaptionerError, AutocaptionError, KeyError) as exc:
                err(str(exc).strip("'\""))
                return EXIT_UNUSABLE
            except (KeyboardInterrupt, Cancelled):
                err("cancelled")
                return EXIT_ISSUES
    finally:
        progress.close()
        captioner.unload()
    payload = {
        "mode": args.mode,
        "written": result.written,
        "skipped": result.skipped,
        "undo": result.step_label,
        "suggestions": [s.to_dict() for s in result.suggestions],
    }
    if args.out:
        from curation.fsio import write_atomic_text

        try:
            write_atomic_text(args.out, json.dumps(payload, ensure_ascii=False, indent=1))
        except OSError as exc:
            err(f"cannot write {args.out}: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(payload, ensure_ascii=False))
    else:
        for s in result.suggestions:
            print(f"{s.rel}: {'ERROR ' + s.error if s.error else s.cleaned}")
        print(
            f"{len(result.written)} written, {len(result.skipped)} skipped (already captioned), "
            f"{len(result.errors)} failed" + ("" if args.mode != "suggest" else "; nothing written")
        )
    return EXIT_ISSUES if result.errors else EXIT_OK
