#!/usr/bin/env bash
# The whole fine-tuning loop on this machine, for real:
#   fetch the demo model -> eval the base -> export training data -> LoRA fine-tune ->
#   eval base+adapter -> fgbench compare -> fgbench report.
#   python/loop.sh [STEPS] [OUT]      (env: FGBENCH, BATCH, N_TRAIN)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-60}
OUT=${2:-reports/finetune}
FGBENCH=${FGBENCH:-cargo run --locked -q --}
BATCH=${BATCH:-4}
N_TRAIN=${N_TRAIN:-300}
PY=$(python/setup-train-venv.sh)
BASE=$($FGBENCH models fetch-demo)
mkdir -p "$OUT"
# The worked example in reports/finetune-example was measured with mistral.rs on the f32
# weights the adapter was trained on; FGBENCH_ENGINE=llamacpp evaluates the published
# Q4_K_M GGUF with the adapter converted to a GGUF LoRA instead.
ENGINE=${FGBENCH_ENGINE:-mistralrs}
[[ -f $OUT/base/results.jsonl ]] || $FGBENCH eval --engine "$ENGINE" --model demo --dataset datasets/demo.jsonl --out "$OUT/base"
$FGBENCH datasets export-train --out "$OUT/train.jsonl" --n "$N_TRAIN"
"$PY" python/finetune.py --model "$BASE" --train "$OUT/train.jsonl" --out "$OUT/lora" --steps "$STEPS" --batch "$BATCH"
rm -rf "$OUT/tuned"
$FGBENCH eval --engine "$ENGINE" --model demo --adapter "$OUT/lora/adapter" --dataset datasets/demo.jsonl --out "$OUT/tuned"
$FGBENCH compare "$OUT/base" "$OUT/tuned" --format markdown | tee "$OUT/compare.md"
$FGBENCH report "$OUT/base" "$OUT/tuned" --compare --out "$OUT/report"
