#!/usr/bin/env bash
# The whole GPU check in one run on a GPU host prepared by scripts/gpu-pack.sh (see
# ../shared/gpu/README.md): loader set-up, `ferrocr doctor --json` (adapters, choice, limits,
# kernel + model parity self-test with timings), CRNN lines/s per batch size over the dev set's
# line crops, end-to-end pages/s over the dev pages (and CER/WER when python3 is there).
# Results reach $OUT (default ./gpu-check-out) as soon as they exist; the summary grows
# step by step, so a run cut short still returns what it measured. Steps run most-wanted first,
# each under its own time limit (STEP_S seconds, default 150; the first doctor run gets more, as it
# compiles every shader).
# Usage: scripts/gpu-check.sh [BATCH_SIZES...]   (default 1024 256 2048 64); through the device
# tool: `run` with carry [".gpu", ".gl"] and the command `STEP_S=100 scripts/gpu-check.sh 2>&1`.
# Smoke test on a machine without a GPU (lavapipe): FERROCR_ALLOW_SOFTWARE_ADAPTER=1 LIMIT_LINES=64
# LIMIT_PAGES=2 scripts/gpu-check.sh 32
set -uo pipefail
cd "$(dirname "$0")/.."
# The device tool returns at most 8 files from $OUT: everything is written to a work folder, and
# after every step summary.txt and results.tgz (all but the caches and per-page outputs) are
# refreshed in $OUT.
FINAL="${OUT:-$PWD/gpu-check-out}"
OUT="${GPU_CHECK_WORK:-/tmp/gpu-check-work}"
rm -rf "$OUT"
mkdir -p "$OUT" "$FINAL"
batches=("$@")
[ ${#batches[@]} -gt 0 ] || batches=(1024 256 2048 64)
step_s="${STEP_S:-150}"
pack() {
  cp "$OUT/summary.txt" "$FINAL/summary.txt"
  tar czf "$FINAL/results.tgz.tmp" -C "$OUT" --exclude=./cache --exclude='./ocr_*/*' . \
    && mv "$FINAL/results.tgz.tmp" "$FINAL/results.tgz"
}
log() { echo "== $*" | tee -a "$OUT/summary.txt"; pack; }
elapsed() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.2f", e - s }'; }
: > "$OUT/summary.txt"
t0=$(date +%s.%N)

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
limit=()
[ -n "${LIMIT_LINES:-}" ] && limit=(--limit "$LIMIT_LINES")
# Every page of the set (PNG, JPEG and TIFF: 40 dev pages; *.png alone held 18 of them).
shopt -s nullglob
pages=("$data"/*.png "$data"/*.jpg "$data"/*.jpeg "$data"/*.tif "$data"/*.tiff)
shopt -u nullglob
[ -n "${LIMIT_PAGES:-}" ] && pages=("${pages[@]:0:$LIMIT_PAGES}")
log "host: $(nproc) cores; binary $bin; data $data; $(date -u +%FT%TZ)"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$OUT/summary.txt"
echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}" >> "$OUT/summary.txt"

# 2. Doctor: adapters, choice, limits, caches, model, kernel and CRNN parity (exit 1 = mismatch).
# Run twice: JSON first (cold: every shader compiled), then text, which shows the warm-cache
# start-up (CubeCL's autotune cache and the driver's shader cache persist between processes).
start=$(date +%s.%N)
timeout $((step_s * 2)) "$bin" doctor --json --device gpu --pages 4 > "$OUT/doctor1.json" 2> "$OUT/doctor1.err"
rc=$?
log "doctor run 1 (cold, JSON): exit $rc, $(elapsed "$start") s"
start=$(date +%s.%N)
timeout "$step_s" "$bin" doctor --device gpu --pages 4 > "$OUT/doctor.txt" 2>&1
rc=$?
cat "$OUT/doctor.txt" >> "$OUT/summary.txt"
log "doctor run 2 (warm, text above): exit $rc, $(elapsed "$start") s"

# 3. CRNN lines/s on the dev line crops (GPU, warmed up), one batch size at a time.
lines_gpu() {
  local b=$1 start
  start=$(date +%s.%N)
  timeout "$step_s" "$bin" eval-lines --device gpu --batch "$b" --warm-up --data "$data" "${limit[@]}" \
    --json "$OUT/lines_gpu_b$b.json" > "$OUT/lines_gpu_b$b.txt" 2>&1
  local rc=$?
  log "CRNN gpu batch $b (exit $rc, $(elapsed "$start") s with warm-up): $(grep -m1 '^lines' "$OUT/lines_gpu_b$b.txt")"
}
lines_gpu "${batches[0]}"
# Where a pass's time goes: the convolutional backbone against the recurrent half (one device
# sync between them per pass), at the first batch size.
start=$(date +%s.%N)
timeout "$step_s" "$bin" eval-lines --device gpu --batch "${batches[0]}" --warm-up --split-forward \
  --data "$data" "${limit[@]}" > "$OUT/lines_gpu_split.txt" 2>&1
rc=$?
log "CRNN gpu batch ${batches[0]} split (exit $rc, $(elapsed "$start") s): $(grep -m1 '^forward split' "$OUT/lines_gpu_split.txt")"
# The recurrence as per-step tensor operations (FERROCR_LSTM_KERNEL=off), against the one-launch
# kernel of the runs above, same batch.
start=$(date +%s.%N)
FERROCR_LSTM_KERNEL=off timeout "$step_s" "$bin" eval-lines --device gpu --batch "${batches[0]}" --warm-up \
  --split-forward --data "$data" "${limit[@]}" > "$OUT/lines_gpu_per_step.txt" 2>&1
rc=$?
log "CRNN gpu batch ${batches[0]}, per-step recurrence (exit $rc, $(elapsed "$start") s): $(grep -m1 '^lines' "$OUT/lines_gpu_per_step.txt"); $(grep -m1 '^forward split' "$OUT/lines_gpu_per_step.txt")"

# The kernel's lines per workgroup: one line each (FERROCR_LSTM_LINES_PER_CUBE=1) against the
# default of the runs above (4 lines sharing each weight read from 1,024-line batches).
start=$(date +%s.%N)
FERROCR_LSTM_LINES_PER_CUBE=1 timeout "$step_s" "$bin" eval-lines --device gpu --batch "${batches[0]}" \
  --warm-up --split-forward --data "$data" "${limit[@]}" > "$OUT/lines_gpu_group1.txt" 2>&1
rc=$?
log "CRNN gpu batch ${batches[0]}, 1 line per workgroup (exit $rc, $(elapsed "$start") s): $(grep -m1 '^lines' "$OUT/lines_gpu_group1.txt"); $(grep -m1 '^forward split' "$OUT/lines_gpu_group1.txt")"

# 4. End to end on the GPU: all dev pages in one process, pages/s; twice (the second start finds
# the shader caches warm); accuracy when python3 is present.
ocr_run() {
  local dev=$1 tag=$2
  rm -rf "$OUT/ocr_$tag"
  local start
  start=$(date +%s.%N)
  timeout "$step_s" "$bin" ocr --device "$dev" --timings --out "$OUT/ocr_$tag" "${pages[@]}" 2> "$OUT/ocr_$tag.err"
  local rc=$?
  local secs
  secs=$(elapsed "$start")
  local rate
  rate=$(awk -v n="${#pages[@]}" -v s="$secs" 'BEGIN { printf "%.2f", n / s }')
  log "ocr $tag: ${#pages[@]} pages in $secs s ($rate pages/s, exit $rc; includes process start-up and first use)"
  grep -m1 'timings' "$OUT/ocr_$tag.err" >> "$OUT/summary.txt"
  if command -v python3 >/dev/null && [ -f .gpu/eval/ocr_eval.py ] && [ -z "${LIMIT_PAGES:-}" ]; then
    python3 .gpu/eval/ocr_eval.py --data "$data" --outputs "$OUT/ocr_$tag" --label "ferrocr-$tag" \
      --json "$OUT/ocr_eval_$tag.json" > "$OUT/ocr_eval_$tag.txt" 2>&1
    tail -3 "$OUT/ocr_eval_$tag.txt" >> "$OUT/summary.txt"
  fi
}
ocr_run gpu gpu
ocr_run gpu gpu2
# Steadier throughput: the dev pages five times over in one process (text to /dev/null); the
# marginal rate (extra pages / extra seconds over the one-pass run) leaves start-up out.
rep=("${pages[@]}" "${pages[@]}" "${pages[@]}" "${pages[@]}" "${pages[@]}")
start=$(date +%s.%N)
timeout "$step_s" "$bin" ocr --device gpu --timings "${rep[@]}" > /dev/null 2> "$OUT/ocr_gpu_x5.err"
rc=$?
log "ocr gpu x5 (batched): ${#rep[@]} pages in $(elapsed "$start") s (exit $rc): $(grep -m1 timings "$OUT/ocr_gpu_x5.err")"
# Larger gathered passes (1,024 lines, the best eval-lines batch on the H200).
start=$(date +%s.%N)
timeout "$step_s" "$bin" ocr --device gpu --max-batch-lines 1024 --timings "${rep[@]}" > /dev/null 2> "$OUT/ocr_gpu_x5_b1024.err"
rc=$?
log "ocr gpu x5 (batched, 1024 lines): ${#rep[@]} pages in $(elapsed "$start") s (exit $rc): $(grep -m1 timings "$OUT/ocr_gpu_x5_b1024.err")"
# The same on the GPU, each file alone on a thread (how `ocr` ran before it was batched).
start=$(date +%s.%N)
timeout "$step_s" "$bin" ocr --device gpu --pipeline per-file --timings "${rep[@]}" > /dev/null 2> "$OUT/ocr_gpu_x5_per_file.err"
rc=$?
log "ocr gpu x5 (per file): ${#rep[@]} pages in $(elapsed "$start") s (exit $rc): $(grep -m1 timings "$OUT/ocr_gpu_x5_per_file.err")"

# 5. The other batch sizes, then the CPU for reference.
for b in "${batches[@]:1}"; do lines_gpu "$b"; done
timeout "$step_s" "$bin" eval-lines --device cpu --batch 64 --data "$data" "${limit[@]}" \
  --json "$OUT/lines_cpu_b64.json" > "$OUT/lines_cpu_b64.txt" 2>&1
rc=$?
log "CRNN cpu batch 64 (exit $rc): $(grep -m1 '^lines' "$OUT/lines_cpu_b64.txt")"
ocr_run cpu cpu
log "done in $(elapsed "$t0") s; results in $FINAL (summary.txt, results.tgz)"
cat "$OUT/summary.txt"
