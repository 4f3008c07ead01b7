#!/usr/bin/env bash
# Configures (Release, Ninja) on first use and builds incrementally.
# Usage: scripts/build.sh [build-dir] [cmake -D options]
# RTSCOPE_BUILD_TARGETS="a b" builds only those targets.
# Options given re-run the configure step so they always take effect.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

build_dir="${1:-build}"
shift || true

launcher=()
if command -v ccache >/dev/null; then
  # Paths relative to the checkout, so clones in other folders (CI's) share
  # one compiler cache; sanitizer builds differ in flags and never collide.
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
  export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-10G}"
  export CCACHE_SLOPPINESS="${CCACHE_SLOPPINESS:-include_file_mtime,include_file_ctime}"
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

if [[ ! -f "$build_dir/build.ninja" || $# -gt 0 ]]; then
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" "$@"
fi
# RTSCOPE_BUILD_TARGETS: build only these targets (and what they need).
targets=()
for target in ${RTSCOPE_BUILD_TARGETS:-}; do targets+=(--target "$target"); done
cmake --build "$build_dir" -j"$(nproc)" "${targets[@]}"
