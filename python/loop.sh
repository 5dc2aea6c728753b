#!/usr/bin/env bash
# The app fine-tune from scratch, as adapters/app-lora/ was made, and its before/after:
#   fetch the demo model (base Gemma 3 270M) -> render the app's training rows with fgbench
#   (proved disjoint from the held-out rows) -> LoRA fine-tune with python/finetune.py
#   (45-minute budget on 2 CPU cores) -> fgbench before-after on the held-out rows.
#
#   python/loop.sh [OUT]      (env: FGBENCH, STEPS, LR, BUDGET_MIN, CONCURRENCY)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/app-finetune}
FGBENCH=${FGBENCH:-cargo run --locked -q --}
STEPS=${STEPS:-205}
BUDGET_MIN=${BUDGET_MIN:-44}
PY=$(python/setup-train-venv.sh)
BASE=$($FGBENCH models fetch-demo)
mkdir -p "$OUT"
$FGBENCH datasets export-train --from datasets/app/train.jsonl --check-against datasets/app/test.jsonl --out "$OUT/train.jsonl"
"$PY" python/finetune.py --model "$BASE" --train "$OUT/train.jsonl" --out "$OUT/lora" \
  --steps "$STEPS" --batch 16 ${LR:+--lr "$LR"} --time-budget "$BUDGET_MIN"
$FGBENCH before-after --model demo --adapter "$OUT/lora/adapter" --dataset datasets/app/test.jsonl \
  --concurrency "${CONCURRENCY:-8}" --out "$OUT/before-after"
