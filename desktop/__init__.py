"""PySide6 desktop GUI and the ``likeness`` command line."""
