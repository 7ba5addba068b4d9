#!/usr/bin/env bash
# Adds Likeness to the Linux application menu (current user only), pointing at this
# checkout's .venv. Run `bash scripts/setup.sh` first. Undo: delete the file it prints.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
exe="$repo/.venv/bin/likeness"
[ -x "$exe" ] || { echo "run 'bash scripts/setup.sh' first ($exe not found)" >&2; exit 1; }
dest="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
mkdir -p "$dest"
sed -e "s#@LIKENESS@#$exe#" -e "s#@ICON@#$repo/resources/icons/app.svg#" \
  "$repo/packaging/likeness.desktop.in" > "$dest/likeness.desktop"
echo "$dest/likeness.desktop"
