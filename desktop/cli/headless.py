"""``likeness --headless DIR``: the whole curation pipeline without the GUI.

Scan -> face analysis -> balance report -> caption lint (when the dataset has a trigger in its
settings). Writes ``DIR/.likeness/report.html`` and ``report.json`` (the state folder, never
the user's files) and prints a short summary. Exit 0 when the pipeline ran (whatever the
verdict), 2 when DIR is unusable.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

from curation.dataset_settings import DatasetSettings
from desktop.cli.common import Progress, err, report_file_problems


def run_headless(folder: str, backend: str = "auto", profile: str | None = None) -> int:
    """``profile``: a balance profile name or file; None: the one saved in the dataset
    settings by the app, else the default (``character``)."""
    from curation.analysis import analyze_dataset
    from curation.balance.profiles import load_profile
    from curation.balance.report import build_report
    from curation.errors import LikenessError
    from curation.fsio import write_atomic_text
    from curation.report_html import write_html
    from curation.workspace import Workspace

    try:
        ws = Workspace.open(folder)
    except LikenessError as exc:
        err(str(exc))
        return 2
    with ws:
        n = len(ws.items)
        captioned = sum(1 for i in ws.items if ws.has_caption(i.rel))
        print(f"{folder}: {n} images, {captioned} captioned, {len(ws.excluded())} excluded")
        for message in ws.recovered:
            print(f"  recovered: {message}")
        report_file_problems(ws)
        settings = ws.settings()
        if profile is None:
            profile = settings.profile
        progress = Progress("analysing faces")
        try:
            analysis = analyze_dataset(
                ws, backend=backend, profile=load_profile(profile), on_progress=progress
            )
        except LikenessError as exc:
            err(str(exc))
            return 2
        finally:
            progress.close()
        report = build_report(analysis)
        # the state folder (checked to be a real folder when the workspace opened): links
        # planted at the report names are replaced, never written through
        out_dir = Path(ws.state_dir) if ws.state_dir else Path(folder) / ".likeness"
        out_dir.mkdir(parents=True, exist_ok=True)
        html_path = out_dir / "report.html"
        try:
            write_atomic_text(
                out_dir / "report.json",
                json.dumps(report, indent=2),
                root=out_dir,
                replace_link=True,
            )
            write_html(report, html_path, analysis=analysis, replace_link=True)
        except OSError as exc:
            err(f"cannot write the report in {out_dir}: {exc.strerror or exc}")
            return 2
        lint_summary = _lint(ws, replace(settings, profile=profile), analysis)

    print(f"face backend: {report['backend']['name']}")
    for tier, info in report["tiers"].items():
        if tier != "unclassified":
            print(f"  {tier:10s} {info['count']:3d} / {info['target']:<3d} ({info['status']})")
    print(f"verdict: {report['verdict']['label'].upper()}")
    for item in report["advice"]:
        print(f"  [{item['severity']}] {item['message']}")
    print(lint_summary)
    print(f"report: {html_path}")
    return 0


def _lint(ws, settings: DatasetSettings, analysis) -> str:
    """The caption lint (the CLI's and the GUI's) with the face analysis just run (tiers,
    poses, back views; the user's overrides win) and the word budget of its profile."""
    if not settings.trigger:
        return "captions: no trigger set for this dataset; run `likeness lint DIR --trigger T`"
    from curation.captions.lint import Severity
    from curation.captions.workspace_lint import lint_workspace

    report = lint_workspace(ws, settings, analysis=analysis)
    return (
        f"captions (trigger {settings.trigger}): {report.count(Severity.ERROR)} errors, "
        f"{report.count()} issues in all, {len(report.dataset)} dataset issues"
    )


if __name__ == "__main__":
    sys.exit(run_headless(sys.argv[1]))
