#!/usr/bin/env bash
# Installs dependencies, builds everything with tests and runs them.
# RTSCOPE_SANITIZE=address (ASan+UBSan) or thread (TSan) builds in
# build-<sanitizer> instead of build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sanitize="${RTSCOPE_SANITIZE:-}"
case "$sanitize" in
  "") build_dir=build ;;
  address | thread) build_dir="build-$sanitize" ;;
  *)
    echo "test.sh: RTSCOPE_SANITIZE must be empty, 'address' or 'thread', not '$sanitize'" >&2
    exit 2
    ;;
esac

bash scripts/install-deps.sh
bash scripts/build.sh "$build_dir" -DRTSCOPE_BUILD_TESTS=ON -DRTSCOPE_SANITIZE="$sanitize"
cd "$build_dir"
ctest --output-on-failure -j2 --no-tests=error
