#!/usr/bin/env bash
# fgbench's llama.cpp engine against llama-batched-bench on the same work, interleaved
# (docs/performance.md, "Batching against llama-batched-bench"): N sequences of a PP-token
# prompt and TG new tokens each, all starting together. llama-batched-bench is built from the
# engine's llama.cpp source with the engine's CPU kernels (scripts/build-llama-server.sh), so
# only the scheduling differs. Its sequences/s is N over its prompt and generation time;
# fgbench's is requests/s over W waves of N requests in a closed loop (one wave is exactly
# llama-batched-bench's work; more waves are the steady state of N in flight), after one
# warm-up request, with eos ignored and the prefix cache off (its synthetic prompts are all
# alike, which the cache would turn into one prefill). The order of the tools (and of the
# two fgbench builds) alternates from round to round, and the means and ratios (of the
# means, and per round) are printed at the end.
#
#   scripts/bench-batching.sh [ROUNDS] [LEVELS] [PP] [TG] [WAVES]
#
# FGBENCH_STEP_PROFILE=1 in the environment adds fgbench's per-step profile to the log;
# FGBENCH_BEFORE=path/to/fgbench runs another build of fgbench too ("fgbench before"), for a
# before/after in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
LEVELS=${2:-8,32}
PP=${3:-256}
TG=${4:-64}
WAVES=${5:-1,4}
FG=${FGBENCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/fgbench}
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
GGUF=$CACHE/models/gemma-3-270m-q4_k_m.gguf
BB=$(scripts/build-llama-server.sh llama-batched-bench)
work=$(mktemp -d)
$FG models fetch-demo >/dev/null
git rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /' || true
printf '%-6s %4s %-29s %10s\n' round n tool seqs/s | tee "$work/table"
llama_bb() {
  # One stream per sequence (its default), each with room for a prompt and its answer.
  "$BB" -m "$GGUF" -t "$(nproc)" -c $((n * (PP + TG + 32))) -b 2048 -ub 512 -npp "$PP" -ntg "$TG" -npl "$n" \
    2>"$work/bb.log" | python3 -c "
import sys
rows = [l.split('|')[1:-1] for l in sys.stdin if l.startswith('|') and l.split('|')[1].strip().isdigit()]
r = [x.strip() for x in rows[-1]]
print(f'$round'.ljust(6), '$n'.rjust(4), 'llama-batched-bench'.ljust(29), f'{int(r[2]) / float(r[8]):10.3f}')"
}
fgbench_waves() {
  local out=$work/fg-$round-$n-$1$3
  $2 bench --model demo --prompt-tokens "$PP" --max-new-tokens "$TG" --ignore-eos --prefix-cache off \
    --concurrency "$n" --warmup 1 --requests-per-level $(($1 * n)) --out "$out" >/dev/null 2>"$out.log"
  python3 -c "
import json
l = json.load(open('$out/bench.json'))['levels'][0]
print(f'$round'.ljust(6), '$n'.rjust(4), 'fgbench$3, $1 wave(s)'.ljust(29), f\"{l['requests_per_s']:10.3f}\")"
  if [[ -n ${FGBENCH_STEP_PROFILE:-} ]]; then grep 'step profile' "$out.log" >&2; fi
}
for round in $(seq "$ROUNDS"); do
  for n in ${LEVELS//,/ }; do
    if ((round % 2)); then llama_bb; fi
    for w in ${WAVES//,/ }; do
      if [[ -n ${FGBENCH_BEFORE:-} ]] && ((round % 2 == 0)); then fgbench_waves "$w" "$FGBENCH_BEFORE" " before"; fi
      fgbench_waves "$w" "$FG" ""
      if [[ -n ${FGBENCH_BEFORE:-} ]] && ((round % 2)); then fgbench_waves "$w" "$FGBENCH_BEFORE" " before"; fi
    done
    if ((round % 2 == 0)); then llama_bb; fi
  done
done | tee -a "$work/table"
python3 - "$work/table" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]).read().splitlines()[1:]:
    round_, n, rest = line.split(None, 2)
    tool, value = rest.rsplit(None, 1)
    runs[(int(n), tool)].append(float(value))
print("\nmeans over rounds, and against llama-batched-bench")
for (n, tool), v in sorted(runs.items()):
    ref = statistics.mean(runs[(n, "llama-batched-bench")])
    print(f"{n:4} {tool:<29} {statistics.mean(v):8.3f}  ({', '.join(f'{x:.3f}' for x in v)})  {100 * statistics.mean(v) / ref:5.1f}%")
# The machine's speed drifts between rounds; each round's tools ran minutes apart, so the
# ratio within a round is the steadier estimate.
print("\nper round, against the llama-batched-bench run of the same round: median (range)")
for (n, tool), v in sorted(runs.items()):
    if tool == "llama-batched-bench":
        continue
    r = [100 * x / b for x, b in zip(v, runs[(n, "llama-batched-bench")])]
    print(f"{n:4} {tool:<29} {statistics.median(r):5.1f}%  ({min(r):.1f}-{max(r):.1f}%)")
PY
