"""``python -m training run CONFIG [--resume]`` (see ``training/runner.py``)."""

from __future__ import annotations

import sys

from training.runner import main

if __name__ == "__main__":
    sys.exit(main())
