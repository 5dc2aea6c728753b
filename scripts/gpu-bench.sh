#!/usr/bin/env bash
# GPU numbers of issue 11, run ON a CUDA machine that has no Rust toolchain and no network:
# both engines and llama.cpp's own tools on the same random-weight model with the exact shape
# of Gemma 3 270M (real weights cannot travel there), BFCL prompts in the official format.
#
# Prepare here (see docs/performance.md, "GPU"):
#   gpu/fgbench.xz        release build with --features cuda-dl (mistral.rs on CUDA; llama.cpp
#                         linked as shared libraries), stripped, xz
#   gpu/llama-cuda.tar.xz llama.cpp (the source llama-cpp-sys-2 vendors) built with CUDA as
#                         shared libraries + llama-bench + llama-batched-bench; or
#   gpu/llama.cpp.tar.xz  that source, built here when no prebuilt libraries came along
#   gpu/vocab.gguf.xz     the Gemma 3 vocabulary (models export-gguf --vocab-only)
#   gpu/bfcl-sample.jsonl BFCL cases (fgbench.case/1)
# Then: scripts/gpu-bench.sh [build|measure|all]; results go to $OUT (default ./gpu-out).
set -uo pipefail
cd "$(dirname "$0")/../gpu"
OUT=${OUT:-$PWD/../gpu-out}
mkdir -p "$OUT"
START=$(date +%s)
log() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$OUT/log.txt"; }
step=${1:-all}

if [[ $step == build || $step == all ]]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
  lscpu | grep -E "Model name|^CPU\(s\)" | tee -a "$OUT/gpu.txt"
  [[ -x fgbench ]] || { xz -dkf fgbench.xz && chmod +x fgbench; }
  [[ -f vocab.gguf ]] || xz -dkf vocab.gguf.xz
  if [[ -f llama-cuda.tar.xz ]]; then
    tar xJf llama-cuda.tar.xz
  elif [[ ! -x build/bin/llama-bench ]]; then
    log "building llama.cpp with CUDA"
    tar xJf llama.cpp.tar.xz
    cmake -S llama.cpp -B build -G Ninja -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DBUILD_SHARED_LIBS=ON \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF \
      -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.txt" 2>&1
    cmake --build build -j "$(nproc)" --target llama-bench llama-batched-bench >>"$OUT/cmake.txt" 2>&1 || { log "llama.cpp build failed"; tail -30 "$OUT/cmake.txt"; }
  fi
  log "llama.cpp ready"
fi

libs=$(find "$PWD/build" -name 'libggml*.so*' -printf '%h\n' 2>/dev/null | sort -u | tr '\n' ':')
cudalibs=$(dirname "$(find / -name 'libcublas.so.13' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH="$libs$cudalibs:/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}"
FG="$PWD/fgbench"
T="timeout 240"

if [[ $step == build || $step == all ]]; then
  ldd "$FG" | grep -E "llama|ggml|cuda|cublas" | tee "$OUT/ldd.txt"
  [[ -d rand-f16 ]] || $T "$FG" models random --out rand-f16 --dtype f16 --tokenizer-from vocab.gguf 2>&1 | tail -1
  [[ -d rand-f32 ]] || $T "$FG" models random --out rand-f32 --dtype f32 --tokenizer-from vocab.gguf 2>&1 | tail -1
  log "random models written"
fi

if [[ $step == measure || $step == all ]]; then
  M=rand-f16/model.gguf
  log "llama-bench"
  $T build/bin/llama-bench -m $M -ngl 99 -fa 1 -p 384 -n 64 -r 3 2>&1 | grep -E "^\|" | tee "$OUT/llama-bench.txt"
  log "llama-batched-bench"
  $T build/bin/llama-batched-bench -m $M -ngl 99 -fa 1 -c 40960 -b 2048 -ub 512 -npp 384 -ntg 64 -npl 1,8,32 2>&1 | grep -E "^\|" | tee "$OUT/llama-batched-bench.txt"
  log "fgbench bench, llama.cpp engine"
  $T "$FG" bench --engine llamacpp --model $M --dataset ../datasets/demo.jsonl --prompt-tokens 384 --max-new-tokens 64 --ignore-eos --concurrency 1,8,32 \
    --repetitions 64 --warmup 4 --out "$OUT/bench-llamacpp" 2>&1 | tail -6 | tee "$OUT/bench-llamacpp.txt"
  log "fgbench bench, llama.cpp engine, one unified KV cache (the default is a stream per sequence)"
  $T "$FG" bench --engine llamacpp --kv-layout unified --model $M --dataset ../datasets/demo.jsonl --prompt-tokens 384 --max-new-tokens 64 --ignore-eos \
    --concurrency 8,32 --repetitions 64 --warmup 4 2>&1 | tail -4 | tee "$OUT/bench-llamacpp-kv-unified.txt"
  log "fgbench bench, llama.cpp engine, 4 CPU threads (do llama.cpp's spinning threads slow host sampling?)"
  $T "$FG" bench --engine llamacpp --threads 4 --model $M --dataset ../datasets/demo.jsonl --prompt-tokens 384 --max-new-tokens 64 --ignore-eos \
    --concurrency 32 --repetitions 64 --warmup 4 2>&1 | tail -3 | tee "$OUT/bench-llamacpp-threads4.txt"
  log "fgbench bench, llama.cpp engine, backend (GPU) sampling"
  $T "$FG" bench --engine llamacpp --backend-sampling --model $M --dataset ../datasets/demo.jsonl --prompt-tokens 384 --max-new-tokens 64 --ignore-eos \
    --concurrency 1,8,32 --repetitions 64 --warmup 4 2>&1 | tail -5 | tee "$OUT/bench-llamacpp-backend-sampling.txt"
  for c in 1 8 32; do
    n=$((c == 1 ? 48 : 320))
    log "fgbench eval, llama.cpp, concurrency $c, $n BFCL cases"
    $T "$FG" eval --engine llamacpp --model $M --dataset bfcl-sample.jsonl --limit $n --max-new-tokens 64 --ignore-eos \
      --concurrency $c --ctx-per-seq 8192 --out "$OUT/eval-llamacpp-c$c" 2>&1 | grep -E "^run:" | tee -a "$OUT/eval.txt"
  done
  log "fgbench eval, llama.cpp, concurrency 32, unified KV cache"
  $T "$FG" eval --engine llamacpp --kv-layout unified --model $M --dataset bfcl-sample.jsonl --limit 320 --max-new-tokens 64 --ignore-eos \
    --concurrency 32 --out "$OUT/eval-llamacpp-c32-kv-unified" 2>&1 | grep -E "^run:" | tee -a "$OUT/eval.txt"
  log "fgbench bench, mistral.rs (bf16)"
  $T "$FG" bench --engine mistralrs --dtype bf16 --model rand-f16 --dataset ../datasets/demo.jsonl --prompt-tokens 384 --max-new-tokens 64 --concurrency 1 \
    --repetitions 4 --warmup 1 2>&1 | tail -4 | tee "$OUT/bench-mistralrs.txt"
  # QUICK=1 (a rerun on a short device budget) skips the slow mistral.rs evals and parity.
  for c in $([[ -n ${QUICK:-} ]] || echo 1 32); do
    log "fgbench eval, mistral.rs, concurrency $c"
    $T "$FG" eval --engine mistralrs --dtype bf16 --model rand-f16 --dataset bfcl-sample.jsonl --limit $((c == 1 ? 16 : 64)) --max-new-tokens 64 \
      --concurrency $c --out "$OUT/eval-mistralrs-c$c" >"$OUT/eval-mistralrs-c$c.log" 2>&1
    echo "mistral.rs concurrency $c: exit status $?" | tee -a "$OUT/eval.txt"
    grep -E "^run:" "$OUT/eval-mistralrs-c$c.log" | tee -a "$OUT/eval.txt"
  done
  log "parity: GPU f32 vs CPU f32 (llama.cpp), and mistral.rs f32 on the GPU"
  [[ -n ${QUICK:-} ]] || $T "$FG" parity --engine llamacpp --model rand-f32 --dataset bfcl-sample.jsonl --limit 16 --max-new-tokens 32 \
    --variant base --variant gpu-layers:0 --variant engine:mistralrs+dtype:f32 2>&1 | tail -8 | tee "$OUT/parity.txt"
  log "done"
fi
