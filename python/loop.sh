#!/usr/bin/env bash
# The app fine-tune from scratch, as adapters/app-lora/ was made, and its before/after:
#   fetch the demo model (base Gemma 3 270M) -> render the app's training rows with fgbench
#   (proved disjoint from the validation and test rows, skeletons included) -> LoRA
#   fine-tune with python/finetune.py (210 steps of 16, about 40 minutes on 2 CPU cores) ->
#   fgbench on the validation rows (what settings are chosen by) -> before-after on the
#   template-held-out test rows, with the perturbation suite.
#
#   python/loop.sh [OUT]      (env: FGBENCH, STEPS, LR, BUDGET_MIN, CONCURRENCY)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/app-finetune}
FGBENCH=${FGBENCH:-cargo run --locked -q --}
STEPS=${STEPS:-210}
BUDGET_MIN=${BUDGET_MIN:-0}
PY=$(python/setup-train-venv.sh)
BASE=$($FGBENCH models fetch-demo)
mkdir -p "$OUT"
$FGBENCH datasets export-train --from datasets/app/train.jsonl --check-against datasets/app/test.jsonl \
  --check-against datasets/app/validation.jsonl --out "$OUT/train.jsonl"
"$PY" python/finetune.py --model "$BASE" --train "$OUT/train.jsonl" --out "$OUT/lora" \
  --steps "$STEPS" --batch 16 ${LR:+--lr "$LR"} --time-budget "$BUDGET_MIN"
$FGBENCH eval --model demo --adapter "$OUT/lora/adapter" --dataset datasets/app/validation.jsonl --scorer exact \
  --concurrency "${CONCURRENCY:-8}" --out "$OUT/validation"
$FGBENCH before-after --model demo --adapter "$OUT/lora/adapter" --dataset datasets/app/test.jsonl \
  --concurrency "${CONCURRENCY:-8}" --perturb shuffle-tools,rename,activation,remove-called-tool --out "$OUT/before-after"
