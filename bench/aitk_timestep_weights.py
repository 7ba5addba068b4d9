"""Fit the loss-weight curve of ai-toolkit's ``timestep_type: weighted`` (reference tool).

ai-toolkit draws one of its 1000 training timesteps uniformly (t = 1000, 999, ..., 1; noise
level s = t / 1000) and multiplies the loss by a measured weight per timestep. Likeness does not
ship that table; it uses a degree-10 Chebyshev fit of weight against s, whose coefficients are
``WEIGHTED_CHEBYSHEV`` in ``training/objective.py``. This script re-derives them from a checkout
of ai-toolkit (the file is read as data with ``ast``, never imported) and prints the fit error:

    python bench/aitk_timestep_weights.py AI_TOOLKIT/toolkit/timestep_weighing/default_weighing_scheme.py
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import numpy as np


def read_table(path: Path) -> np.ndarray:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            return np.array(ast.literal_eval(node.value), dtype=np.float64)
    raise SystemExit(f"{path}: no list of weights found")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    table = read_table(Path(argv[0]))
    s = np.arange(1000, 0, -1) / 1000.0  # index i -> timestep 1000 - i -> s = t / 1000
    fit = np.polynomial.chebyshev.Chebyshev.fit(s, table, 10, domain=[0.0, 1.0])
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from training.objective import WEIGHTED_CHEBYSHEV, weighted_loss_weights

    print("coefficients:", "(" + ", ".join(f"{c:.6f}" for c in fit.coef) + ")")
    ours = np.array(weighted_loss_weights(s.tolist()))
    err = np.abs(ours - table)
    print(f"shipped coefficients: {len(WEIGHTED_CHEBYSHEV)}")
    print(f"max |ours - table| = {err.max():.4f} at s = {s[err.argmax()]:.3f}")
    print(
        f"rms = {np.sqrt((err**2).mean()):.4f}; table mean {table[:999].mean():.4f}, "
        f"ours {ours[:999].mean():.4f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
