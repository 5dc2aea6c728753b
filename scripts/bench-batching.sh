#!/usr/bin/env bash
# fgbench's llama.cpp engine against llama-batched-bench on the same work, interleaved
# (docs/performance.md, "Batching against llama-batched-bench"): N sequences of a PP-token
# prompt and TG new tokens each, all starting together. llama-batched-bench is built from the
# engine's llama.cpp source with the engine's CPU kernels (scripts/build-llama-server.sh), so
# only the scheduling differs. Its sequences/s is N over its prompt and generation time;
# fgbench's is requests/s over WAVES waves of N requests, with eos ignored and the prefix
# cache off (its synthetic prompts are all alike, which the cache would turn into one prefill).
#
#   scripts/bench-batching.sh [ROUNDS] [LEVELS] [PP] [TG] [WAVES]
#
# FGBENCH_STEP_PROFILE=1 in the environment adds fgbench's per-step profile to the log.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
LEVELS=${2:-8,32}
PP=${3:-256}
TG=${4:-64}
WAVES=${5:-2}
FG=${FGBENCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/fgbench}
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
GGUF=$CACHE/models/gemma-3-270m-q4_k_m.gguf
BB=$(scripts/build-llama-server.sh llama-batched-bench)
work=$(mktemp -d)
$FG models fetch-demo >/dev/null
git rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /' || true
printf '%-6s %4s %-20s %10s\n' round n tool seqs/s
for round in $(seq "$ROUNDS"); do
  for n in ${LEVELS//,/ }; do
    # One stream per sequence (its default), each with room for a prompt and its answer.
    "$BB" -m "$GGUF" -t "$(nproc)" -c $((n * (PP + TG + 32))) -b 2048 -ub 512 -npp "$PP" -ntg "$TG" -npl "$n" \
      2>"$work/bb.log" | python3 -c "
import sys
rows = [l.split('|')[1:-1] for l in sys.stdin if l.startswith('|') and l.split('|')[1].strip().isdigit()]
r = [x.strip() for x in rows[-1]]
print(f'$round'.ljust(6), '$n'.rjust(4), 'llama-batched-bench'.ljust(20), f'{int(r[2]) / float(r[8]):10.3f}')"
    out=$work/fg-$round-$n
    $FG bench --model demo --prompt-tokens "$PP" --max-new-tokens "$TG" --ignore-eos --prefix-cache off \
      --concurrency "$n" --warmup 0 --requests-per-level $((WAVES * n)) --out "$out" >/dev/null 2>"$out.log"
    python3 -c "
import json
l = json.load(open('$out/bench.json'))['levels'][0]
print(f'$round'.ljust(6), '$n'.rjust(4), 'fgbench'.ljust(20), f\"{l['requests_per_s']:10.3f}\")"
    [[ -n ${FGBENCH_STEP_PROFILE:-} ]] && cat "$out.log"
  done
done
