#!/usr/bin/env bash
# The prefix cache on an app's requests (they share the developer turn and the tool
# block; docs/performance.md, "Prefix reuse"), interleaved on and off in one run:
#   - eval cases/s of the held-out app set at concurrency 1 and 8 (base + the shipped adapter);
#   - serve: TTFT p50 of repeated requests with the same tool block, through the socket;
#   - greedy parity of prefix-cache:off against on (identical completions expected);
#   - llama-batched-bench (no reuse, and with -pps: one prompt shared by a whole wave) on the
#     same work: the eval's mean prompt and completion lengths, 1 and 8 sequences. It
#     ignores --lora (it never loads adapters), so this runs only with FGBENCH_ADAPTER=''
#     (the base model on both sides).
#
#   [FGBENCH_ADAPTER=adapters/app-lora] scripts/prefix-cache-bench.sh [N_CASES] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-48}
ROUNDS=${2:-2}
FG=${FGBENCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/fgbench}
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
DS=datasets/app/test.jsonl
ADAPTER=${FGBENCH_ADAPTER-adapters/app-lora}
work=$(mktemp -d)
$FG models fetch-demo >/dev/null
git rev-parse --short HEAD 2>/dev/null | sed 's/^/commit /' || true
printf '%-8s %-6s %5s %9s %10s %10s %9s\n' round cache conc cases/s ttft_p50 e2e_p50 hits
for round in $(seq "$ROUNDS"); do
  for conc in 1 8; do
    for cache in off on; do
      out=$work/eval-$round-$conc-$cache
      $FG eval --model demo ${ADAPTER:+--adapter "$ADAPTER"} --dataset $DS --limit "$N" --scorer exact --concurrency "$conc" \
        --prefix-cache "$cache" --out "$out" >/dev/null 2>&1
      python3 - "$round" "$cache" "$conc" "$out/summary.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[4]))["timing"]
p = t.get("prefix_cache") or {}
print(f"{sys.argv[1]:<8} {sys.argv[2]:<6} {sys.argv[3]:>5} {t['cases_per_s']:9.3f} {t['ttft_ms_p50']:10.0f} {t['e2e_ms_p50']:10.0f} {p.get('hits', '-'):>9}")
print(t['cases_per_s'], t['prompt_tokens_mean'], t['completion_tokens_mean'], file=open(sys.argv[4] + '.rate', 'w'))
PY
    done
  done
done
echo "== llama-batched-bench on the same work (the eval's mean lengths)"
if [[ -n $ADAPTER ]]; then
  echo "skipped: llama-batched-bench cannot load the adapter (FGBENCH_ADAPTER='' compares the base model)"
else
  BB=$(scripts/build-llama-server.sh llama-batched-bench)
  read -r _ PP TG < "$work/eval-1-1-off/summary.json.rate"
  PP=$(printf '%.0f' "$PP"); TG=$(printf '%.0f' "$TG")
  for conc in 1 8; do
    for pps in "" -pps; do
      # One stream per sequence (its default), each with room for its prompt and answer.
      rate=$("$BB" -m "$CACHE/models/gemma-3-270m-q4_k_m.gguf" -t "$(nproc)" -c $((conc * (PP + TG + 32))) -b 2048 -ub 512 \
        -npp "$PP" -ntg "$TG" -npl "$conc" $pps 2>/dev/null | python3 -c "
import sys
rows = [l.split('|')[1:-1] for l in sys.stdin if l.startswith('|') and l.split('|')[1].strip().isdigit()]
r = [x.strip() for x in rows[-1]]
print(int(r[2]) / float(r[8]))")
      python3 - "$work" "$conc" "$rate" "${pps:-no reuse}" "$ROUNDS" <<'PY'
import statistics, sys
work, conc, rate, kind, rounds = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4], int(sys.argv[5])
mean = lambda cache: statistics.mean(float(open(f"{work}/eval-{r}-{conc}-{cache}/summary.json.rate").read().split()[0]) for r in range(1, rounds + 1))
print(f"{conc} in flight: llama-batched-bench ({kind}) {rate:.3f} seqs/s; fgbench cache off {mean('off'):.3f} ({100 * mean('off') / rate:.0f}%), on {mean('on'):.3f} cases/s ({100 * mean('on') / rate:.0f}%)")
PY
    done
  done
fi
# The held-out set has 4 developer turns (one per "current time"); the first request of a
# block prefills it and hands it to the block's holder, the rest copy it.
one_block=$(python3 -c "
import json
rows = [json.loads(l) for l in open('$DS')]
dev = lambda r: r['messages'][0]['content']
print(','.join([r['id'] for r in rows if dev(r) == dev(rows[0])][:16]))")
mixed=$(python3 -c "import json; print(','.join(json.loads(l)['id'] for l in list(open('$DS'))[:16]))")
for set in one_block mixed; do
  echo "== serve: TTFT of 16 requests one at a time, $set (one tool block / the first 16 rows, 4 blocks)"
  ids=${!set}
  for cache in off on; do
    sock=$work/s-$set-$cache.sock
    $FG serve --socket "$sock" --model "m=demo" --dataset $DS --prefix-cache "$cache" --max-new-tokens 32 --allow-shutdown >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 600); do [[ -S $sock ]] && break; sleep 0.2; done
    $FG client --socket "$sock" bench --model m --cases "$ids" --concurrency 1 --requests 16 --max-new-tokens 32 >/dev/null
    $FG client --socket "$sock" '{"type":"stats"}' | python3 -c "import json,sys; m=json.loads(sys.stdin.read())['models']['m']; print(f'prefix-cache $cache: TTFT p50 {m[\"ttft_ms_p50\"]:.0f} ms, e2e p50 {m[\"e2e_ms_p50\"]:.0f} ms, prefix hits {m[\"prefix_hits\"]}')"
    $FG client --socket "$sock" '{"type":"shutdown"}' >/dev/null
    wait $pid
  done
done
echo "== parity: prefix-cache:off against on (greedy, app set and BFCL-like demo set)"
$FG parity --model demo ${ADAPTER:+--adapter "$ADAPTER"} --dataset $DS --limit "$N" --variant base --variant prefix-cache:off --variant concurrency:8 2>/dev/null
$FG parity --model demo --dataset datasets/demo.jsonl --variant base --variant prefix-cache:off 2>/dev/null
