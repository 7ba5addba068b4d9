"""Work around a PySide6 6.12.0 reference-count bug on Python < 3.12.

In PySide6 6.12.0 every Python-level ``SignalInstance.emit()`` returns ``True`` without
taking a reference to it, so each emit lowers ``True``'s reference count by one. On Python
3.11 (where ``True`` / ``False`` / ``None`` are not yet immortal) the interpreter aborts with
"bool_dealloc: deallocating True or False" after a few hundred emits — e.g. while face
analysis reports per-image results. 6.11.x is not affected; Python >= 3.12 is immune.

``pin_singletons()`` gives the three singletons a very large extra reference count once, which
is what Python 3.12 does for them anyway ("immortal objects"). It does nothing on other
versions. The real fix is to avoid PySide6 6.12.0 (``PySide6-Essentials!=6.12.0``).
"""

from __future__ import annotations

import logging
import sys

log = logging.getLogger(__name__)
_done = False


def affected() -> bool:
    if sys.version_info >= (3, 12):
        return False
    try:
        import PySide6
    except ImportError:
        return False
    return tuple(PySide6.__version_info__[:2]) == (6, 12)


def pin_singletons() -> bool:
    """Make True / False / None effectively immortal on an affected PySide6; True if applied."""
    global _done
    if _done or not affected():
        return _done
    import ctypes

    for obj in (True, False, None):
        # ob_refcnt is the first field of every PyObject (release builds)
        ctypes.c_ssize_t.from_address(id(obj)).value += 1 << 40
    _done = True
    log.info("PySide6 6.12.0 on Python %d.%d: pinned bool/None reference counts "
             "(emit() refcount bug)", *sys.version_info[:2])  # fmt: skip
    return True
