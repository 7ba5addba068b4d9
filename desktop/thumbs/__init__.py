"""Thumbnails: a pure-Python decoder + disk cache (``cache``) and a Qt loader (``loader``)."""
