"""``likeness analyze``, ``report``, ``export``: face analysis, the balance report, exports.

Exit codes: 0 done (bad images are listed as per-item errors), 2 unusable folder, backend or
arguments (message on stderr).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from desktop.cli.common import Progress, err, report_file_problems

EXIT_OK, EXIT_UNUSABLE = 0, 2
BACKEND_CHOICES = ("auto", "insightface", "yunet", "dlib", "haar")


def _analysis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", metavar="DIR")
    p.add_argument("--backend", choices=BACKEND_CHOICES, default="auto",
                   help="face backend (default auto: the best one available)")  # fmt: skip
    p.add_argument("--model-dir", metavar="DIR",
                   help="folder with the YuNet/SFace model files (default: LIKENESS_MODEL_DIR)")  # fmt: skip
    p.add_argument("--accept-model-license", action="store_true",
                   help="accept the insightface models' non-commercial licence so they may "
                   "be downloaded on first use")  # fmt: skip
    p.add_argument("--profile", default="character", metavar="NAME|FILE",
                   help="balance profile: character, face, or a YAML file (default character)")  # fmt: skip
    p.add_argument("--no-recursive", dest="recursive", action="store_false")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def register(subparsers: Any) -> None:
    an = subparsers.add_parser(
        "analyze",
        help="detect faces: shot tier, pose, quality flags per image",
        description="Analyse every image of DIR (results are cached in DIR/.likeness).",
    )
    _analysis_args(an)
    an.set_defaults(func=cmd_analyze)

    rep = subparsers.add_parser(
        "report",
        help="the dataset balance report: what is missing, advice and a verdict",
        description="Analyse DIR and judge it against a balance profile.",
    )
    _analysis_args(rep)
    rep.add_argument("--html", metavar="OUT", help="also write a self-contained HTML report")
    rep.set_defaults(func=cmd_report)

    ex = subparsers.add_parser(
        "export",
        help="export a cleaned copy (edge crop, face crop) into a new folder",
        description="Copy DIR into the new folder OUT with captions; excluded and unreadable "
        "images are left out; OUT/manifest.json says what was done. DIR is never modified.",
    )
    _analysis_args(ex)
    ex.add_argument("out", metavar="OUT")
    ex.add_argument("--crop-edges", metavar="SPEC",
                    help="cut pixels off edges: RIGHT,BOTTOM (e.g. 150,150) or "
                    "right=150,bottom=150,left=0,top=0")  # fmt: skip
    ex.add_argument("--face-crop", type=int, metavar="SIZE",
                    help="face-centred square crop resized to SIZE x SIZE")  # fmt: skip
    ex.add_argument("--face-ratio", type=float, default=0.6, metavar="R",
                    help="face-box height / output side for --face-crop (default 0.6)")  # fmt: skip
    ex.set_defaults(func=cmd_export)

    mo = subparsers.add_parser(
        "face-models",
        help="list the face backends usable here; download the YuNet / SFace files",
        description="Show which face backends can run and where their model files are. "
        "--download fetches the official OpenCV Zoo files (needs a network) and checks "
        "their sha256 before keeping them.",
    )
    mo.add_argument("--download", choices=("yunet", "sface", "all"), help="download model files")
    mo.add_argument("--model-dir", metavar="DIR", help="model folder (default: LIKENESS_MODEL_DIR)")
    mo.add_argument("--json", action="store_true", help="print one JSON object")
    mo.set_defaults(func=cmd_face_models)


def _run_analysis(args: argparse.Namespace):
    """(workspace, analysis) or None after printing why."""
    from curation.analysis import analyze_dataset
    from curation.balance.profiles import load_profile
    from curation.errors import LikenessError
    from curation.workspace import Workspace

    try:
        profile = load_profile(args.profile)
        ws = Workspace.open(args.dir, recursive=args.recursive)
    except LikenessError as exc:
        err(str(exc))
        return None
    report_file_problems(ws)
    progress = Progress("analysing faces")
    try:
        analysis = analyze_dataset(
            ws,
            backend=args.backend,
            profile=profile,
            model_dir=args.model_dir,
            accept_license=args.accept_model_license,
            on_progress=progress,
        )
    except LikenessError as exc:
        ws.close()
        err(str(exc))
        return None
    finally:
        progress.close()
    return ws, analysis


def cmd_analyze(args: argparse.Namespace) -> int:
    got = _run_analysis(args)
    if got is None:
        return EXIT_UNUSABLE
    ws, analysis = got
    ws.close()
    if args.json:
        print(json.dumps(analysis.to_cli_dict(), indent=2))
        return EXIT_OK
    print(f"backend: {analysis.backend}  ({len(analysis.images)} images, {analysis.cached} cached)")
    for img in analysis.images:
        ratio = f"{img.face_height_ratio:.3f}" if img.face_height_ratio is not None else "-"
        line = f"{img.rel:40s} {len(img.faces)} face(s)  {img.tier or '-':9s} {img.pose or '-':13s} {ratio}"
        extra = img.error or ", ".join(img.flags)
        print(f"{line}  {extra}" if extra else line)
    if analysis.identity_note:
        print(f"warning: {analysis.identity_note}")
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    from curation.balance.report import build_report

    got = _run_analysis(args)
    if got is None:
        return EXIT_UNUSABLE
    ws, analysis = got
    ws.close()
    report = build_report(analysis)
    if args.html:
        from curation.report_html import write_html

        try:
            write_html(report, args.html, analysis=analysis)
        except OSError as exc:
            err(f"cannot write {args.html}: {exc}")
            return EXIT_UNUSABLE
    if args.json:
        print(json.dumps(report, indent=2))
        return EXIT_OK
    verdict = report["verdict"]
    print(f"{report['dataset']['active']} images, profile {report['profile']['name']}, "
          f"backend {report['backend']['name']}")  # fmt: skip
    for tier, info in report["tiers"].items():
        if tier == "unclassified":
            if info["count"]:
                print(f"  {'no tier':10s} {info['count']:3d}")
            continue
        print(f"  {tier:10s} {info['count']:3d} / {info['target']:<3d} ({info['status']})")
    print(f"\nVerdict: {verdict['label'].upper()}")
    for item in report["advice"]:
        print(f"  [{item['severity']}] {item['message']}")
    if args.html:
        print(f"\nHTML report: {args.html}")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    from curation.errors import LikenessError
    from curation.export import ExportOptions, export_dataset, parse_edges

    try:
        edges = parse_edges(args.crop_edges) if args.crop_edges else {}
        options = ExportOptions(
            crop_edges=edges, face_crop=args.face_crop, face_ratio=args.face_ratio
        )
        options.validate()
    except LikenessError as exc:
        err(str(exc))
        return EXIT_UNUSABLE
    faces = None
    if args.face_crop:
        got = _run_analysis(args)
        if got is None:
            return EXIT_UNUSABLE
        ws, analysis = got
        faces = {img.rel: img.primary.box if img.primary else None for img in analysis.images}
    else:
        from curation.workspace import Workspace

        try:
            ws = Workspace.open(args.dir, recursive=args.recursive)
        except LikenessError as exc:
            err(str(exc))
            return EXIT_UNUSABLE
        report_file_problems(ws)
    progress = Progress("exporting")
    try:
        result = export_dataset(ws, args.out, options, faces=faces, on_progress=progress)
    except LikenessError as exc:
        err(str(exc))
        return EXIT_UNUSABLE
    finally:
        progress.close()
        ws.close()
    summary = {
        "out": str(result.out_dir),
        "exported": result.exported,
        "manifest": str(result.manifest_path),
        "errors": {it.path: it.error for it in result.items if not it.ok},
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(f"exported {result.exported} images into {result.out_dir} "
              f"(manifest: {result.manifest_path})")  # fmt: skip
        for rel, error in summary["errors"].items():
            print(f"  skipped {rel}: {error}")
    return EXIT_OK


def cmd_face_models(args: argparse.Namespace) -> int:
    from curation.faces import available_backends
    from curation.faces.models import MODEL_FILES, download_model, resolve_model_dir

    folder = resolve_model_dir(args.model_dir)
    downloaded = []
    if args.download:
        keys = list(MODEL_FILES) if args.download == "all" else [args.download]
        for key in keys:
            progress = Progress(f"downloading {MODEL_FILES[key].filename}")
            try:
                downloaded.append(str(download_model(key, folder, on_progress=progress)))
            except Exception as exc:  # noqa: BLE001 - ModelDownloadError and anything below it
                err(str(exc))
                return EXIT_UNUSABLE
            finally:
                progress.close()
    backends = [
        {
            "name": b.name,
            "available": b.available,
            "landmarks": b.landmarks,
            "embeddings": b.embeddings,
            "note": b.note,
        }  # fmt: skip
        for b in available_backends(folder)
    ]
    if args.json:
        print(json.dumps({"model_dir": str(folder), "downloaded": downloaded,
                          "backends": backends}, indent=2))  # fmt: skip
        return EXIT_OK
    for path in downloaded:
        print(f"downloaded {path}")
    print(f"model folder: {folder}")
    for b in backends:
        state = "yes" if b["available"] else "no "
        print(f"  {b['name']:12s} {state}  {b['note']}")
    return EXIT_OK
