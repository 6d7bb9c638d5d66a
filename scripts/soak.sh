#!/usr/bin/env bash
# Soak (issue 44): `ferrocr serve` on default settings driven at ~70 % of its measured capacity
# for DURATION minutes with a steady trickle of hostile files beside the normal pages; every
# minute one Markdown row: RSS, the minute's answered requests, p50/p99 latency, errors by kind,
# and the hostile files' answers. Ends with RSS drift after warm-up (minute 3 on) and the count
# of 5xx answers. Files under bench-out/soak/ (not committed).
# Usage: scripts/soak.sh [DATA_DIR] [MINUTES]   (defaults ../shared/eval/data/dev, 60)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/eval/data/dev}"
minutes="${2:-60}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
bin="${FERROCR_BIN:-$CARGO_TARGET_DIR/release/ferrocr}"
[ -x "$bin" ] || cargo build --release -q --bin ferrocr
. scripts/lib/serve.sh
out=bench-out/soak
rm -rf "$out" && mkdir -p "$out"
work=$(mktemp -d)
python3 scripts/hostile_files.py make "$work/hostile" >/dev/null
log="$out/serve.log"
serve_start "$log" --data-dir "$work/data" --workers 0
trap 'kill -TERM $pid 2>/dev/null || true; kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
serve_wait "$log"
"$bin" load --url "$url" --images "$data" --http2 --connections 4 --concurrency 8 --duration 30s --quiet --json "$out/capacity.json" >/dev/null
cap=$(python3 -c "import json; print(json.load(open('$out/capacity.json'))['requests_per_s'])")
rate=$(python3 -c "print(round(0.7 * $cap, 2))")
echo "== soak: $(nproc) cores, $(date -u +%F), data $data, capacity $cap req/s, driven at $rate req/s for $minutes min"
# Hostile trickle: one expanding or corrupt file every 5 s, statuses appended to a file.
: >"$out/hostile.txt"
(
  while true; do
    for f in "$work"/hostile/*; do
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 120 --data-binary @"$f" \
        -H 'content-type: application/octet-stream' "$url/v1/ocr" || echo 000)
      echo "$(basename "$f") $code" >>"$out/hostile.txt"
      sleep 5
    done
  done
) &
echo "| minute | RSS MB | answered | p50 ms | p99 ms | errors | hostile answers |"
echo "|---|---|---|---|---|---|---|"
for m in $(seq 1 "$minutes"); do
  before=$(wc -l <"$out/hostile.txt")
  "$bin" load --url "$url" --images "$data" --http2 --connections 4 --rate "$rate" --duration 60s \
    --quiet --json "$out/minute_$m.json" >/dev/null || true
  hostile=$(tail -n +"$((before + 1))" "$out/hostile.txt" 2>/dev/null | awk '{print $2}' | sort | uniq -c | awk '{printf "%s×%s ", $2, $1}')
  python3 - "$out/minute_$m.json" "$m" "$(rss)" "$hostile" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
errs = ", ".join(f"{k} {v}" for k, v in r["errors_by_kind"].items()) or "0"
print(f"| {sys.argv[2]} | {sys.argv[3]} | {r['ok']} | {r['latency_ms']['p50']:.0f} | {r['latency_ms']['p99']:.0f} | {errs} | {sys.argv[4].strip()} |")
PY
  echo "$(rss)" >>"$out/rss.txt"
done
python3 - "$out" "$minutes" <<'PY'
import json, sys, glob
out, minutes = sys.argv[1], int(sys.argv[2])
rss = [float(x) for x in open(f"{out}/rss.txt").read().split()]
warm = rss[2:] or rss
five = 0
for m in range(1, minutes + 1):
    r = json.load(open(f"{out}/minute_{m}.json"))
    five += sum(v for k, v in r["errors_by_kind"].items() if k.startswith("http_5"))
hostile = [l.split()[1] for l in open(f"{out}/hostile.txt")] if glob.glob(f"{out}/hostile.txt") else []
print(f"\nRSS after warm-up: min {min(warm):.0f} MB, max {max(warm):.0f} MB, first {warm[0]:.0f}, last {warm[-1]:.0f} "
      f"(drift {100 * (warm[-1] - warm[0]) / warm[0]:+.1f} %, spread {100 * (max(warm) - min(warm)) / min(warm):.1f} %); "
      f"5xx answers to normal pages: {five}; hostile files sent: {len(hostile)}, 5xx among them: "
      f"{sum(1 for h in hostile if h.startswith('5'))}, no answer: {sum(1 for h in hostile if h == '000')}")
PY
