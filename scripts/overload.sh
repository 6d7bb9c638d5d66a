#!/usr/bin/env bash
# The server under overload and hostile clients (issue 48), default settings, on this machine:
#   1. capacity C: `ferrocr load --http2 --connections 4 --concurrency 8` over the pages;
#   2. 40x overload: --concurrency 320 over HTTP/2 (4 connections) and over HTTP/1.1: good
#      pages/s against C, transport errors, RSS idle before / at the end / a minute later;
#   3. 256 slow-upload connections (one byte every 5 s) while a concurrency-8 load runs;
#   4. 10,000 held /v1/jobs uploads while /healthz and /v1/ocr are probed.
# Writes bench-out/overload_*.json and prints a Markdown table for docs/BENCHMARKS.md.
# Usage: scripts/overload.sh [DATA_DIR] [OVERLOAD_DURATION]  (defaults ../shared/eval/data/dev, 60s)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/eval/data/dev}"
duration="${2:-60s}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
bin="$CARGO_TARGET_DIR/release/ferrocr"
[ -x "$bin" ] || cargo build --release -q --bin ferrocr
. scripts/lib/serve.sh
out=bench-out
mkdir -p "$out"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

datadir=$(mktemp -d)
log="$out/overload-serve.log"
serve_start "$log" --data-dir "$datadir"
trap 'kill -TERM $pid 2>/dev/null || true; rm -rf "$datadir"' EXIT
serve_wait "$log"
pages_per_s() { python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['pages_per_s'],2))" "$1"; }
field() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(sys.argv[2] in r and r[sys.argv[2]] or 0)" "$1" "$2"; }
transport() { python3 -c "
import json,sys; r=json.load(open(sys.argv[1]))
print(sum(v for k,v in r['errors_by_kind'].items() if not k.startswith('http_')))" "$1"; }
load() { # name, load flags...
  local name=$1; shift
  "$bin" load --url "$url" --images "$data" --quiet --json "$out/overload_$name.json" "$@" >/dev/null || true
}

echo "== overload on $(nproc) cores, $(date -u +%F), data $data, overload runs $duration"
# Warm up (first requests compile nothing on the CPU, but fill caches), then measure C.
load warm --http2 --connections 4 --concurrency 8 --duration 10s
load capacity --http2 --connections 4 --concurrency 8 --duration 30s
cap=$(pages_per_s "$out/overload_capacity.json")
sleep 10
idle=$(rss)
echo "capacity C = $cap pages/s (HTTP/2, concurrency 8); idle RSS $idle MB"

rows=()
for proto in h2 h1; do
  # Clients that ignore Retry-After and retry at once (the hostile case; `ferrocr load` honours
  # it by default).
  flags=(--concurrency 320 --duration "$duration" --ignore-retry-after)
  [ "$proto" = h2 ] && flags+=(--http2 --connections 4)
  load "x40_$proto" "${flags[@]}"
  end_rss=$(rss)
  sleep 60
  later=$(rss)
  f="$out/overload_x40_$proto.json"
  good=$(pages_per_s "$f")
  ratio=$(python3 -c "print(round($good/$cap,2))")
  rows+=("| 320 closed-loop, $proto | $good | $ratio | $(field "$f" ok) | $(field "$f" errors) | $(transport "$f") | $idle → $end_rss → $later |")
done

# 256 connections trickling uploads while a normal load runs.
python3 scripts/hostile_clients.py "$url" trickle 256 40 /v1/ocr 5 >"$out/overload_trickle.json" &
hostile=$!
sleep 5
load slow_neighbours --http2 --connections 4 --concurrency 8 --duration 30s
wait $hostile || true
f="$out/overload_slow_neighbours.json"
good=$(pages_per_s "$f")
rows+=("| 8 closed-loop beside 256 trickling uploads | $good | $(python3 -c "print(round($good/$cap,2))") | $(field "$f" ok) | $(field "$f" errors) | $(transport "$f") | $(rss) MB |")

# 10,000 held job uploads; probe health and OCR while they are held.
python3 scripts/hostile_clients.py "$url" hold 10000 40 /v1/jobs 5 >"$out/overload_held.json" &
hostile=$!
sleep 15
probe_ok=0; probe_n=0; worst=0
for _ in $(seq 1 10); do
  for path in healthz ocr; do
    probe_n=$((probe_n + 1))
    if [ "$path" = healthz ]; then
      t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 20 "$url/healthz" || echo "000 20")
    else
      t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --max-time 20 -H 'content-type: image/png' \
        --data-binary @tests/data/sample-receipt.jpg "$url/v1/ocr?format=text" || echo "000 20")
    fi
    code=${t%% *}; secs=${t##* }
    [ "$code" = 200 ] && probe_ok=$((probe_ok + 1))
    worst=$(python3 -c "print(max($worst, $secs))")
  done
  sleep 1
done
wait $hostile || true
echo
echo "| load (default settings) | good pages/s | of C | ok | errors | transport errors | RSS MB idle → end → +60 s |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo
echo "10,000 held /v1/jobs uploads: $probe_ok of $probe_n probes (/healthz, /v1/ocr) answered 200, slowest ${worst}s"
echo "trickle: $(cat "$out/overload_trickle.json")"
echo "held:    $(cat "$out/overload_held.json")"
