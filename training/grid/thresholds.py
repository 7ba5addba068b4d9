"""The ranking's thresholds: first guesses from the shared photos, documented in
``docs/grid.md``, not yet calibrated on real Z-Image grids."""

OUTLIER = 0.30  # identity below this against the other dataset faces: another person
WRONG_PERSON = 0.30
COPY_HAMMING = 8  # of 64 bits; copies (resized, re-encoded) measured 0-2, other photos 22-32
COPY_CLIP = 0.95
COPY_FRACTION = 0.25
COLLAPSE = {"clip": 0.92, "layout": 0.90}
OBEY_MARGIN = 0.9  # within 90% of the best checkpoint's obedience still "follows prompts"
TIER_MARGIN = 0.34
