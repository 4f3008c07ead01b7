#!/usr/bin/env bash
# Configures (Release, Ninja) on first use and builds incrementally.
# Usage: scripts/build.sh [build-dir] [cmake -D options]
# RTSCOPE_BUILD_TARGETS="a b" builds only those targets.
# Options given re-run the configure step so they always take effect.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir="${1:-build}"
shift || true

source scripts/ccache-launcher.sh

if [[ ! -f "$build_dir/build.ninja" || $# -gt 0 ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@"
fi
# RTSCOPE_BUILD_TARGETS: build only these targets (and what they need).
targets=()
for target in ${RTSCOPE_BUILD_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
