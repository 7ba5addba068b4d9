"""Captioners: one backend per file behind the :class:`~curation.captioners.base.Captioner`
protocol, the model download helper, and the autocaption flow (suggestions to review).

Nothing heavy is imported here: torch/transformers load inside the backend when it loads.
"""

from curation.captioners.base import (
    TASKS,
    CaptionerError,
    CaptionOutput,
    ModelNotAvailableError,
)

__all__ = ["TASKS", "CaptionOutput", "CaptionerError", "ModelNotAvailableError"]
