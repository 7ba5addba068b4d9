#!/usr/bin/env bash
# Sets up .venv if needed and runs the whole test suite: ruff, import-linter, pyright, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export QT_QPA_PLATFORM=offscreen
export HF_HUB_OFFLINE=1
export PYTHONDONTWRITEBYTECODE=1
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/lint-imports
.venv/bin/pyright  # basic mode over curation/ and training/ (see [tool.pyright] in pyproject.toml)
.venv/bin/python -m pytest -q "$@"
