"""``likeness scan``, ``replace``, ``bulk``, ``undo``, ``redo``: the dataset core from the shell.

Exit codes: 0 done (even when some files are bad: they are listed), 1 partly done (a caption
could not be written and is kept pending; nothing to undo/redo), 2 unusable folder or
invalid arguments (message on stderr).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
from collections.abc import Callable
from typing import Any

from desktop.cli.common import (
    Progress,
    add_json_and_recursive,
    err,
    open_workspace,
    report_file_problems,
)

EXIT_OK, EXIT_PARTIAL, EXIT_UNUSABLE = 0, 1, 2


def register(subparsers: Any) -> None:
    scan = subparsers.add_parser(
        "scan",
        help="count images and captions in a dataset folder and list unreadable files",
        description="Scan DIR: counts images, captioned, uncaptioned and excluded images and "
        "probes every image for errors (truncated, not an image, too large). Writes nothing.",
    )
    scan.add_argument("dir", metavar="DIR")
    scan.add_argument("--json", action="store_true", help="print one JSON object")
    scan.add_argument(
        "--no-recursive", dest="recursive", action="store_false", help="do not enter subfolders"
    )
    scan.add_argument(
        "--max-megapixels",
        type=float,
        default=None,
        metavar="MP",
        help="decompression-bomb limit (default 150)",
    )
    scan.add_argument(
        "--thorough",
        action="store_true",
        help="decode every image to find corruption inside files too (slower; by default "
        "JPEGs are checked for truncation from their end marker and PNGs by chunk checksums)",
    )
    scan.set_defaults(func=cmd_scan)

    rep = subparsers.add_parser(
        "replace",
        help="find and replace in every caption (one undo step)",
        description="Replace FIND with REPLACE in every caption of DIR as one undoable step.",
    )
    rep.add_argument("dir", metavar="DIR")
    rep.add_argument("find", metavar="FIND")
    rep.add_argument("replace", metavar="REPLACE")
    rep.add_argument("--regex", action="store_true", help="FIND is a Python regular expression")
    rep.add_argument("--whole-word", action="store_true", help="match whole words only")
    rep.add_argument("--ignore-case", action="store_true", help="case-insensitive match")
    rep.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
    add_json_and_recursive(rep)
    rep.set_defaults(func=cmd_replace)

    blk = subparsers.add_parser(
        "bulk",
        help="prepend / append / rename the trigger / remove duplicate phrases (one undo step)",
        description="Bulk caption edits on every caption of DIR, as one undoable step.",
    )
    blk_sub = blk.add_subparsers(dest="bulk_op", metavar="OPERATION", required=True)
    ops = {
        "prepend": ("put TEXT first in every caption (skips captions that start with it)",),
        "append": ("put TEXT last in every caption (skips captions that end with it)",),
        "rename-trigger": ("rename the trigger token OLD to NEW (whole words only)",),
        "dedupe": ("remove repeated comma-separated phrases (case-insensitive)",),
    }
    for op, (helptext,) in ops.items():
        p = blk_sub.add_parser(op, help=helptext, description=helptext)
        p.add_argument("dir", metavar="DIR")
        if op in ("prepend", "append"):
            p.add_argument("text", metavar="TEXT")
            p.add_argument(
                "--include-uncaptioned",
                action="store_true",
                help="also create captions (holding just TEXT) for images that have none",
            )
        elif op == "rename-trigger":
            p.add_argument("old", metavar="OLD")
            p.add_argument("new", metavar="NEW")
        p.add_argument("--dry-run", action="store_true", help="show the changes, write nothing")
        add_json_and_recursive(p)
        p.set_defaults(func=cmd_bulk)

    for name, helptext in (("undo", "undo the last caption edit"), ("redo", "redo it again")):
        p = subparsers.add_parser(
            name, help=helptext, description=f"{helptext.capitalize()} in DIR."
        )
        p.add_argument("dir", metavar="DIR")
        add_json_and_recursive(p)
        p.set_defaults(func=cmd_undo if name == "undo" else cmd_redo)


EXIT_INTERRUPTED = 130


def _interruptible(fn: Callable[..., int]) -> Callable[..., int]:
    """Ctrl+C: a short message instead of a traceback. Caption writes are atomic and
    journaled, so an interrupted edit is reconciled by the next command that opens DIR."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        from curation.writer_lock import WriterBusyError

        try:
            return fn(*args, **kwargs)
        except WriterBusyError as exc:  # another window or command kept on saving
            err(str(exc))
            return EXIT_PARTIAL
        except KeyboardInterrupt:
            err(
                "interrupted; every caption is either old or new, and the next command on "
                "this folder tidies up the undo history"
            )
            return EXIT_INTERRUPTED

    return wrapper


@_interruptible
def cmd_scan(args: argparse.Namespace) -> int:
    ws = open_workspace(args.dir, args.recursive, create=False, scan_progress=True)
    if ws is None:
        return EXIT_UNUSABLE
    with ws:
        items = ws.items
        progress = Progress("checking images")
        limit = None if args.max_megapixels is None else int(args.max_megapixels * 1e6)
        try:
            results = ws.probe_all(max_pixels=limit, on_progress=progress, thorough=args.thorough)
        finally:
            progress.close()
        errors = [{"path": r.path, "error": r.error} for r in ws.scan.errors]
        errors += [{"path": r.path, "error": r.error} for r in results if r.error]
        warnings = [{"path": w.path, "warning": w.error} for w in ws.scan.warnings]
        warnings += [{"path": rel, "warning": w} for rel, w in sorted(ws.caption_warnings.items())]
        captioned = sum(1 for i in items if ws.has_caption(i.rel))
        folders: dict[str, dict[str, int]] = {}
        for item in items:
            entry = folders.setdefault(
                item.rel.rpartition("/")[0] or ".", {"images": 0, "repeats": item.repeats}
            )
            entry["images"] += 1
        summary = {
            "root": str(ws.root),
            "images": len(items),
            "captioned": captioned,
            "uncaptioned": len(items) - captioned,
            "excluded": len(ws.excluded()),
            "folders": [{"path": k, **v} for k, v in folders.items()],
            "errors": errors,
            "warnings": warnings,
            "pending": [{"path": rel, "error": e} for rel, e in sorted(ws.pending().items())],
        }
    if args.json:
        print(json.dumps(summary, ensure_ascii=False))
        return EXIT_OK
    print(
        f"{summary['root']}: {summary['images']} images, {captioned} captioned, "
        f"{summary['uncaptioned']} uncaptioned, {summary['excluded']} excluded"
    )
    if len(folders) > 1 or any(f["repeats"] != 1 for f in folders.values()):
        for path, f in folders.items():
            print(f"  {path}: {f['images']} images x {f['repeats']} repeats")
    for title, rows, key in (("errors", errors, "error"), ("warnings", warnings, "warning")):
        if rows:
            print(f"{title} ({len(rows)}):")
            for row in rows:
                print(f"  {row['path']}: {row[key]}")
    return EXIT_OK


@_interruptible
def cmd_replace(args: argparse.Namespace) -> int:
    from curation.bulk import plan_replace

    return _run_bulk(
        args,
        lambda caps: plan_replace(
            caps,
            args.find,
            args.replace,
            regex=args.regex,
            whole_word=args.whole_word,
            case_sensitive=not args.ignore_case,
        ),
        f"replace {args.find!r}",
    )


@_interruptible
def cmd_bulk(args: argparse.Namespace) -> int:
    from curation import bulk

    op = args.bulk_op
    if op == "prepend":
        return _run_bulk(args, lambda c: bulk.plan_prepend(c, args.text), f"prepend {args.text!r}")
    if op == "append":
        return _run_bulk(args, lambda c: bulk.plan_append(c, args.text), f"append {args.text!r}")
    if op == "rename-trigger":
        return _run_bulk(
            args,
            lambda c: bulk.plan_rename_trigger(c, args.old, args.new),
            f"rename trigger {args.old!r} to {args.new!r}",
        )
    return _run_bulk(args, bulk.plan_dedupe_phrases, "remove duplicate phrases")


def _run_bulk(args: argparse.Namespace, plan: Callable[[dict], list], label: str) -> int:
    """Plan on every caption, show the preview (--dry-run) or apply as one undo step."""
    from curation.bulk import format_diff
    from curation.errors import BulkEditError

    ws = open_workspace(args.dir, args.recursive, create=not args.dry_run, scan_progress=True)
    if ws is None:
        return EXIT_UNUSABLE
    report_file_problems(ws)
    with ws, contextlib.nullcontext() if args.dry_run else ws.writing():
        # planned and applied under the dataset's writer lock: another window or command
        # editing the same folder waits, so this edit applies to what is on disk now
        # never create caption files unless asked
        captions = ws.captions(existing_only=not getattr(args, "include_uncaptioned", False))
        try:
            changes = plan(captions)
        except BulkEditError as exc:
            err(str(exc))
            return EXIT_UNUSABLE
        result = None
        if changes and not args.dry_run:
            result = ws.apply_changes(changes, origin="bulk", label=label)
    out = {
        "dry_run": args.dry_run,
        "count": len(changes),
        "changes": [{"path": c.rel, "old": c.old, "new": c.new} for c in changes],
        "written": len(result.written) if result else 0,
        "pending": [{"path": p.path, "error": p.error} for p in result.pending] if result else [],
        "skipped": [{"path": p.path, "error": p.error} for p in result.skipped] if result else [],
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        for c in changes:
            print(f"{c.rel}: {format_diff(c.old, c.new)}")
        verb = "would change" if args.dry_run else "changed"
        print(f"{verb} {len(changes)} caption{'s' if len(changes) != 1 else ''}", file=sys.stderr)
        for p in out["pending"] + out["skipped"]:
            err(f"{p['path']}: {p['error']}")
    return EXIT_PARTIAL if out["pending"] or out["skipped"] else EXIT_OK


@_interruptible
def _undo_redo(args: argparse.Namespace, undo: bool) -> int:
    ws = open_workspace(args.dir, args.recursive, create=True, scan_progress=True)
    if ws is None:
        return EXIT_UNUSABLE
    with ws:
        for message in ws.recovered:
            err(message)
        result = ws.undo() if undo else ws.redo()
    word = "undo" if undo else "redo"
    if result is None:
        if args.json:
            print(json.dumps({"done": False, "label": None, "written": 0}))
        else:
            err(f"nothing to {word}")
        return EXIT_PARTIAL
    out = {
        "done": True,
        "label": result.label,
        "written": len(result.written),
        "settings": list(result.meta),  # images whose exclusion / overrides changed
        "pending": [{"path": p.path, "error": p.error} for p in result.pending],
        "skipped": [{"path": p.path, "error": p.error} for p in result.skipped],
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        what = f"{len(result.meta)} images" if result.meta else f"{len(result.written)} captions"
        print(f"{word}: {result.label} ({what})")
        for p in out["pending"] + out["skipped"]:
            err(f"{p['path']}: {p['error']}")
    return EXIT_PARTIAL if out["pending"] else EXIT_OK


def cmd_undo(args: argparse.Namespace) -> int:
    return _undo_redo(args, undo=True)


def cmd_redo(args: argparse.Namespace) -> int:
    return _undo_redo(args, undo=False)
