#!/usr/bin/env bash
# Creates the fine-tuning venv (~2 min, ~5.6 GB with torch) at ${VENV:-~/.cache/fgbench/venv-train}.
set -euo pipefail
VENV=${VENV:-$HOME/.cache/fgbench/venv-train}
[[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q -r "$(dirname "$0")/requirements-train.txt"
echo "$VENV/bin/python"
