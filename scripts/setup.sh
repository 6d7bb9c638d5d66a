#!/usr/bin/env bash
# Installs what ferrocr needs on Debian/Ubuntu, skipping packages that are already there:
# fonts for training and tests, xmllint, poppler-utils and qpdf for output validation, Mesa's Vulkan drivers (lavapipe)
# for GPU parity tests, and Tesseract for side-by-side benchmarks. Idempotent; needs root (or sudo).
set -euo pipefail
pkgs=(fonts-dejavu-core libxml2-utils mesa-vulkan-drivers poppler-utils qpdf)
if [ "${1:-}" = "--full" ]; then
  # Training fonts and the benchmark baseline.
  pkgs+=(fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 fonts-noto-core fonts-texgyre
    fonts-dkg-handwriting fonts-breip fonts-femkeklaver fonts-humor-sans fonts-kristi
    fonts-dancingscript fonts-comic-neue wamerican tesseract-ocr imagemagick)
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup: all packages present"
fi
