#!/usr/bin/env bash
# Memory stays flat: RSS of `ferrocr serve` after 1,000 requests and after 10,000 requests
# (same small page, HTTP/1.1 and HTTP/2 alternating blocks, concurrency 8). Passes when the
# second is within 10 % of the first. Prints both figures for docs/BENCHMARKS.md.
# Usage: scripts/mem-flat.sh [IMAGE] [TOTAL]   (default tests/data/sample-receipt.jpg, 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
image="${1:-tests/data/sample-receipt.jpg}"
total="${2:-10000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
cargo build --release -q --bin ferrocr
bin="$CARGO_TARGET_DIR/release/ferrocr"
log=$(mktemp); datadir=$(mktemp -d)
"$bin" serve --listen 127.0.0.1:0 --device "${FERROCR_DEVICE:-cpu}" --workers 0 --data-dir "$datadir" >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
  url=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
  [ -n "$url" ] && curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; }
load() { "$bin" load --url "$url" --file "$image" --concurrency 8 --requests "$1" --quiet "${@:2}" | tail -3; }
load 1000
rss1=$(rss)
echo "RSS after 1000 requests: ${rss1} kB"
done_n=1000
while [ "$done_n" -lt "$total" ]; do
  n=$(( total - done_n < 3000 ? total - done_n : 3000 ))
  if [ $(( done_n / 3000 % 2 )) -eq 0 ]; then load "$n" --http2 --connections 2; else load "$n"; fi
  done_n=$(( done_n + n ))
  echo "RSS after $done_n requests: $(rss) kB"
done
rss2=$(rss)
python3 - "$rss1" "$rss2" <<'PY'
import sys
a, b = int(sys.argv[1]), int(sys.argv[2])
growth = (b - a) / a
print(f"RSS 1000: {a/1024:.1f} MiB, RSS end: {b/1024:.1f} MiB, growth {growth*100:+.1f} %")
sys.exit(0 if growth <= 0.10 else 1)
PY
