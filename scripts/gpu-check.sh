#!/usr/bin/env bash
# The whole GPU check in one run on a GPU host prepared by scripts/gpu-pack.sh (see
# ../shared/gpu/README.md): loader set-up, `ferrocr doctor --json` (adapters, choice, limits,
# kernel + model parity self-test with timings), CRNN lines/s per batch size over the dev set's
# line crops, end-to-end pages/s over the dev pages (and CER/WER when python3 is there).
# Every result goes under $OUT (default ./gpu-check-out); a summary is printed at the end.
# Usage: scripts/gpu-check.sh [BATCH_SIZES...]   (default 64 256 1024 2048)
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-check-out}"
mkdir -p "$OUT"
batches=("$@")
[ ${#batches[@]} -gt 0 ] || batches=(64 256 1024 2048)
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }
: > "$OUT/summary.txt"

# 1. Loader and environment (as in ../shared/gpu/README.md, step 3).
if ls .gl/*.deb >/dev/null 2>&1; then
  for f in .gl/*.deb; do dpkg -x "$f" /; done
  ldconfig || true
fi
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES="$icd"; fi
done
egl=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f "$egl" ] && export __EGL_VENDOR_LIBRARY_FILENAMES="$egl"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
export FERROCR_CACHE_DIR="${FERROCR_CACHE_DIR:-$OUT/cache}"
bin=/tmp/ferrocr
if [ -f .gpu/ferrocr.xz ]; then
  python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.gpu/ferrocr.xz'), open('$bin','wb'))" \
    || xz -dc .gpu/ferrocr.xz > "$bin"
  chmod +x "$bin"
elif [ -x "${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}/release/ferrocr" ]; then
  bin="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}/release/ferrocr"
fi
data=.gpu/eval/dev
[ -d "$data" ] || data=../shared/eval/data/dev
log "host: $(nproc) cores; binary $bin; data $data; $(date -u +%FT%TZ)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT/summary.txt"

# 2. Doctor: adapters, choice, limits, caches, model, kernel and CRNN parity (exit 1 = mismatch).
# Run twice: the second run shows the warm-cache start-up (CubeCL autotune cache in $FERROCR_CACHE_DIR).
for run in 1 2; do
  start=$(date +%s.%N)
  "$bin" doctor --json --device gpu --pages 4 > "$OUT/doctor$run.json" 2> "$OUT/doctor$run.err"
  rc=$?
  log "doctor run $run: exit $rc, $(elapsed "$start") s"
done
"$bin" doctor --device gpu --pages 4 > "$OUT/doctor.txt" 2>&1
cat "$OUT/doctor.txt" >> "$OUT/summary.txt"

# 3. CRNN lines/s per batch size on the dev line crops (GPU, warmed up), and the CPU for reference.
for b in "${batches[@]}"; do
  "$bin" eval-lines --device gpu --batch "$b" --warm-up --data "$data" --json "$OUT/lines_gpu_b$b.json" \
    > "$OUT/lines_gpu_b$b.txt" 2>&1
  log "CRNN gpu batch $b: $(grep -m1 '^lines' "$OUT/lines_gpu_b$b.txt")"
done
"$bin" eval-lines --device cpu --batch 64 --data "$data" --json "$OUT/lines_cpu_b64.json" \
  > "$OUT/lines_cpu_b64.txt" 2>&1
log "CRNN cpu batch 64: $(grep -m1 '^lines' "$OUT/lines_cpu_b64.txt")"

# 4. End to end: all dev pages in one process (GPU), pages/s; accuracy when python3 is present.
pages=("$data"/*.png)
for dev in gpu cpu; do
  rm -rf "$OUT/ocr_$dev"
  start=$(date +%s.%N)
  "$bin" ocr --device "$dev" --jobs "$(nproc)" --out "$OUT/ocr_$dev" "${pages[@]}" 2> "$OUT/ocr_$dev.err"
  rc=$?
  secs=$(elapsed "$start")
  rate=$(awk -v n="${#pages[@]}" -v s="$secs" 'BEGIN { printf "%.2f", n / s }')
  log "ocr $dev: ${#pages[@]} pages in $secs s ($rate pages/s, exit $rc; includes start-up and warm-up)"
  if command -v python3 >/dev/null && [ -f .gpu/eval/ocr_eval.py ]; then
    python3 .gpu/eval/ocr_eval.py --data "$data" --outputs "$OUT/ocr_$dev" --label "ferrocr-$dev" \
      --json "$OUT/ocr_eval_$dev.json" > "$OUT/ocr_eval_$dev.txt" 2>&1
    tail -3 "$OUT/ocr_eval_$dev.txt" >> "$OUT/summary.txt"
  fi
done
log "done; results in $OUT"
cat "$OUT/summary.txt"
