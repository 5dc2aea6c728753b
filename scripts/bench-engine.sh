#!/usr/bin/env bash
# CPU benchmark of the mistral.rs engine on the demo model: eval cases/s, TTFT, prefill and decode tokens/s and
# harness overhead for engine settings (dtype / in-situ quantization, threads, concurrency),
# measured in one run so the numbers compare. With llama.cpp built by
# scripts/llama-parity.sh, llama-bench runs on the same GGUF in the same run.
#
#   scripts/bench-engine.sh [N_CASES] [MAX_NEW_TOKENS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-12}
MAX=${2:-64}
FG=${FGBENCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/fgbench}
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
work=$(mktemp -d)
$FG models fetch-demo >/dev/null
printf '%-28s %8s %8s %9s %10s %10s %9s\n' setting cases/s load_s ttft_p50 prefill/s decode/s overhead
run() {
  local name=$1; shift
  $FG eval --engine mistralrs --model demo --limit "$N" --max-new-tokens "$MAX" --out "$work/$name" "$@" >/dev/null 2>&1 || { echo "$name: failed"; return; }
  python3 - "$name" "$work/$name/summary.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[2]))["timing"]
f = lambda v, d=1: "-" if v is None else f"{v:.{d}f}"
print(f"{sys.argv[1]:<28} {t['cases_per_s']:8.3f} {t['model_load_s']:8.1f} {f(t['ttft_ms_p50'],0):>9} {f(t['prefill_tok_s_mean']):>10} {f(t['decode_tok_s_mean']):>10} {100*t['harness_overhead']:8.2f}%")
PY
}
run f32-c1
run f32-c2 --concurrency 2
run f32-c4 --concurrency 4
run f32-c8 --concurrency 8
run f32-c1-threads1 --threads 1
run isq-q8_0-c1 --isq q8_0
run isq-q4k-c1 --isq q4k
run f32-c1-maxseqs1 --max-seqs 1
run f32-c1-prefix0 --prefix-cache 0
LB=$CACHE/llama.cpp/build/bin/llama-bench
if [[ -x $LB ]]; then
  echo "llama.cpp llama-bench, same GGUF, 2 threads:"
  "$LB" -m "$CACHE/models/gemma-3-270m-q4_k_m.gguf" -t 2 -p 256 -n 64 -r 3 2>/dev/null | grep -E "pp|tg|model"
fi
