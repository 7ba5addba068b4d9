"""Dataset curation core: datasets, images, faces, balance, captions, exports.

Never imports Qt, ``training`` or ``desktop`` (enforced by import-linter in CI).
"""

__version__ = "0.1.0"
