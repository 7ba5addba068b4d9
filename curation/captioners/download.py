"""Resolve a captioner model: a local folder, the Hugging Face cache, or a download.

Downloads go through ``huggingface_hub.snapshot_download`` into the standard HF cache (so a
model already there is reused, and an interrupted download resumes), fetching only
safetensors weights and text/json files: never pickled weights.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from curation.captioners.base import ModelNotAvailableError
from curation.jobs import Cancelled, CancelToken, ProgressFn

log = logging.getLogger(__name__)

FLORENCE_MODELS = {
    "base": "florence-community/Florence-2-base",
    "large": "florence-community/Florence-2-large",
}
ALLOW_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.model", "*.jinja"]


def _progress_tqdm(on_progress: ProgressFn | None, cancel: CancelToken | None, label: str):
    """A tqdm class that reports to ``on_progress`` and stops when ``cancel`` is set."""
    from tqdm.auto import tqdm

    class _Progress(tqdm):  # type: ignore[misc]
        def __init__(self, *args, **kwargs):
            kwargs.setdefault("disable", on_progress is not None)
            super().__init__(*args, **kwargs)

        def update(self, n=1):
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            out = super().update(n)
            self._done = getattr(self, "_done", 0) + (n or 0)  # self.n stays 0 when disabled
            if on_progress is not None:
                on_progress(int(self._done), int(self.total or 0), f"downloading {label}")
            return out

    return _Progress


def _is_repo_id(spec: str) -> bool:
    parts = spec.split("/")
    return len(parts) == 2 and all(parts) and not spec.startswith((".", "/", "~"))


def resolve_model(
    spec: str,
    *,
    on_progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    allow_download: bool = True,
) -> Path:
    """Folder holding the model for ``spec`` (``base``, ``large``, ``org/name`` or a path)."""
    spec = (spec or "base").strip()
    if spec in FLORENCE_MODELS:
        repo = FLORENCE_MODELS[spec]
    elif _is_repo_id(spec) and not Path(spec).expanduser().exists():
        repo = spec
    else:
        folder = Path(spec).expanduser()
        if not folder.is_dir():
            raise ModelNotAvailableError(f"model folder not found: {folder}")
        if not (folder / "config.json").is_file():
            raise ModelNotAvailableError(
                f"{folder} is not a model folder (no config.json): point to the folder that "
                "holds config.json, model.safetensors and the processor files"
            )
        return folder
    from huggingface_hub import snapshot_download

    try:
        path = snapshot_download(repo, allow_patterns=ALLOW_PATTERNS, local_files_only=True)
        log.info("using cached model %s at %s", repo, path)
        return Path(path)
    except Exception as exc:  # noqa: BLE001 - any miss means "not fully cached"
        log.debug("model %s not in the local cache: %s", repo, exc)
    if downloads_off() or not allow_download:
        raise ModelNotAvailableError(
            f"model not found locally and no network: {repo} is not in the Hugging Face cache "
            "and downloads are off (HF_HUB_OFFLINE). Download it on a connected machine, or "
            "pass the path of a local model folder."
        )
    try:
        path = snapshot_download(
            repo,
            allow_patterns=ALLOW_PATTERNS,
            tqdm_class=_progress_tqdm(on_progress, cancel, repo),
        )
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - network, DNS, proxy, 404...
        raise ModelNotAvailableError(
            f"model not found locally and no network: could not download {repo} ({exc}). "
            "Check the connection and retry (the download resumes), or pass a local folder."
        ) from exc
    return Path(path)


def hub_cache_dir() -> Path:
    """The Hugging Face cache folder that holds downloaded models (``HF_HOME`` aware)."""
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def model_on_disk(spec: str) -> Path | None:
    """The local folder of ``spec`` (``base``, ``large``, ``org/name``) when it is complete in
    the Hugging Face cache, else None. Never touches the network."""
    repo = FLORENCE_MODELS.get(spec, spec)
    if not _is_repo_id(repo):
        return None
    from huggingface_hub import snapshot_download

    try:
        path = Path(snapshot_download(repo, allow_patterns=ALLOW_PATTERNS, local_files_only=True))
    except Exception:  # noqa: BLE001 - any miss means "not on disk"
        return None
    return path if (path / "config.json").is_file() else None


def downloads_off() -> bool:
    """True when Hugging Face downloads are switched off (``HF_HUB_OFFLINE``)."""
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def missing_model_message(spec: str) -> str:
    """What to tell a user whose model is not on this computer, without Hub jargon."""
    name = {"base": "Florence-2 base", "large": "Florence-2 large"}.get(spec, spec)
    start = (
        f"The captioning model {name} is not on this computer. Either choose a folder that "
        "already holds the model (with config.json and model.safetensors, e.g. copied from "
        "another computer), or "
    )
    if downloads_off():
        return (
            start.replace("computer.", "computer, and Likeness is set to work offline.", 1)
            + "start Likeness with downloads allowed, on a computer with internet: the model "
            "is downloaded once and kept."
        )
    return (
        start.replace("computer.", "computer and could not be downloaded.", 1)
        + "check the internet connection and press Start again: the model is downloaded once "
        "and kept."
    )
