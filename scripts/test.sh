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

options=(-DRTSCOPE_BUILD_TESTS=ON -DRTSCOPE_SANITIZE="$sanitize")
if [[ -n "$sanitize" ]]; then
  # Sanitizer builds check the host, the CPU and testing plugins and the
  # cache. Benchmarks are not run there, and Mesa's uninstrumented driver
  # threads would only add noise, so the Vulkan plugin is left out.
  options+=(-DRTSCOPE_BUILD_BENCHMARKS=OFF -DRTSCOPE_BUILD_VULKAN=OFF)
fi
ctest_args=()
if [[ "$sanitize" == thread ]]; then
  # OpenBLAS's own threads are not instrumented; TSan would report their
  # hand-offs as races in the code that reads their results.
  export OPENBLAS_NUM_THREADS=1
  # TSan runs the areas whose code shares state between threads or
  # processes: scopes and settings, the runtime cache, modules under
  # concurrent execute, and the CPU plugin's thread pool and background
  # tuning. The other areas run under ASan+UBSan and in the Release build.
  tsan_areas=(settings cache module cpu)
  export RTSCOPE_BUILD_TARGETS="${tsan_areas[*]/#/test_}"
  ctest_args=(-L "^($(IFS='|'; echo "${tsan_areas[*]}"))\$")
fi

if [[ "$sanitize" == address ]]; then
  # Tests crash plugins and workers on purpose and check that the signal is
  # named; ASan must let such a signal kill the process as it would in a
  # plain build (a real crash still fails the test that meets it).
  export ASAN_OPTIONS="${ASAN_OPTIONS:-handle_segv=0:handle_sigbus=0:handle_sigfpe=0}"
  # GCC 12's LeakSanitizer can crash at exit ("Tracer caught signal 11")
  # reading the dynamic thread-local storage of libraries that plugins
  # load and unload; whether it does moves with the process's memory
  # layout (the environment's size is enough). Thread-local storage is
  # therefore not scanned for pointers: a block referenced only from there
  # is reported as a leak, never hidden, and the few libraries that keep
  # such state until exit are listed in the suppressions file.
  export LSAN_OPTIONS="${LSAN_OPTIONS:-use_tls=0:suppressions=$PWD/tests/sanitizers/lsan.supp}"
fi

bash scripts/install-deps.sh
bash scripts/build.sh "$build_dir" "${options[@]}"
cd "$build_dir"
ctest --output-on-failure -j2 --no-tests=error "${ctest_args[@]}"
