"""``python -m training run CONFIG [--resume]`` (see ``training/runner.py``) and
``python -m training grid RUN_DIR ...`` (the checkpoint grid, ``training/grid/process.py``)."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    if sys.argv[1:2] == ["grid"]:
        from training.grid.process import main as grid_main

        sys.exit(grid_main(sys.argv[2:]))
    from training.runner import main

    sys.exit(main())
