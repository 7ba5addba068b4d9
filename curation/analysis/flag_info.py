"""What each face-analysis flag means to a user, in ONE table.

The flag names are ``classify.FLAGS`` (what the analysis sets); this table gives each one
the words the GUI's filters and tooltips show, the short text of its tile badge (None when
the badge shows it another way, e.g. the face count) and its level: ``problem`` usually means
"replace the image" (red in the GUI and the HTML report), ``warning`` asks the user to look,
``note`` is information. A test fails when a flag is missing here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FlagInfo:
    label: str
    badge: str | None
    level: str  # "problem" | "warning" | "note"


FLAG_INFO: dict[str, FlagInfo] = {
    "no-face": FlagInfo("No face", None, "warning"),
    "multiple-faces": FlagInfo("More than one face", None, "warning"),
    "small-face": FlagInfo("Small face", "small face", "warning"),
    "blurry": FlagInfo("Blurry face", "blurry", "problem"),
    "low-resolution": FlagInfo("Low resolution", "low-res", "warning"),
    "borderline-tier": FlagInfo("Between two tiers", "borderline", "note"),
    "duplicate": FlagInfo("Near-duplicate", "duplicate", "warning"),
    "identity-outlier": FlagInfo("Probably another person", "other person?", "problem"),
    "identity-review": FlagInfo("Identity to check", "check identity", "warning"),
    "unusable-aspect": FlagInfo("Extreme aspect ratio (over 8:1)", "strip?", "problem"),
    "unreadable": FlagInfo("Unreadable", "unreadable", "problem"),
}


def flag_label(flag: str) -> str:
    """The words for ``flag`` (the flag itself when it is unknown)."""
    info = FLAG_INFO.get(flag)
    return info.label if info else flag


def is_problem(flag: str) -> bool:
    info = FLAG_INFO.get(flag)
    return info is not None and info.level == "problem"
