#!/usr/bin/env bash
# Cross-engine parity on the demo model (docs/performance.md, parity), greedy:
#   - mistral.rs vs llama.cpp on the same f32 weights (the demo GGUF dequantized, exported);
#   - llama.cpp f32 vs f16 vs Q8_0 vs the published Q4_K_M;
#   - llama.cpp at 1 vs 8 sequences in one batch (batch invariance).
#   scripts/parity-engines.sh [N_CASES] [MAX_NEW_TOKENS]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-48}
MAX=${2:-64}
FG=${FGBENCH_BIN:-${CARGO_TARGET_DIR:-target}/debug/fgbench}
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
M=$CACHE/models
DEMO_DIR=$($FG models fetch-demo)
for t in f32 f16; do
  [[ -f $M/demo-$t.gguf ]] || $FG models export-gguf "$DEMO_DIR" --out "$M/demo-$t.gguf" --type $t --tokenizer-from "$M/gemma-3-270m-q4_k_m.gguf" >/dev/null
done
Q=$CACHE/llama.cpp/build/bin/llama-quantize
[[ -f $M/demo-q8_0.gguf || ! -x $Q ]] || "$Q" "$M/demo-f32.gguf" "$M/demo-q8_0.gguf" Q8_0 >/dev/null 2>&1
common=(--dataset datasets/demo.jsonl --limit "$N" --max-new-tokens "$MAX")
echo "== mistral.rs vs llama.cpp, f32 weights; llama.cpp with 8 sequences in flight"
$FG parity --model "$M/demo-f32.gguf" "${common[@]}" --variant engine:mistralrs --variant engine:llamacpp --variant engine:llamacpp+concurrency:8
echo "== llama.cpp: f32 vs f16, Q8_0 and the published Q4_K_M"
variants=(--variant engine:llamacpp --variant "engine:llamacpp+model:$M/demo-f16.gguf")
[[ -f $M/demo-q8_0.gguf ]] && variants+=(--variant "engine:llamacpp+model:$M/demo-q8_0.gguf")
variants+=(--variant "engine:llamacpp+model:demo")
$FG parity --model "$M/demo-f32.gguf" "${common[@]}" "${variants[@]}"
