#!/usr/bin/env bash
# Searchable PDF check on a set of pages (issue 43): ferrocr writes PDF, text and JSON for
# every page, then scripts/pdf_check.py reads the PDFs with poppler and qpdf and compares.
# usage: scripts/pdf-check.sh [SET_DIR]   (default ../shared/eval/data/dev)
set -euo pipefail
cd "$(dirname "$0")/.."
set_dir="${1:-../shared/eval/data/dev}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
bin="$CARGO_TARGET_DIR/release/ferrocr"
[ -x "$bin" ] || cargo build --release
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mapfile -t pages < <(find "$set_dir" -maxdepth 1 -type f \( -name '*.png' -o -name '*.jpg' -o -name '*.jpeg' -o -name '*.tif' -o -name '*.tiff' \) | sort)
for fmt in pdf text json; do
  "$bin" ocr --device cpu --max-pixels 400000000 --format "$fmt" --out "$work/$fmt" "${pages[@]}"
done
python3 scripts/pdf_check.py "$set_dir" "$work/pdf" "$work/text" "$work/json"
