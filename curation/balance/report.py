"""The balance report: counts against the profile, pose mix, quality, advice and a verdict.

`build_report` works on a `DatasetAnalysis` and returns plain JSON-ready data whose layout is
documented (and versioned) in ``docs/report-schema.md``.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from curation.analysis.classify import FLAGS, ImageAnalysis
from curation.analysis.measures import TIERS
from curation.analysis.runner import DatasetAnalysis
from curation.balance.advice import Advice, build_advice

__all__ = ["REPORT_SCHEMA_VERSION", "build_report", "verdict"]

REPORT_SCHEMA_VERSION = 1
POSE_KEYS = ("frontal", "three-quarter", "profile", "back", "unknown")


def _pose_mix(images: list[ImageAnalysis]) -> dict[str, int]:
    mix: dict[str, int] = dict.fromkeys(POSE_KEYS, 0)
    for img in images:
        mix[img.pose if img.pose in mix else "unknown"] += 1
    return mix


def tier_table(analysis: DatasetAnalysis) -> dict[str, dict[str, Any]]:
    active = analysis.active
    n = len(active)
    table: dict[str, dict[str, Any]] = {}
    for tier in TIERS:
        members = [img for img in active if img.tier == tier]
        target, lo, hi = analysis.profile.tier_range(tier, n)
        mix = _pose_mix(members)
        faced = sum(mix[p] for p in ("frontal", "three-quarter", "profile"))
        table[tier] = {
            "count": len(members),
            "target": target,
            "min": lo,
            "max": hi,
            "status": "low" if len(members) < lo else "high" if len(members) > hi else "ok",
            "poses": mix,
            "frontal_share": (
                round((mix["frontal"] + mix["three-quarter"]) / faced, 3) if faced else None
            ),
            "paths": [img.rel for img in members],
        }
    unclassified = [img for img in active if img.tier is None]
    table["unclassified"] = {
        "count": len(unclassified),
        "poses": _pose_mix(unclassified),
        "paths": [img.rel for img in unclassified],
    }
    return table


def verdict(advice: list[Advice]) -> dict[str, Any]:
    errors = [a.message for a in advice if a.severity == "error"]
    warnings = [a.message for a in advice if a.severity == "warning"]
    if errors:
        status, reasons = "not-ready", errors
    elif warnings:
        status, reasons = "ready-with-warnings", warnings
    else:
        status, reasons = "ready", ["the dataset matches the profile"]
    labels = {
        "ready": "ready",
        "ready-with-warnings": "ready with warnings",
        "not-ready": "not ready",
    }
    return {"status": status, "label": labels[status], "reasons": reasons}


def build_report(analysis: DatasetAnalysis) -> dict[str, Any]:
    """The report as JSON-ready data (see docs/report-schema.md)."""
    images = analysis.images
    active = analysis.active
    profile = analysis.profile
    tiers = tier_table(analysis)
    quality = {
        flag: [img.rel for img in active if flag in img.flags]
        for flag in FLAGS
        if flag not in ("unreadable",)
    }
    quality["unreadable"] = [img.rel for img in images if not img.ok]
    quality["back-view-candidate"] = [img.rel for img in active if img.back_view_candidate]
    advice = build_advice(analysis, tiers)
    scores = {
        img.rel: round(img.identity_score, 4) for img in active if img.identity_score is not None
    }
    buckets: dict[str, dict[str, int]] = {}
    for img in active:
        for res, (bw, bh) in img.buckets.items():
            key = f"{bw}x{bh}"
            buckets.setdefault(str(res), {})
            buckets[str(res)][key] = buckets[str(res)].get(key, 0) + 1
    return {
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "dataset": {
            "root": analysis.root,
            "images": len(images),
            "active": len(active),
            "excluded": sum(1 for img in images if img.excluded),
            "unreadable": len(quality["unreadable"]),
            "cached": analysis.cached,
            "complete": not analysis.cancelled,
        },
        "backend": {
            "name": analysis.backend,
            "landmarks": analysis.has_landmarks,
            "embeddings": analysis.has_embeddings,
        },
        "profile": {"name": profile.name, "title": profile.title, "source": profile.source},
        "tiers": tiers,
        "quality": quality,
        "duplicates": [group.to_dict() for group in analysis.duplicates],
        "buckets": {
            res: dict(sorted(b.items(), key=lambda kv: -kv[1])) for res, b in buckets.items()
        },
        "identity": {
            "available": analysis.identity_note is None,
            "note": analysis.identity_note,
            "scores": scores,
            "outliers": quality["identity-outlier"],
            "review": quality["identity-review"],
            "clusters": analysis.identity_clusters,
        },
        "advice": [a.to_dict() for a in advice],
        "verdict": verdict(advice),
        "images": [img.to_dict() for img in images],
    }
