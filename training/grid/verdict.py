"""Per-checkpoint scores, flags, the combined rank and the reasons in plain words."""

from __future__ import annotations

from typing import Any

import numpy as np

from training.grid import thresholds as r
from training.grid.features import ImageFeatures, collapse_of
from training.grid.plan import GridPrompt


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def row_scores(name: str, cells: list[dict], samples: list[ImageFeatures]) -> dict[str, Any]:
    ok = [(c, f) for c, f in zip(cells, samples, strict=True) if f.error is None]
    n = len(ok)
    tiers = [c["tier_match"] for c, _ in ok if c.get("tier_match") is not None]
    collapse, kind = collapse_of(ok)
    return {
        "name": name,
        "samples": n,
        "identity": _mean([c["identity"] for c, _ in ok if c.get("identity") is not None]),
        "no_face": sum(1 for c, _ in ok if not c.get("faces")),
        "prompt_obedience": _mean(
            [c["prompt_obedience"] for c, _ in ok if c.get("prompt_obedience") is not None]
        ),
        "tier_match": (sum(tiers) / len(tiers)) if tiers else None,
        "copies": sum(1 for c, _ in ok if c.get("copy")),
        "copy": (sum(1 for c, _ in ok if c.get("copy")) / n) if n else None,
        "collapse": collapse,
        "collapse_kind": kind,
    }


def _flags(
    s: dict[str, Any], best_obey: float | None, best_tier: float | None, refs: dict[str, float]
) -> list[str]:
    flags = []
    if not s["samples"]:
        return ["no_samples"]
    if s["copy"] is not None and s["copy"] >= r.COPY_FRACTION:
        flags.append("overfit")
    if s["collapse"] is not None and s["collapse"] >= refs[f"collapse_{s['collapse_kind']}"]:
        flags += [] if "overfit" in flags else ["overfit"]
        flags.append("collapse")
    if s["identity"] is not None and s["identity"] < r.WRONG_PERSON:
        flags.append("wrong_identity")
    if s["no_face"] * 2 > s["samples"]:
        flags.append("no_faces")
    obey, tier = s["prompt_obedience"], s["tier_match"]
    if (obey is not None and best_obey and obey < r.OBEY_MARGIN * best_obey) or (
        tier is not None and best_tier is not None and tier < best_tier - r.TIER_MARGIN
    ):
        flags.append("ignores_prompts")
    return flags


def _reasons(s: dict[str, Any], first: bool, others_clean: bool) -> list[str]:
    name, ident, out = s["name"], s["identity"], []
    id_text = f"identity {ident:.2f}" if ident is not None else "identity unknown"
    if "no_samples" in s["flags"]:
        return [f"{name}: no readable sample"]
    if "overfit" in s["flags"]:
        if s["copies"]:
            out.append(
                f"{name}: {id_text} but {s['copies']} of {s['samples']} samples copy training "
                "images: overfit"
            )
        if "collapse" in s["flags"]:
            out.append(
                f"{name}: samples of different prompts look alike (collapse "
                f"{s['collapse']:.2f}): overfit"
            )
    if "wrong_identity" in s["flags"]:
        out.append(f"{name}: {id_text}: the samples look like another person")
    if "no_faces" in s["flags"]:
        out.append(f"{name}: no face found in {s['no_face']} of {s['samples']} samples")
    if "ignores_prompts" in s["flags"]:
        bits = []
        if s["prompt_obedience"] is not None:
            bits.append(f"prompt obedience {s['prompt_obedience']:.3f}")
        if s["tier_match"] is not None:
            bits.append(f"shot tier right in {s['tier_match']:.0%} of samples")
        out.append(f"{name}: follows the prompts less than the others ({', '.join(bits)})")
    if first:
        where = "among the checkpoints that still follow prompts" if others_clean else "of all"
        out.insert(0, f"{name}: best {id_text.replace('identity ', 'identity (') + ')'} {where}")
    elif not out:
        out.append(f"{name}: {id_text}, no problem found, ranked by identity and step")
    return out


def summarise(
    rows: list[dict],
    prompts: list[GridPrompt],
    cells: list[dict],
    samples: list[ImageFeatures],
    unavailable: dict[str, str],
    refs: dict[str, float] | None = None,
) -> dict[str, Any]:
    if refs is None:
        refs = {"copy_clip": r.COPY_CLIP, **{f"collapse_{k}": v for k, v in r.COLLAPSE.items()}}
    by_row: dict[str, tuple[list, list]] = {row["name"]: ([], []) for row in rows}
    for c, f in zip(cells, samples, strict=True):
        by_row[c["row"]][0].append(c)
        by_row[c["row"]][1].append(f)
    scored = []
    for row in rows:
        s = row_scores(row["name"], *by_row[row["name"]])
        s.update(kind=row.get("kind", "checkpoint"), step=row.get("step"))
        scored.append(s)
    ckpts = [s for s in scored if s["kind"] == "checkpoint"]
    obeys = [s["prompt_obedience"] for s in ckpts if s["prompt_obedience"] is not None]
    tiers = [s["tier_match"] for s in ckpts if s["tier_match"] is not None]
    for s in scored:
        s["flags"] = _flags(s, max(obeys) if obeys else None, max(tiers) if tiers else None, refs)

    def key(s: dict[str, Any]) -> tuple:
        f = s["flags"]
        return (
            "no_samples" in f,
            "overfit" in f,
            s["copy"] or 0.0,  # when every checkpoint is overfit: the fewest copies first
            "wrong_identity" in f,
            "ignores_prompts" in f,
            "no_faces" in f,
            -(s["identity"] if s["identity"] is not None else -2.0),
            -(s["step"] if s["step"] is not None else -1),
        )

    ranked = sorted(ckpts, key=key)
    clean = bool(ranked) and not ranked[0]["flags"]
    for i, s in enumerate(ranked, 1):
        s["rank"] = i
        s["reasons"] = _reasons(s, i == 1 and "no_samples" not in s["flags"], clean)
    for s in scored:
        if s["kind"] != "checkpoint":
            s["rank"] = None
            s["reasons"] = _reasons(s, False, clean)
    best = ranked[0]["name"] if ranked and "no_samples" not in ranked[0]["flags"] else None
    for s in scored:
        for k in ("identity", "prompt_obedience", "tier_match", "copy", "collapse"):
            if s[k] is not None:
                s[k] = round(float(s[k]), 4)
    return {
        "best": best,
        "checkpoints": ranked,
        "references": [s for s in scored if s["kind"] != "checkpoint"],
        "unavailable": unavailable,
        "prompts": [p.text for p in prompts],
        "thresholds": {k: round(v, 4) for k, v in refs.items()},
    }
