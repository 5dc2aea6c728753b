#!/usr/bin/env bash
# Builds the Haskell client with Debian's GHC and packages (Hackage is not needed) and runs it
# against a live `fgbench serve`. Usage: clients/haskell/run.sh [SOCKET MODEL_A MODEL_B CASE...]
# Without arguments it starts a server on the demo model (llama.cpp) and an echo engine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! ghc-pkg list aeson network 2>/dev/null | grep -q network; then
  # One apt install at a time, also when tests run this beside other installs.
  "$root/scripts/apt-install.sh" ghc libghc-aeson-dev libghc-network-dev
fi
out=${FGBENCH_HS_BUILD:-$root/target/haskell}
mkdir -p "$out"
ghc -O0 -v0 -outputdir "$out" -o "$out/fgbench-hs" -i"$here" "$here/Main.hs"
if [[ $# -gt 0 ]]; then
  exec "$out/fgbench-hs" "$@"
fi
fgbench=${FGBENCH:-"cargo run --quiet --locked --"}
sock=$(mktemp -u /tmp/fgbench-hs-XXXXXX.sock)
$fgbench serve --socket "$sock" --model base=demo --model echo=mock:echo --dataset "$root/datasets/demo.jsonl" --max-new-tokens 32 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 600); do [[ -S $sock ]] && break; sleep 0.5; done
"$out/fgbench-hs" "$sock" base echo demo_simple_0 demo_irrelevance_0
kill -TERM $pid && wait $pid
