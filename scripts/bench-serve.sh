#!/usr/bin/env bash
# Load benchmark of `fgbench serve` (not a test): the demo model behind the socket, clients
# on one connection each sending `generate` requests for demo cases, requests/s and latency
# percentiles at concurrency 1, 4 and 16.
#
#   scripts/bench-serve.sh [REQUESTS_PER_LEVEL] [MAX_NEW_TOKENS] [ENGINE]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-32}
MAX=${2:-64}
ENGINE=${3:-llamacpp}
FG=${FGBENCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/fgbench}
sock=$(mktemp -u /tmp/fgbench-bench-XXXXXX.sock)
$FG serve --socket "$sock" --engine "$ENGINE" --model demo=demo --dataset datasets/demo.jsonl 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do [[ -S $sock ]] && break; sleep 0.5; done
cases=$(python3 -c "import json; print(','.join(json.loads(l)['id'] for l in open('datasets/demo.jsonl')))")
$FG client --socket "$sock" bench --model demo --cases "$cases" --concurrency 1,4,16 --requests "$N" --max-new-tokens "$MAX"
$FG client --socket "$sock" '{"type":"stats"}' | python3 -c "import json,sys; s=json.load(sys.stdin); print('server stats:', s['served'], 'served,', json.dumps(s['models']))"
$FG client --socket "$sock" '{"type":"shutdown"}' >/dev/null
wait $pid
