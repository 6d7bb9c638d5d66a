#!/usr/bin/env bash
# Expanding and hostile files against `ferrocr serve` on default settings (issue 44): each file
# alone, then all of them four times at once; per case the answers, the slowest answer, the
# server's peak RSS and how long its CPU took to fall idle after the last answer. The files are
# made by scripts/hostile_files.py in a temporary directory (never committed).
# Usage: scripts/hostile-files.sh [extra `ferrocr serve` flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
bin="${FERROCR_BIN:-$CARGO_TARGET_DIR/release/ferrocr}"   # FERROCR_BIN: another build to compare
[ -x "$bin" ] || cargo build --release -q --bin ferrocr
work=$(mktemp -d)
python3 scripts/hostile_files.py make "$work/files" >/dev/null
log="$work/serve.log"
"$bin" serve --listen 127.0.0.1:0 --device cpu --data-dir "$work/data" --workers 0 "$@" >"$log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -rf "$work"' EXIT
url=""
for _ in $(seq 1 600); do
  url=$(grep -o 'http://[0-9.:]*' "$log" | head -1 || true)
  [ -n "$url" ] && curl -fsS "$url/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
[ -n "$url" ] || { echo "server did not start"; cat "$log"; exit 1; }
echo "== hostile files against $url ($(nproc) cores, $(date -u +%F), idle RSS $(awk '/VmRSS/ {printf "%.0f", $2/1024}' /proc/$pid/status) MB)"
python3 scripts/hostile_files.py send "$url" "$work/files" "$pid"
