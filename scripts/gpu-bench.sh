#!/usr/bin/env bash
# The GPU numbers of docs/performance.md, run ON a CUDA machine that has no Rust toolchain and no network:
# both engines and llama.cpp's own tools on the same random-weight model with the exact shape
# of Gemma 3 270M (real weights cannot travel there), BFCL prompts in the official format.
#
# Prepare here with scripts/gpu-pack.sh (see docs/performance.md, "GPU"):
#   gpu/fgbench.xz        release build with --features cuda-dl (mistral.rs on CUDA; llama.cpp
#                         linked as shared libraries), stripped, xz
#   gpu/llama-cuda.tar.xz llama.cpp (the source llama-cpp-sys-2 vendors) built with CUDA as
#                         shared libraries + llama-bench + llama-batched-bench (GPU_PACK_LLAMA=1
#                         builds it here: ~27 min on 2 cores, saves ~3.5 min on the GPU machine); or
#   gpu/llama.cpp.tar.xz  that source, built there when no prebuilt libraries came along
#   gpu/vocab.gguf.xz     the Gemma 3 vocabulary (models export-gguf --vocab-only)
#   gpu/bfcl-sample.jsonl BFCL cases (fgbench.case/1)
#
#   scripts/gpu-bench.sh [build|measure|all|tune|confirm|ab ARGS...]  results in $OUT (default ./gpu-out)
# Sections run in order of importance and each is skipped once BUDGET seconds (default 540)
# have passed, so a short run still brings back the llama-batched-bench comparison.
# Every llama.cpp-engine run prints its step profile (FGBENCH_STEP_PROFILE). SMOKE=1 is a dry
# run with tiny sizes, for checking this script on a CPU machine (FG=path to a CPU build,
# LLAMA_BIN=dir of CPU llama-bench / llama-batched-bench, GPU_DIR=a scratch copy of gpu/).
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "${GPU_DIR:-$REPO/gpu}"
OUT=${OUT:-$REPO/gpu-out}
mkdir -p "$OUT"
START=$(date +%s)
BUDGET=${BUDGET:-540}
SMOKE=${SMOKE:-}
log() { echo "[$(($(date +%s) - START))s] $*" | tee -a "$OUT/log.txt"; }
step=${1:-all}
export FGBENCH_STEP_PROFILE=1

if [[ $step != measure ]]; then
  { nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "no GPU"; } | tee "$OUT/gpu.txt"
  lscpu | grep -E "Model name|^CPU\(s\)" | tee -a "$OUT/gpu.txt"
  [[ -n ${FG:-} || -x fgbench ]] || { xz -dkf fgbench.xz && chmod +x fgbench; }
  [[ -f vocab.gguf ]] || xz -dkf vocab.gguf.xz
  if [[ -n ${LLAMA_BIN:-} || -x build/bin/llama-bench ]]; then
    :
  elif [[ -f llama-cuda.tar.xz ]]; then
    tar xJf llama-cuda.tar.xz
  else
    log "building llama.cpp with CUDA"
    tar xJf llama.cpp.tar.xz
    cmake -S llama.cpp -B build -G Ninja -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DBUILD_SHARED_LIBS=ON \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF \
      -DLLAMA_OPENSSL=OFF -DCMAKE_BUILD_TYPE=Release >"$OUT/cmake.txt" 2>&1
    cmake --build build -j "$(nproc)" --target llama-bench llama-batched-bench >>"$OUT/cmake.txt" 2>&1 || { log "llama.cpp build failed"; tail -30 "$OUT/cmake.txt"; }
  fi
  log "llama.cpp ready"
fi

LLAMA_BIN=${LLAMA_BIN:-$PWD/build/bin}
libs=$(find "$PWD/build" -name 'libggml*.so*' -printf '%h\n' 2>/dev/null | sort -u | tr '\n' ':')
cudalibs=$(dirname "$(find / -name 'libcublas.so.13' 2>/dev/null | head -1)")
export LD_LIBRARY_PATH="$libs$cudalibs:/usr/local/nvidia/lib64:${LD_LIBRARY_PATH:-}"
FG=${FG:-$PWD/fgbench}
T="timeout 240"

if [[ $step != measure ]]; then
  ldd "$FG" | grep -E "llama|ggml|cuda|cublas" | tee "$OUT/ldd.txt"
  [[ -d rand-f16 ]] || $T "$FG" models random --out rand-f16 --dtype f16 --tokenizer-from vocab.gguf 2>&1 | tail -1
  log "random f16 model written"
fi

# Sizes: prompt/new tokens of the speed runs, bench repetitions, BFCL cases at 1 / 8+ in flight.
if [[ -n $SMOKE ]]; then P=64 N=8 REPS=8 C1=4 CN=16 MC=2; else P=384 N=64 REPS=96 C1=48 CN=320 MC=16; fi
M=rand-f16/model.gguf
# due NAME: whether a section may still start; logs it either way.
due() {
  if (($(date +%s) - START > BUDGET)); then log "skipped (over the ${BUDGET}s budget): $1"; return 1; fi
  log "$1"
}
# run NAME SHOW CMD...: the whole output to $OUT/NAME.log; the lines matching SHOW (results,
# step profiles) to the screen and $OUT/summary.txt.
TOOL='^\|' BENCH='^conc|^ +[0-9]+ +[0-9]+ +[0-9.]+ +[0-9.]+ |^load|^step profile' EVAL='^run:|^step profile'
PARITY='^reference|^variant|%|^step profile'
run() {
  local name=$1 show=$2; shift 2
  $T "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  grep -E "$show" "$OUT/$name.log" | tee -a "$OUT/summary.txt"
  ((rc == 0)) || { log "$name: exit status $rc (see $name.log)"; grep -m3 -E "error|panic" "$OUT/$name.log"; }
}
bench_llama() { # NAME CONCURRENCY [EXTRA ARGS...]
  local name=$1 conc=$2; shift 2
  run "$name" "$BENCH" "$FG" bench --engine llamacpp --model $M --dataset $REPO/datasets/demo.jsonl --prompt-tokens $P --max-new-tokens $N --ignore-eos \
    --concurrency "$conc" --repetitions $REPS --warmup 4 "$@"
}
eval_llama() { # NAME CONCURRENCY CASES [EXTRA ARGS...]
  local name=$1 conc=$2 cases=$3; shift 3
  run "$name" "$EVAL" "$FG" eval --engine llamacpp --model $M --dataset bfcl-sample.jsonl --limit "$cases" --max-new-tokens $N --ignore-eos \
    --concurrency "$conc" --out "$OUT/$name" "$@"
}
evals_llama() { # BFCL through eval at 1 / 8 / 32 in flight, the defaults
  for c in 1 8 32; do
    due "fgbench eval, llama.cpp, concurrency $c" && eval_llama eval-llamacpp-c$c $c $((c == 1 ? C1 : CN))
  done
}
llama_bench() {
  due "llama-bench" && run llama-bench "$TOOL" "$LLAMA_BIN/llama-bench" -m $M -ngl 99 -fa 1 -p $P -n $N -r 3
}
batched_bench() { # NAME SEQUENCES [EXTRA ARGS...]: llama-batched-bench as usually run (-b 2048
  # -ub 512); later arguments override.
  local name=$1 npl=$2; shift 2
  run "$name" "$TOOL" "$LLAMA_BIN/llama-batched-bench" -m $M -ngl 99 -fa 1 -c 40960 -b 2048 -ub 512 -npp $P -ntg $N -npl "$npl" "$@"
}
parity_f32() { # VARIANT...: greedy parity on the f32 random model, 32 new tokens
  [[ -d rand-f32 ]] || $T "$FG" models random --out rand-f32 --dtype f32 --tokenizer-from vocab.gguf 2>&1 | tail -1
  run parity "$PARITY" "$FG" parity --engine llamacpp --model rand-f32 --dataset bfcl-sample.jsonl --limit $MC --max-new-tokens 32 \
    "${@/#/--variant=}"
}

if [[ $step == tune ]]; then
  # The llama.cpp engine's GPU settings against the yardstick: CPU threads (llama.cpp keeps
  # the input embedding lookup on the CPU) and micro-batch size (with a KV stream per sequence
  # llama.cpp splits a batch into micro-batches of equal tokens per sequence).
  due "llama-batched-bench" && batched_bench llama-batched-bench 32
  for t in 2 4 8 16; do
    for ub in 512 2048; do
      due "bench c32, $t threads, ubatch $ub" && bench_llama bench-c32-t$t-ub$ub 32 --threads $t --ubatch-tokens $ub
    done
  done
  due "bench c32, 4 threads, batch 4096, ubatch 4096" && bench_llama bench-c32-t4-b4096 32 --threads 4 --batch-tokens 4096 --ubatch-tokens 4096
  for ub in 512 2048; do
    due "eval c32, 4 threads, ubatch $ub" && eval_llama eval-c32-t4-ub$ub 32 $CN --threads 4 --ubatch-tokens $ub
  done
  due "eval c8, 4 threads, ubatch 2048" && eval_llama eval-c8-t4-ub2048 8 $CN --threads 4 --ubatch-tokens 2048
  log "done"
fi

if [[ $step == ab ]]; then
  # scripts/gpu-bench.sh ab "ARGS A" "ARGS B" ...: fgbench bench at 32 in flight with each set
  # of extra arguments ("" = the defaults), interleaved twice, for settings within noise.
  shift
  REPS=$((2 * REPS))
  for round in 1 2; do
    i=0
    for args in "$@"; do
      i=$((i + 1))
      # shellcheck disable=SC2086 # each variant is a list of arguments
      due "bench c32 [${args:-defaults}] round $round" && bench_llama bench-ab$i-r$round 32 $args
    done
  done
  log "done"
fi

if [[ $step == confirm ]]; then
  # The defaults against the yardstick in one run: llama-batched-bench and fgbench at 32 in
  # flight interleaved three times (their means move by ~5% between runs), then the tables.
  REPS=$((2 * REPS))
  llama_bench
  for round in 1 2 3; do
    due "llama-batched-bench, 32 sequences, round $round" && batched_bench llama-batched-bench-r$round 32
    due "fgbench bench, 32 in flight, round $round" && bench_llama bench-llamacpp-c32-r$round 32
  done
  due "llama-batched-bench" && batched_bench llama-batched-bench 1,8,32
  due "llama-batched-bench -b 4096 -ub 4096" && batched_bench llama-batched-bench-ub4096 1,8,32 -b 4096 -ub 4096
  due "fgbench bench, llama.cpp engine, defaults" && bench_llama bench-llamacpp 1,8
  evals_llama
  due "parity: llama.cpp GPU f32 vs CPU f32" && parity_f32 base gpu-layers:0
  log "done"
fi

if [[ $step == measure || $step == all ]]; then
  # 1. The yardsticks and the target: llama.cpp's tools, fgbench at 1 / 8 / 32 in flight.
  llama_bench
  due "llama-batched-bench" && batched_bench llama-batched-bench 1,8,32
  due "fgbench bench, llama.cpp engine (KV stream per sequence)" && bench_llama bench-llamacpp 1,8,32
  due "fgbench bench, llama.cpp engine, backend (GPU) sampling" && bench_llama bench-llamacpp-backend-sampling 1,8,32 --backend-sampling
  due "fgbench bench, llama.cpp engine, one unified KV cache" && bench_llama bench-llamacpp-kv-unified 8,32 --kv-layout unified
  # 2. BFCL prompts (mean ~670 tokens, up to ~6,000) through eval.
  evals_llama
  due "fgbench eval, llama.cpp, concurrency 32, backend sampling" && eval_llama eval-llamacpp-c32-backend-sampling 32 $CN --backend-sampling
  due "fgbench eval, llama.cpp, concurrency 32, unified KV cache" && eval_llama eval-llamacpp-c32-kv-unified 32 $CN --kv-layout unified
  due "fgbench bench, llama.cpp engine, 4 CPU threads" && bench_llama bench-llamacpp-threads4 32 --threads 4
  # 3. Correctness: greedy parity GPU f32 vs CPU f32, and mistral.rs f32 on the GPU.
  due "parity: llama.cpp GPU f32 vs CPU f32 vs mistral.rs f32" && parity_f32 base gpu-layers:0 engine:mistralrs+dtype:f32
  # 4. mistral.rs (bf16), unchanged since commit 72fc738's numbers: last.
  due "fgbench bench, mistral.rs (bf16)" && run bench-mistralrs "$BENCH" "$FG" bench --engine mistralrs --dtype bf16 --model rand-f16 \
    --dataset $REPO/datasets/demo.jsonl --prompt-tokens $P --max-new-tokens $N --concurrency 1 --repetitions 4 --warmup 1
  for c in 1 32; do
    due "fgbench eval, mistral.rs, concurrency $c" && run eval-mistralrs-c$c "$EVAL" "$FG" eval --engine mistralrs --dtype bf16 --model rand-f16 \
      --dataset bfcl-sample.jsonl --limit $((c == 1 ? MC : 4 * MC)) --max-new-tokens $N --concurrency $c --out "$OUT/eval-mistralrs-c$c"
  done
  log "done"
fi
