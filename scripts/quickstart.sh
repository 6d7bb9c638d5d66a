#!/usr/bin/env bash
# Quick start: install what is missing, build the release binary (the first build of burn + wgpu
# takes ~30 min on 2 cores), and read the bundled sample pages with the built-in model.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
cargo build --release
"$CARGO_TARGET_DIR/release/ferrocr" ocr tests/data/sample-letter.png tests/data/sample-receipt.jpg
