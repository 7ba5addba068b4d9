"""Finding and downloading the model files of the OpenCV face backends.

Files live in the app's model folder (``LIKENESS_MODEL_DIR``, or ``--model-dir`` on the CLI)
under their official file names. A download is written to a temporary file, checked against
the published sha256 and only then moved into place, so a broken download never looks like a
model.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import socket
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from curation.faces.base import FaceBackendError, ModelMissingError
from curation.jobs import CancelToken, ProgressFn, report

__all__ = [
    "ModelFile",
    "MODEL_FILES",
    "ModelDownloadError",
    "NoNetworkError",
    "DownloadCancelled",
    "stream_download",
    "resolve_model_dir",
    "find_model",
    "require_model",
    "sha256_file",
    "download_model",
]

log = logging.getLogger(__name__)

_ZOO = "https://github.com/opencv/opencv_zoo/raw/main/models"


@dataclass(frozen=True)
class ModelFile:
    key: str
    filename: str
    sha256: str
    url: str
    size: int
    licence: str


MODEL_FILES: dict[str, ModelFile] = {
    "yunet": ModelFile(
        key="yunet",
        filename="face_detection_yunet_2023mar.onnx",
        sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        url=f"{_ZOO}/face_detection_yunet/face_detection_yunet_2023mar.onnx",
        size=232_589,
        licence="MIT",
    ),
    "sface": ModelFile(
        key="sface",
        filename="face_recognition_sface_2021dec.onnx",
        sha256="0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
        url=f"{_ZOO}/face_recognition_sface/face_recognition_sface_2021dec.onnx",
        size=38_696_353,
        licence="Apache-2.0",
    ),
}


class ModelDownloadError(FaceBackendError):
    """A model could not be downloaded or its bytes are not the published ones."""


class NoNetworkError(ModelDownloadError):
    """The download could not reach the network at all (the message says where to copy)."""


class DownloadCancelled(ModelDownloadError):
    """The user cancelled the download; nothing was saved."""


_OFFLINE_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNREFUSED, errno.ENETDOWN}


def is_offline_error(exc: BaseException) -> bool:
    """True for "no route to the server" failures (no DNS, no route, refused, timed out)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, urllib.error.URLError) and not isinstance(
            current, urllib.error.HTTPError
        ):
            reason = current.reason
            if isinstance(reason, BaseException) and is_offline_error(reason):
                return True
            if isinstance(reason, str) and "Name or service" in reason:
                return True
        if isinstance(current, socket.gaierror | TimeoutError | socket.timeout):
            return True
        if isinstance(current, ConnectionRefusedError):
            return True
        if isinstance(current, OSError) and current.errno in _OFFLINE_ERRNOS:
            return True
        name = type(current).__name__
        if name in ("ConnectionError", "NewConnectionError", "MaxRetryError", "ConnectTimeout"):
            return True  # requests / urllib3, without importing them
        current = current.__cause__ or current.__context__
    return False


def offline_message(folder: Path, names: list[str]) -> str:
    return (
        f"no internet connection: copy the files into {folder} "
        f"({', '.join(names)}), then analyse again"
    )


def resolve_model_dir(model_dir: str | os.PathLike[str] | None = None) -> Path:
    """The folder to look in: the given one, else ``curation.paths.model_dir()``."""
    if model_dir is not None:
        return Path(model_dir).expanduser()
    from curation.paths import model_dir as default_model_dir

    return default_model_dir()


def find_model(key: str, model_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The model file for ``key`` ("yunet", "sface") if it is in the folder, else None."""
    spec = MODEL_FILES[key]
    path = resolve_model_dir(model_dir) / spec.filename
    return path if path.is_file() else None


def require_model(key: str, model_dir: str | os.PathLike[str] | None = None) -> Path:
    path = find_model(key, model_dir)
    if path is None:
        spec = MODEL_FILES[key]
        folder = resolve_model_dir(model_dir)
        raise ModelMissingError(
            f"{spec.filename} is not in the model folder {folder}: download it "
            f"(likeness needs a network for that) or copy it there, or pass --model-dir"
        )
    return path


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


Fetch = Callable[[str], Iterator[bytes]]


def _urllib_fetch(url: str) -> Iterator[bytes]:
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 (https/file only)
        while True:
            block = response.read(1 << 16)
            if not block:
                return
            yield block


def stream_download(
    source: str,
    folder: Path,
    *,
    name: str,
    size: int,
    fetch: Fetch | None = None,
    on_progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
) -> tuple[Path, str, int]:
    """Write ``source``'s bytes to a temporary file in ``folder``: (temp path, sha256, bytes).

    The caller moves the file into place (or deletes it). Raises `NoNetworkError` when the
    network cannot be reached, `DownloadCancelled` when ``cancel`` is set, and
    `ModelDownloadError` for any other failure; no temporary file is left behind then.
    """
    if not source.startswith(("https://", "file://")):
        raise ModelDownloadError(f"refusing to download {name} from {source}")
    fetch = fetch or _urllib_fetch
    digest = hashlib.sha256()
    done = 0
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            for block in fetch(source):
                if cancel is not None and cancel.cancelled:
                    raise DownloadCancelled(f"download of {name} cancelled: nothing was saved")
                out.write(block)
                digest.update(block)
                done += len(block)
                report(on_progress, done, size, name)
            out.flush()
            os.fsync(out.fileno())
    except ModelDownloadError:
        _unlink(tmp_name)
        raise
    except Exception as exc:  # noqa: BLE001 - urllib, requests or a test's fetch
        _unlink(tmp_name)
        if is_offline_error(exc):
            raise NoNetworkError(offline_message(folder, [name])) from exc
        raise ModelDownloadError(
            f"could not download {name} from {source}: {exc}; check the network "
            f"or copy the file into {folder}"
        ) from exc
    return Path(tmp_name), digest.hexdigest(), done


def _unlink(path: str | os.PathLike[str]) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def download_model(
    key: str,
    model_dir: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    fetch: Fetch | None = None,
    on_progress: ProgressFn | None = None,
    cancel: CancelToken | None = None,
    overwrite: bool = False,
) -> Path:
    """Download a model file into the model folder and verify its sha256.

    ``url`` overrides the official address (a mirror, or a ``file://`` URL); ``fetch`` replaces
    the network call (it yields the bytes of a URL). Returns the final path. A file already
    present with the right hash is kept as it is. Without a network: `NoNetworkError`, whose
    message says which file to copy where.
    """
    spec = MODEL_FILES[key]
    folder = resolve_model_dir(model_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / spec.filename
    if target.is_file() and not overwrite and sha256_file(target) == spec.sha256:
        return target
    source = url or spec.url
    tmp, digest, done = stream_download(
        source, folder, name=spec.filename, size=spec.size, fetch=fetch,
        on_progress=on_progress, cancel=cancel,
    )  # fmt: skip
    try:
        if digest != spec.sha256:
            raise ModelDownloadError(
                f"{spec.filename} from {source} has sha256 {digest}, expected "
                f"{spec.sha256}: the file is damaged or not the official one; it was not saved"
            )
        os.replace(tmp, target)
    finally:
        _unlink(tmp)
    log.info("downloaded %s (%d bytes) into %s", spec.filename, done, folder)
    return target
