#!/usr/bin/env bash
# Both engines and llama.cpp's own tools on this CPU, in one run, on the demo model
# (the numbers of docs/performance.md, "Engines on CPU"):
#   - llama-bench pp256/tg64 and llama-batched-bench on the demo GGUF (when built by
#     scripts/llama-parity.sh);
#   - fgbench bench (256-token prompt, 64 new tokens) through each engine;
#   - fgbench eval cases/s at concurrency 1/4/8 through each engine, peak RSS, overhead;
#   - mistral.rs batching: same-length vs different-length prompts in flight.
#
#   scripts/bench-cpu.sh [N_CASES] [MAX_NEW_TOKENS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-16}
MAX=${2:-64}
FG=${FGBENCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/fgbench}
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
GGUF=$CACHE/models/gemma-3-270m-q4_k_m.gguf
work=$(mktemp -d)
$FG models fetch-demo >/dev/null
BIN=$CACHE/llama.cpp/build/bin
if [[ -x $BIN/llama-bench ]]; then
  echo "== llama.cpp tools, demo GGUF (Q4_K_M), 2 threads"
  "$BIN/llama-bench" -m "$GGUF" -t 2 -p 256 -n 64 -r 3 2>/dev/null | grep -E "pp|tg"
  "$BIN/llama-batched-bench" -m "$GGUF" -t 2 -c 8192 -b 2048 -ub 512 -npp 256 -ntg 64 -npl 1,4,8 2>/dev/null | grep -E "^\|" || true
fi
for engine in llamacpp mistralrs; do
  echo "== fgbench bench --engine $engine (256-token prompt, 64 new tokens)"
  $FG bench --engine $engine --model demo --prompt-tokens 256 --max-new-tokens 64 --warmup 1 --repetitions 3 2>/dev/null | tail -3
done
printf '== fgbench eval, %s demo cases, %s new tokens\n%-22s %8s %9s %10s %10s %9s %9s\n' "$N" "$MAX" setting cases/s ttft_p50 prefill/s decode/s overhead rss_mib
run() {
  local name=$1; shift
  /usr/bin/time -f "%M" -o "$work/$name.rss" $FG eval --model demo --limit "$N" --max-new-tokens "$MAX" --out "$work/$name" "$@" >/dev/null 2>&1 || { echo "$name: failed"; return; }
  python3 - "$name" "$work/$name/summary.json" "$work/$name.rss" <<'PY'
import json, sys
t = json.load(open(sys.argv[2]))["timing"]
rss = int(open(sys.argv[3]).read().split()[-1]) / 1024
f = lambda v, d=1: "-" if v is None else f"{v:.{d}f}"
print(f"{sys.argv[1]:<22} {t['cases_per_s']:8.3f} {f(t['ttft_ms_p50'],0):>9} {f(t['prefill_tok_s_mean']):>10} {f(t['decode_tok_s_mean']):>10} {100*t['harness_overhead']:8.2f}% {rss:9.0f}")
PY
}
for c in 1 4 8; do run "llamacpp-c$c" --engine llamacpp --concurrency $c; done
for c in 1 4; do run "mistralrs-c$c" --engine mistralrs --concurrency $c; done
echo "== mistral.rs batching: 4 prompts of the same length vs 4 demo prompts of different lengths"
$FG bench --engine mistralrs --model demo --prompt-tokens 256,256,256,256 --max-new-tokens 32 --concurrency 1,4 --warmup 0 --prefix-cache 0 2>/dev/null | tail -4
$FG bench --engine mistralrs --model demo --limit 4 --max-new-tokens 32 --concurrency 1,4 --warmup 0 --prefix-cache 0 2>/dev/null | tail -4
