#!/usr/bin/env bash
# The script a CI job calls: evaluate the candidate checkpoint, gate its accuracy against the
# stored baseline, and write a report (uploaded as an artifact). Exit status is the gate's.
#
#   ci/gate.sh MODEL [ADAPTER]        (env: DATASET, BASELINE, OUT, FGBENCH, CONFIG, CONCURRENCY)
# Exit: 0 pass, 1 regression, 2 bad input or usage, 3 a runtime failure.
#
# The stored baseline was measured on another machine, so the default config gates accuracy
# only (machine and batching differences are listed beside the verdict); speed is gated with
# `fgbench gate --interleaved`, which measures baseline and candidate now, on this machine.
set -euo pipefail
MODEL=${1:?usage: ci/gate.sh MODEL [ADAPTER]}
ADAPTER=${2:-}
DATASET=${DATASET:-datasets/demo.jsonl}
BASELINE=${BASELINE:-ci/baseline/demo}
OUT=${OUT:-reports/ci}
FGBENCH=${FGBENCH:-fgbench}
rm -rf "$OUT/run"
"$FGBENCH" eval --model "$MODEL" ${ADAPTER:+--adapter "$ADAPTER"} --dataset "$DATASET" --concurrency "${CONCURRENCY:-8}" --out "$OUT/run"
"$FGBENCH" report "$BASELINE" "$OUT/run" --compare --dataset "$DATASET" --out "$OUT/report" || true
"$FGBENCH" compare "$BASELINE" "$OUT/run" --dataset "$DATASET" --format markdown >"$OUT/compare.md" || true
status=0
"$FGBENCH" gate --baseline "$BASELINE" --current "$OUT/run" --config "${CONFIG:-ci/gate-accuracy.toml}" --junit "$OUT/gate.xml" --format markdown | tee "$OUT/gate.md" || status=${PIPESTATUS[0]}
exit $status
