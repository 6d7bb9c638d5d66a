#!/usr/bin/env bash
# The test command: every unit, integration and golden test, in the release profile (the tests
# share the optimised dependency build with the binary; see Cargo.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ferrocr/target}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
cargo test --release --all-targets --no-fail-fast "$@"
