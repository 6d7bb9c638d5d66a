#!/usr/bin/env bash
# Prepare everything a bare GPU host needs (../shared/gpu/README.md), in ignored folders:
#   .gpu/ferrocr.xz     the release binary, xz-compressed (~20 MB)
#   .gl/*.deb           the Vulkan loader and GL/EGL dispatch libraries (unpacked there, not installed)
#   .gpu/eval/          the dev eval set (pages, ground truth, lines.jsonl) and ocr_eval.py
# Then run scripts/gpu-check.sh on the GPU host.
# Usage: scripts/gpu-pack.sh [DATA_DIR]   (default ../shared/eval/data/dev)
set -euo pipefail
cd "$(dirname "$0")/.."
data="${1:-../shared/eval/data/dev}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"

echo "== build"
cargo build --release -q
mkdir -p .gpu
xz -T2 -6 -c "$CARGO_TARGET_DIR/release/ferrocr" > .gpu/ferrocr.xz.tmp
mv .gpu/ferrocr.xz.tmp .gpu/ferrocr.xz
ls -l .gpu/ferrocr.xz

echo "== Vulkan loader debs"
if ! ls .gl/libvulkan1_*.deb >/dev/null 2>&1; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update -qq
  # shellcheck disable=SC2086
  (cd .gl && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi
ls .gl

echo "== eval data"
rm -rf .gpu/eval
mkdir -p .gpu/eval
cp -r "$data" .gpu/eval/dev
eval_py="$(dirname "$data")/../ocr_eval.py"
[ -f "$eval_py" ] || eval_py=../shared/eval/ocr_eval.py
if [ -f "$eval_py" ]; then cp "$eval_py" .gpu/eval/; fi
du -sh .gpu .gl
