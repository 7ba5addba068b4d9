"""The balance report as one self-contained HTML file (inline CSS, SVG charts, base64 thumbs).

Nothing is loaded from the network or from disk when the file is opened: it can be mailed or
archived with a training run.
"""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from pathlib import Path
from typing import Any

__all__ = ["render_html", "write_html"]

log = logging.getLogger(__name__)

THUMB = 200
COLOURS = {"frontal": "#4e79a7", "three-quarter": "#59a14f", "profile": "#f28e2b",
           "back": "#b07aa1", "unknown": "#bab0ac"}  # fmt: skip
SEVERITY = {"error": "#c0392b", "warning": "#d68910", "info": "#5d6d7e"}
VERDICT = {"ready": "#1e8449", "ready-with-warnings": "#d68910", "not-ready": "#c0392b"}
CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#222;padding:0 16px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.verdict{display:inline-block;color:#fff;padding:6px 14px;border-radius:6px;font-weight:600}
.advice li{margin:4px 0}.sev{display:inline-block;width:64px;font-size:11px;color:#fff;
text-align:center;border-radius:3px;margin-right:8px}.paths{color:#777;font-size:12px}
.grid{display:flex;flex-wrap:wrap;gap:10px}.card{width:200px;font-size:12px}
.card svg{display:block;background:#eee}.flag{display:inline-block;background:#eee;
border-radius:3px;padding:0 4px;margin:1px}.bad{background:#f5b7b1}
table{border-collapse:collapse}td,th{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _thumb(path: Path) -> tuple[str, float] | None:
    """(data URI, scale from original pixels) of a JPEG thumbnail, or None."""
    try:
        from curation.images import load_image

        loaded = load_image(path, draft=(THUMB * 2, THUMB * 2))
        image = loaded.image
        image.thumbnail((THUMB, THUMB))
        buf = io.BytesIO()
        image.convert("RGB").save(buf, "JPEG", quality=80)
        scale = image.width / loaded.info.width
        return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode(), scale
    except Exception as exc:  # noqa: BLE001 - a missing thumbnail never breaks the report
        log.debug("no thumbnail for %s: %s", path, exc)
        return None


def _card(root: Path, entry: dict[str, Any], with_thumb: bool) -> str:
    thumb = _thumb(root / entry["path"]) if with_thumb and not entry.get("error") else None
    w = h = THUMB
    body = ""
    if thumb is not None:
        uri, scale = thumb
        w, h = round(entry["width"] * scale), round(entry["height"] * scale)
        body = f'<image href="{uri}" width="{w}" height="{h}"/>'
        for i, (x, y, bw, bh) in enumerate(entry.get("face_boxes", [])):
            colour = "#2ecc71" if i == 0 else "#e74c3c"
            body += (f'<rect x="{x * scale:.1f}" y="{y * scale:.1f}" width="{bw * scale:.1f}" '
                     f'height="{bh * scale:.1f}" fill="none" stroke="{colour}" stroke-width="2"/>')  # fmt: skip
    else:
        body = (
            f'<text x="10" y="{h // 2}" fill="#777">{_e(entry.get("error") or "no preview")}</text>'
        )
    flags = "".join(
        f'<span class="flag{" bad" if f in ("identity-outlier", "unreadable", "blurry") else ""}">'
        f"{_e(f)}</span>"
        for f in entry.get("flags", [])
    )
    ratio = entry.get("face_height_ratio")
    facts = f"{_e(entry.get('tier') or 'no tier')} · {_e(entry.get('pose') or '-')}"
    if ratio is not None:
        facts += f" · {ratio:.2f}"
    if entry.get("identity_score") is not None:
        facts += f" · id {entry['identity_score']:.2f}"
    return (f'<div class="card" id="{_e(entry["path"])}"><svg width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}">{body}</svg><b>{_e(entry["path"])}</b><br>{facts}<br>{flags}</div>')  # fmt: skip


def _tier_chart(tiers: dict[str, Any]) -> str:
    names = [t for t in ("close-up", "medium", "full-body")]
    top = max([1] + [tiers[t]["count"] for t in names] + [tiers[t]["max"] for t in names])
    bar_w, gap, height = 90, 60, 220
    scale = (height - 40) / top
    parts = []
    for i, tier in enumerate(names):
        info = tiers[tier]
        x = 40 + i * (bar_w + gap)
        y = height - 20
        for pose in ("frontal", "three-quarter", "profile", "back", "unknown"):
            n = info["poses"][pose]
            if n:
                parts.append(f'<rect x="{x}" y="{y - n * scale:.1f}" width="{bar_w}" '
                             f'height="{n * scale:.1f}" fill="{COLOURS[pose]}"><title>{n} {pose}</title></rect>')  # fmt: skip
                y -= n * scale
        ty = height - 20 - info["target"] * scale
        lo, hi = height - 20 - info["min"] * scale, height - 20 - info["max"] * scale
        parts.append(f'<rect x="{x - 6}" y="{hi:.1f}" width="{bar_w + 12}" height="{lo - hi:.1f}" '
                     'fill="#2ecc71" opacity="0.15"/>')  # fmt: skip
        parts.append(f'<line x1="{x - 8}" x2="{x + bar_w + 8}" y1="{ty:.1f}" y2="{ty:.1f}" '
                     'stroke="#222" stroke-dasharray="4 3"/>')  # fmt: skip
        parts.append(
            f'<text x="{x + bar_w / 2}" y="{height - 4}" text-anchor="middle">{tier}</text>'
        )
        parts.append(f'<text x="{x + bar_w / 2}" y="{y - 4:.1f}" text-anchor="middle">'
                     f'{info["count"]} / {info["target"]}</text>')  # fmt: skip
    legend = "".join(
        f'<rect x="{520}" y="{20 + i * 20}" width="12" height="12" fill="{c}"/>'
        f'<text x="538" y="{31 + i * 20}">{p}</text>'
        for i, (p, c) in enumerate(COLOURS.items())
    )
    return (f'<svg width="680" height="{height}" font-size="12" role="img" aria-label="shots per '
            f'tier against the target">{"".join(parts)}{legend}</svg>')  # fmt: skip


def render_html(report: dict[str, Any], thumbnails: bool = True) -> str:
    """The report (from `curation.balance.report.build_report`) as an HTML document."""
    root = Path(report["dataset"]["root"])
    verdict = report["verdict"]
    by_path = {e["path"]: e for e in report["images"]}
    out = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Likeness report: {_e(root.name)}</title><style>{CSS}</style></head><body>",
        f"<h1>Dataset report: {_e(root.name)}</h1>",
        f"<p>{report['dataset']['active']} images analysed with {_e(report['backend']['name'])}, "
        f"profile <b>{_e(report['profile']['name'])}</b>, {_e(report['generated_at'])}.</p>",
        f'<p><span class="verdict" style="background:{VERDICT[verdict["status"]]}">'
        f"{_e(verdict['label'].upper())}</span></p><ul>",
        *(f"<li>{_e(r)}</li>" for r in verdict["reasons"]),
        "</ul><h2>Advice</h2><ol class='advice'>",
    ]
    for item in report["advice"]:
        links = ", ".join(f'<a href="#{_e(p)}">{_e(p)}</a>' for p in item["paths"][:12])
        more = f" and {len(item['paths']) - 12} more" if len(item["paths"]) > 12 else ""
        out.append(f'<li><span class="sev" style="background:{SEVERITY[item["severity"]]}">'
                   f'{_e(item["severity"])}</span>{_e(item["message"])}'
                   + (f'<div class="paths">{links}{more}</div>' if links else "") + "</li>")  # fmt: skip
    out.append("</ol><h2>Shot tiers</h2>")
    out.append(_tier_chart(report["tiers"]))
    out.append("<table><tr><th>tier</th><th>count</th><th>target (range)</th><th>frontal or "
               "3/4</th><th>profiles</th><th>back views</th></tr>")  # fmt: skip
    for tier in ("close-up", "medium", "full-body"):
        info = report["tiers"][tier]
        share = "-" if info["frontal_share"] is None else f"{round(info['frontal_share'] * 100)}%"
        out.append(f"<tr><td>{tier}</td><td>{info['count']}</td><td>{info['target']} "
                   f"({info['min']}-{info['max']})</td><td>{share}</td>"
                   f"<td>{info['poses']['profile']}</td><td>{info['poses']['back']}</td></tr>")  # fmt: skip
    out.append("</table>")
    identity = report["identity"]
    out.append("<h2>Identity</h2>")
    if not identity["available"]:
        out.append(f'<p><span class="sev" style="background:{SEVERITY["warning"]}">warning'
                   f"</span> {_e(identity['note'])}</p>")  # fmt: skip
    else:
        flagged = identity["outliers"] + identity["review"]
        out.append(f"<p>{len(identity['clusters'])} identity cluster(s); "
                   f"{len(flagged)} image(s) to check.</p>")  # fmt: skip
        out.append('<div class="grid">')
        out += [_card(root, by_path[p], thumbnails) for p in flagged if p in by_path]
        out.append("</div>")
    review = report["quality"].get("back-view-candidate", []) + report["quality"].get("no-face", [])
    if review:
        out.append("<h2>To check: no face found</h2><p>Back-view candidates (a person, no "
                   "face) first; mark real back views as such.</p><div class='grid'>")  # fmt: skip
        seen = []
        for p in review:
            if p not in seen and p in by_path:
                seen.append(p)
                out.append(_card(root, by_path[p], thumbnails))
        out.append("</div>")
    buckets = report.get("buckets", {}).get("1024")
    if buckets:
        rows = "".join(f"<tr><td>{_e(k)}</td><td>{v}</td></tr>" for k, v in buckets.items())
        out.append(f"<h2>Training buckets at 1024</h2><table>{rows}</table>")
    if report["duplicates"]:
        out.append("<h2>Near-duplicates</h2>")
        for group in report["duplicates"]:
            out.append(f"<p>Keep <b>{_e(group['keep'])}</b>:</p><div class='grid'>")
            out += [_card(root, by_path[p], thumbnails) for p in group["paths"] if p in by_path]
            out.append("</div>")
    out.append("<h2>All images</h2><div class='grid'>")
    out += [_card(root, entry, thumbnails) for entry in report["images"]]
    out.append("</div></body></html>")
    return "\n".join(out)


def write_html(
    report: dict[str, Any],
    out: str | os.PathLike[str],
    analysis: Any = None,
    thumbnails: bool = True,
    replace_link: bool = False,
) -> Path:
    """Write the HTML report to ``out`` (atomically, with :mod:`curation.fsio`: never through
    a link, the temporary file created exclusively) and return its path. ``replace_link``:
    ``out`` is in the app's own folder, where a planted link is replaced, not followed."""
    from curation.fsio import write_atomic_text

    path = Path(out)
    text = render_html(report, thumbnails=thumbnails)
    return write_atomic_text(path, text, replace_link=replace_link)
