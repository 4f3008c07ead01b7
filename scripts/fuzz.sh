#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan in
# their own tree, replays the committed crash regressions, then fuzzes each
# target for a bounded time from its committed seed corpus. Fails on any
# crash, leak, sanitizer report or hang.
#
# Environment:
#   RTSCOPE_FUZZ_SECONDS  seconds per target (default 60)
#   RTSCOPE_FUZZ_JOBS     targets fuzzed at once (default: the core count)
#   RTSCOPE_FUZZ_TARGETS  space-separated subset of: cache_file engine_file
#                         graph_yaml onnx_model run_config remote_input safetensors (default: all)
#   RTSCOPE_FUZZ_BUILD    build directory (default build-fuzz)
# Longer runs: RTSCOPE_FUZZ_SECONDS=600 bash scripts/fuzz.sh
# Inputs found along the way stay in $RTSCOPE_FUZZ_BUILD/corpus/<target>;
# a crashing input is written to $RTSCOPE_FUZZ_BUILD/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

seconds="${RTSCOPE_FUZZ_SECONDS:-60}"
jobs="${RTSCOPE_FUZZ_JOBS:-$(nproc)}"
targets=(${RTSCOPE_FUZZ_TARGETS:-cache_file engine_file graph_yaml onnx_model run_config remote_input safetensors})
build_dir="${RTSCOPE_FUZZ_BUILD:-build-fuzz}"

bash scripts/install-deps.sh

source scripts/ccache-launcher.sh
if [[ ! -f "$build_dir/build.ninja" ]]; then
  # -O1 with line tables: quick to build, fast enough to fuzz, and stack
  # traces with lines; asserts stay on.
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Fuzz \
    -DCMAKE_C_FLAGS="-O1 -gline-tables-only" -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ "${launcher[@]}" \
    -DRTSCOPE_BUILD_FUZZERS=ON -DRTSCOPE_BUILD_TESTS=OFF -DRTSCOPE_BUILD_BENCHMARKS=OFF \
    -DRTSCOPE_BUILD_VULKAN=OFF
fi
cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export RTSCOPE_LOG_LEVEL="${RTSCOPE_LOG_LEVEL:-off}"

# Every input that once crashed a target is replayed first.
for target in "${targets[@]}"; do
  regressions=(tests/fuzz/regressions/"$target"/*)
  if [[ -e "${regressions[0]}" ]]; then
    echo "fuzz: $target: replaying ${#regressions[@]} regression inputs"
    "$build_dir/tests/fuzz/fuzz_$target" "${regressions[@]}" >"$build_dir/regressions-$target.log" 2>&1 || {
      cat "$build_dir/regressions-$target.log" >&2
      echo "fuzz: $target: a regression input crashes again" >&2
      exit 1
    }
  fi
done

run_one() {
  local target="$1" corpus="$build_dir/corpus/$1" artifacts="$build_dir/artifacts/$1/"
  mkdir -p "$corpus" "$artifacts"
  # New inputs go to the build tree's corpus; the committed seeds are read.
  local status=0
  "$build_dir/tests/fuzz/fuzz_$target" "$corpus" "tests/fuzz/corpus/$target" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -artifact_prefix="$artifacts" -print_final_stats=1 >"$build_dir/fuzz-$target.log" 2>&1 ||
    status=$?
  echo "$status" >"$build_dir/fuzz-$target.rc"
}

failed=0
for target in "${targets[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  echo "fuzz: $target for ${seconds}s"
  rm -f "$build_dir/fuzz-$target.rc"
  run_one "$target" &
done
wait
for target in "${targets[@]}"; do
  log="$build_dir/fuzz-$target.log"
  if [[ "$(cat "$build_dir/fuzz-$target.rc" 2>/dev/null)" == 0 ]]; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    echo "fuzz: $target: ok, $runs inputs in ${seconds}s, corpus $(ls "$build_dir/corpus/$target" | wc -l) files"
  else
    failed=1
    tail -n 60 "$log" >&2
    echo "fuzz: $target: FAILED; crashing input in $build_dir/artifacts/$target/ (log: $log)" >&2
  fi
done
exit "$failed"
