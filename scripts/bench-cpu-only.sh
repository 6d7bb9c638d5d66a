#!/usr/bin/env bash
# Does the GPU-capable build cost anything on a machine without a GPU? Builds the CPU-only
# binary (`--no-default-features`) and the default one, then runs both with `--device auto`
# (the default build probes for an adapter, finds none and falls back) on the same work,
# alternating runs: binary size, start-up (one small page), pages/s over the dev pages in one
# process, and recognition lines/s (eval-lines). Prints one table row per run.
# Usage: scripts/bench-cpu-only.sh [DATA_DIR] [RUNS]   (default ../shared/eval/data/dev, 3)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/eval/data/dev}"
runs="${2:-3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
out=bench-out/cpu-only
mkdir -p "$out"
cargo build --release -q --no-default-features --bin ferrocr
cp "$CARGO_TARGET_DIR/release/ferrocr" "$out/ferrocr-cpu-only"
cargo build --release -q --bin ferrocr
cp "$CARGO_TARGET_DIR/release/ferrocr" "$out/ferrocr-default"
pages=("$data"/*.png "$data"/*.jpg "$data"/*.tif)
echo "# $(nproc) cores, $(date -u +%F), ${#pages[@]} pages, ferrocr --device auto"
echo "| build | run | binary MB | start-up + 1 page s | pages/s | lines/s |"
echo "|---|---|---|---|---|---|"
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null 2>&1; t1=$(date +%s.%N); python3 -c "print($t1 - $t0)"; }
for run in $(seq 1 "$runs"); do
  for build in default cpu-only; do
    bin="$out/ferrocr-$build"
    size=$(du -m "$bin" | cut -f1)
    start=$(secs "$bin" ocr --device auto tests/data/sample-receipt.jpg)
    wall=$(secs "$bin" ocr --device auto --jobs 2 "${pages[@]}")
    "$bin" eval-lines --device auto --data "$data" --json "$out/lines-$build.json" > /dev/null 2>&1
    lps=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(round(d['lines']/d['recognize_s'],1))" "$out/lines-$build.json")
    printf '| %s | %d | %s | %.2f | %.2f | %s |\n' "$build" "$run" "$size" "$start" \
      "$(python3 -c "print(${#pages[@]} / $wall)")" "$lps"
  done
done
