#!/usr/bin/env bash
# The remote engine's cost: the same cases through the local llama.cpp engine and through
# llama-server (built from the same llama.cpp source, same CPU kernels) with `--engine openai`
# in raw mode, at 1 and 8 in flight, one after the other on this machine; then greedy
# parity of the two on the same GGUF.
#
#   scripts/remote-bench.sh [DATASET] [CASES_AT_1] [CASES_AT_8]
#
# EXTRA="--ignore-eos --max-new-tokens 64" makes both sides generate the same number of
# tokens per case, so cases/s compares the same work whatever the completions.
set -euo pipefail
cd "$(dirname "$0")/.."
DS=${1:-datasets/app/test.jsonl}
N1=${2:-16}
N8=${3:-48}
FG=${FGBENCH_BIN:-target/release/fgbench}
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
[[ -x $FG ]] || cargo build --release --locked
SERVER=$(scripts/build-llama-server.sh)
$FG models fetch-demo >/dev/null
GGUF=$CACHE/models/gemma-3-270m-q4_k_m.gguf
PORT=${PORT:-18090}
work=$(mktemp -d)
"$SERVER" -m "$GGUF" --host 127.0.0.1 --port "$PORT" -np 8 -c 65536 -t "$(nproc)" --no-webui >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$work"' EXIT
until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do sleep 0.2; done
run() { # NAME CONCURRENCY LIMIT ENGINE-FLAGS...
  local name=$1 c=$2 n=$3
  shift 3
  # shellcheck disable=SC2086
  $FG eval --dataset "$DS" --limit "$n" --concurrency "$c" --scorer exact --out "$work/$name" ${EXTRA:-} "$@" | grep '^run:' | sed "s/^/$name: /"
}
for c in 1 8; do
  n=$([[ $c == 1 ]] && echo "$N1" || echo "$N8")
  run "local-c$c" "$c" "$n" --engine llamacpp --model demo
  run "remote-c$c" "$c" "$n" --engine openai --endpoint "http://127.0.0.1:$PORT"
done
python3 - "$work" <<'PY'
import json, sys, os
w = sys.argv[1]
for c in ("c1", "c8"):
    a = {json.loads(l)["id"]: json.loads(l) for l in open(os.path.join(w, f"local-{c}", "predictions.jsonl"))}
    b = {json.loads(l)["id"]: json.loads(l) for l in open(os.path.join(w, f"remote-{c}", "predictions.jsonl"))}
    same = sum(a[i]["output"] == b[i]["output"] for i in a)
    ptok = sum(a[i].get("prompt_tokens") == b[i].get("prompt_tokens") for i in a)
    print(f"{c}: {same}/{len(a)} identical completions, {ptok}/{len(a)} equal prompt token counts")
PY
