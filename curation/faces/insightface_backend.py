"""insightface ``FaceAnalysis`` (buffalo_l): detection, landmarks, ArcFace embeddings, pose.

The buffalo_l models are published for non-commercial research only. insightface downloads
them into its own cache (``<root>/models/buffalo_l``, root ``~/.insightface`` by default) the
first time; Likeness lets that happen only after the user accepted the licence
(``accept_license=True``; the CLI flag ``--accept-model-license``, a dialog in the GUI). When
the models are already in the cache nothing is downloaded and no acceptance is needed.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np

from curation.faces.base import Face, FaceBackendError, LicenseNotAcceptedError, normalise

__all__ = [
    "InsightFaceDetector",
    "LICENSE_TEXT",
    "default_root",
    "download_insightface_models",
    "models_present",
]

log = logging.getLogger(__name__)

DEFAULT_PACK = "buffalo_l"
# insightface's own model-zoo address (insightface.utils.storage); the zip holds the .onnx files.
PACK_URL = "https://github.com/deepinsight/insightface/releases/download/model-zoo/{pack}.zip"
PACK_SIZE = 0  # insightface publishes no size or checksum: progress counts megabytes only
LICENSE_TEXT = (
    "The insightface buffalo_l face models are released for non-commercial research "
    "purposes only (https://github.com/deepinsight/insightface#license). Likeness downloads "
    "them from insightface's model zoo into insightface's own cache the first time the "
    "insightface backend is used. Accept only if your use is non-commercial or you hold a "
    "commercial licence from InsightFace."
)


def default_root() -> Path:
    """insightface's cache root (``INSIGHTFACE_HOME`` if set, else ``~/.insightface``)."""
    return Path(os.environ.get("INSIGHTFACE_HOME", "~/.insightface")).expanduser()


def models_present(root: str | os.PathLike[str] | None = None, pack: str = DEFAULT_PACK) -> bool:
    folder = Path(root).expanduser() if root else default_root()
    pack_dir = folder / "models" / pack
    return pack_dir.is_dir() and any(pack_dir.glob("*.onnx"))


def download_insightface_models(
    root: str | os.PathLike[str] | None = None,
    pack: str = DEFAULT_PACK,
    *,
    url: str | None = None,
    fetch=None,
    on_progress=None,
    cancel=None,
) -> Path:
    """Download and unpack ``pack`` into ``<root>/models/<pack>`` (the caller asked the user
    to accept the licence first), with progress and cancel, off the GUI thread.

    Only plain ``.onnx`` members are extracted (no paths, no links); the folder appears only
    when everything was unpacked, so a failed or cancelled download never looks like models.
    Without a network: `curation.faces.models.NoNetworkError` naming the folder to copy into.
    """
    import shutil
    import tempfile
    import zipfile

    from curation.faces.models import (
        ModelDownloadError,
        NoNetworkError,
        offline_message,
        stream_download,
    )

    folder = (Path(root).expanduser() if root else default_root()) / "models"
    target = folder / pack
    if models_present(folder.parent, pack):
        return target
    try:
        tmp, _digest, _done = stream_download(
            url or PACK_URL.format(pack=pack), folder, name=f"{pack}.zip", size=PACK_SIZE,
            fetch=fetch, on_progress=on_progress, cancel=cancel,
        )  # fmt: skip
    except NoNetworkError as exc:
        raise NoNetworkError(offline_message(target, [f"the .onnx files of {pack}.zip"])) from exc
    staging = Path(tempfile.mkdtemp(prefix=f".{pack}.", dir=folder))
    try:
        try:
            with zipfile.ZipFile(tmp) as zf:
                members = [m for m in zf.infolist() if not m.is_dir()]
                onnx = [m for m in members if m.filename.lower().endswith(".onnx")]
                if not onnx:
                    raise ModelDownloadError(f"{pack}.zip holds no .onnx model file")
                for member in onnx:
                    name = Path(member.filename).name
                    if not name or name.startswith("."):
                        continue
                    with zf.open(member) as src, open(staging / name, "xb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ModelDownloadError(
                f"{pack}.zip could not be unpacked ({exc}): it was not saved; try again or "
                f"unpack the models into {target} yourself"
            ) from exc
        if target.exists():
            shutil.rmtree(target)  # an empty or partial folder left by insightface itself
        os.replace(staging, target)
    finally:
        tmp.unlink(missing_ok=True)
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    log.info("downloaded the insightface %s models into %s", pack, target)
    return target


def _providers() -> tuple[list[str], int]:
    import onnxruntime

    available = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"], 0
    return ["CPUExecutionProvider"], -1


class InsightFaceDetector:
    """``insightface.app.FaceAnalysis`` behind the `FaceDetector` protocol."""

    name = "insightface"
    has_landmarks = True

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] | None = None,
        pack: str = DEFAULT_PACK,
        accept_license: bool = False,
        det_size: int = 640,
        det_thresh: float = 0.5,
    ) -> None:
        self.root = Path(root).expanduser() if root else default_root()
        self.pack = pack
        if not models_present(self.root, pack) and not accept_license:
            raise LicenseNotAcceptedError(
                f"the insightface {pack} models are not in {self.root / 'models'} and would be "
                "downloaded under a non-commercial research licence: accept it first "
                "(CLI: --accept-model-license), or pick --backend yunet"
            )
        if not models_present(self.root, pack):
            # Our own download (plain "no internet connection: copy ... into <folder>" error,
            # no half-unpacked folder) instead of insightface's, which prints and raises raw
            # connection errors.
            download_insightface_models(self.root, pack)
        try:
            from insightface.app import FaceAnalysis
        except ImportError as exc:
            raise FaceBackendError(
                f"insightface is not installed or broken ({exc}); install it with "
                "`pip install --no-deps insightface` or pick --backend yunet"
            ) from exc
        providers, ctx_id = _providers()
        self.providers = providers
        chatter = io.StringIO()  # insightface print()s download paths; keep stdout clean
        try:
            with contextlib.redirect_stdout(chatter):
                app = FaceAnalysis(
                    name=pack,
                    root=str(self.root),
                    allowed_modules=["detection", "recognition", "landmark_3d_68"],
                    providers=providers,
                )
                app.prepare(ctx_id=ctx_id, det_thresh=det_thresh, det_size=(det_size, det_size))
        except FaceBackendError:
            raise
        except Exception as exc:  # download failure, broken zip, bad ONNX file
            raise FaceBackendError(
                f"insightface could not load the {pack} models from {self.root}: {exc}"
            ) from exc
        finally:
            if chatter.getvalue().strip():
                log.info("insightface: %s", chatter.getvalue().strip())
        self._app = app
        self.has_embeddings = "recognition" in app.models
        log.info("insightface %s on %s, tasks %s", pack, providers[0], sorted(app.models))

    def detect(self, image: np.ndarray) -> list[Face]:
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError("detect() needs an RGB image of shape (H, W, 3)")
        bgr = np.ascontiguousarray(image[:, :, ::-1])
        faces = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # skimage API notice in face_align
            found_faces = self._app.get(bgr)
        for found in found_faces:
            x1, y1, x2, y2 = (float(v) for v in found.bbox[:4])
            kps = found.kps
            marks = [(float(p[0]), float(p[1])) for p in kps] if kps is not None else None
            emb = found.embedding
            pose = None
            if found.pose is not None:  # insightface order: pitch, yaw, roll
                pitch, yaw, roll = (float(v) for v in found.pose)
                pose = (yaw, pitch, roll)
            faces.append(
                Face(
                    box=(x1, y1, x2 - x1, y2 - y1),
                    score=float(found.det_score),
                    landmarks=marks,
                    embedding=normalise(emb) if emb is not None else None,
                    pose=pose,
                    source=self.name,
                )
            )
        return faces
