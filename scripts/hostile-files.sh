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
. scripts/lib/serve.sh
work=$(mktemp -d)
python3 scripts/hostile_files.py make "$work/files" >/dev/null
log="$work/serve.log"
serve_start "$log" --data-dir "$work/data" --workers 0 "$@"
trap 'kill -TERM $pid 2>/dev/null || true; rm -rf "$work"' EXIT
serve_wait "$log"
echo "== hostile files against $url ($(nproc) cores, $(date -u +%F), idle RSS $(rss) MB)"
python3 scripts/hostile_files.py send "$url" "$work/files" "$pid"
