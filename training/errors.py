"""The trainer's own exceptions: one hierarchy under ``TrainingError``. Each one carries a
protocol ``code`` and a message a user can act on; the runner turns them into one ``error``
event and an exit status (``docs/trainer-protocol.md``). ``training.config_errors.ConfigError``
(every bad field of a config) is a ``ConfigInvalidError``.
"""

from __future__ import annotations

OOM_MESSAGE = (
    "the GPU ran out of memory: turn on NF4 (model.quantize_transformer: nf4) or lower the "
    "resolution (datasets[].resolutions), the batch size, or the LoRA rank"
)


class TrainingError(Exception):
    """Base class: ``code`` names the failure in the protocol, ``exit_status`` the process exit."""

    code = "internal"
    exit_status = 1

    def __init__(self, message: str, *, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []


class ConfigInvalidError(TrainingError):
    code = "config_invalid"
    exit_status = 2


class RunExistsError(TrainingError):
    """A fresh run was asked for in a folder that holds another run's checkpoints."""

    code = "run_exists"
    exit_status = 2


class ModelLoadError(TrainingError):
    code = "model_not_found"
    exit_status = 3


class DatasetInvalidError(TrainingError):
    code = "dataset_invalid"
    exit_status = 4


class DiskFullError(TrainingError):
    code = "disk_full"
    exit_status = 5


class SaveError(TrainingError):
    code = "save_failed"
    exit_status = 5


class OutOfMemoryError(TrainingError):
    code = "out_of_memory"
    exit_status = 6

    def __init__(self, message: str = OOM_MESSAGE, **kwargs):
        super().__init__(message, **kwargs)


class ResumeError(TrainingError):
    code = "resume_failed"
    exit_status = 7


class RunLockedError(TrainingError):
    """Another trainer (alive) holds the run folder's lock."""

    code = "run_locked"
    exit_status = 8


def is_cuda_oom(exc: BaseException) -> bool:
    """True for CUDA (and bitsandbytes / cuBLAS) out-of-memory errors."""
    try:
        import torch

        if isinstance(exc, torch.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    text = str(exc).lower()
    return "out of memory" in text and ("cuda" in text or "cublas" in text or "hip" in text)
