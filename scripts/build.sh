#!/usr/bin/env bash
# Configures (Release, Ninja) on first use and builds incrementally.
# Usage: scripts/build.sh [build-dir] [cmake -D options]
# Options given re-run the configure step so they always take effect.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir="${1:-build}"
shift || true

if [[ ! -f "$build_dir/build.ninja" || $# -gt 0 ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@"
fi
cmake --build "$build_dir" -j"$(nproc)"
