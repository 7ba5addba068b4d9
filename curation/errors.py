"""Exception types of the dataset core. Every message is meant to be shown to a user as is."""

from __future__ import annotations


class LikenessError(Exception):
    """Base class of errors the user can act on."""


class DatasetError(LikenessError):
    """The dataset folder cannot be used (missing, not a folder, not readable)."""


class ImageLoadError(LikenessError):
    """One image cannot be read (truncated, not an image, too large, ...)."""


class CaptionReadError(LikenessError):
    """A caption file exists but cannot be read (permissions, I/O error)."""


class CaptionWriteError(LikenessError):
    """A caption could not be written (read-only file or folder, disk full, ...)."""


class BulkEditError(LikenessError):
    """A bulk edit cannot be planned (invalid regular expression, empty search text)."""


class WorkspaceError(LikenessError):
    """The workspace state cannot be opened or is in a state that forbids the operation."""
