#!/usr/bin/env bash
# Server throughput and latency with `ferrocr load` against `ferrocr serve` on this machine:
# the dev pages at several closed-loop concurrencies, dynamic batching on (defaults) vs off
# (--max-batch-lines 1), sync mode vs jobs mode. Writes bench-out/serve_*.json and prints a
# Markdown table for docs/BENCHMARKS.md.
# Usage: scripts/bench-server.sh [DATA_DIR] [DURATION]   (defaults ../shared/eval/data/dev, 30s)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/eval/data/dev}"
duration="${2:-30s}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
cargo build --release -q --bin ferrocr
bin="$CARGO_TARGET_DIR/release/ferrocr"
out=bench-out
mkdir -p "$out"
device="${FERROCR_DEVICE:-cpu}"

start_server() { # extra serve flags...
  local log="$out/serve.log" datadir
  datadir=$(mktemp -d)
  # The load loops over the same pages: with `dedupe` on, jobs mode would measure stored answers
  # after the first round, not recognition.
  FERROCR_DEDUPE=false "$bin" serve --listen 127.0.0.1:0 --device "$device" --data-dir "$datadir" "$@" \
    >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    url=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
    [ -n "$url" ] && curl -fsS "$url/readyz" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "server did not start:"; cat "$log"; exit 1
}
stop_server() { kill -TERM "$server_pid"; wait "$server_pid" || true; }

echo "== serve on $(nproc) cores, device $device, $(date -u +%F), data $data"
for batching in on off; do
  flags=()
  [ "$batching" = off ] && flags=(--max-batch-lines 1 --max-queue-delay-ms 0)
  start_server "${flags[@]}"
  for c in 1 4 16; do
    "$bin" load --url "$url" --images "$data" --concurrency "$c" --duration "$duration" \
      --quiet --json "$out/serve_batch-${batching}_c${c}.json" >/dev/null || true
  done
  if [ "$batching" = on ]; then
    "$bin" load --url "$url" --images "$data" --mode jobs --concurrency 16 --duration "$duration" \
      --quiet --json "$out/serve_jobs_c16.json" >/dev/null || true
    "$bin" load --url "$url" --images "$data" --http2 --concurrency 16 --duration "$duration" \
      --quiet --json "$out/serve_h2_c16.json" >/dev/null || true
  fi
  stop_server
done
python3 - "$out" <<'PY'
import json, sys, glob, os
out = sys.argv[1]
print("| run | requests | errors | pages/s | req/s | p50 ms | p90 ms | p99 ms | max ms |")
print("|---|---|---|---|---|---|---|---|---|")
for f in sorted(glob.glob(os.path.join(out, "serve_*.json"))):
    r = json.load(open(f)); l = r["latency_ms"]
    name = os.path.basename(f)[6:-5]
    print(f"| {name} | {r['requests']} | {r['errors']} | {r['pages_per_s']:.2f} | {r['requests_per_s']:.2f} "
          f"| {l['p50']:.0f} | {l['p90']:.0f} | {l['p99']:.0f} | {l['max']:.0f} |")
PY
