#!/usr/bin/env bash
# Accuracy and speed of ferrocr beside Tesseract, in one run, on the same pages and cores:
# ../shared/eval/ocr_eval.py over the dev pages (CER, WER, bag-of-words F1, pages/s), then
# `ferrocr eval-lines` and Tesseract --psm 7 on the ground-truth line crops.
# Writes bench-out/SET/*.json and regenerates that set's tables between its bench.sh markers in
# docs/BENCHMARKS.md (scripts/bench_table.py; SET = the data directory's name).
# Usage: scripts/bench.sh [DATA_DIR]   (default ../shared/eval/data/dev; also
#        ../shared/eval/data/tune, or a directory of your own NAME.<image> + NAME.gt.txt pages;
#        the line-crop part runs only where DATA_DIR/lines.jsonl exists)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/eval/data/dev}"
eval_py="$(dirname "$data")/../ocr_eval.py"
[ -f "$eval_py" ] || eval_py=../shared/eval/ocr_eval.py
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
cargo build --release -q
bin="$CARGO_TARGET_DIR/release/ferrocr"
out="bench-out/$(basename "$data")"
mkdir -p "$out"
cores=$(nproc)
echo "== pages: $data ($cores cores, $(date -u +%F))"
# Both engines: one page per process, two pages at a time, one thread each.
python3 "$eval_py" --data "$data" --cmd 'tesseract {image} - --psm 3' --jobs 2 \
  --env OMP_THREAD_LIMIT=1 --label tesseract --json "$out/tesseract_pages.json"
python3 "$eval_py" --data "$data" --cmd "$bin ocr --device cpu --jobs 1 {image}" --jobs 2 \
  --env RAYON_NUM_THREADS=1 --label ferrocr --json "$out/ferrocr_pages.json" --save-outputs "$out/ferrocr_txt"
if [ -f "$data/lines.jsonl" ] && [ -z "${SKIP_LINES:-}" ]; then
  echo "== line crops: $data/lines.jsonl"
  "$bin" eval-lines --device cpu --data "$data" --json "$out/ferrocr_lines.json"
  python3 scripts/tesseract_lines.py --data "$data" --json "$out/tesseract_lines.json"
fi
python3 scripts/bench_table.py "$out" "$data" docs/BENCHMARKS.md
