#!/usr/bin/env bash
# Decode step p50 of configs/default.yaml on the CPU plugin, two plugin
# builds alternating in one run (the machine may be shared: alternating
# spreads other load over both, and every round is reported).
# Usage: scripts/bench_cpu_decode.sh OLD_PLUGIN_DIR [NEW_PLUGIN_DIR] [ROUNDS] [ITERATIONS]
# Each plugin dir holds librtscope_plugin_cpu.so; NEW defaults to
# build/plugins/cpu. Each build tunes into a runtime cache of its own
# (warmed by one untimed run), so neither inherits the other's choices.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

old="$(realpath "$1")"
new="$(realpath "${2:-build/plugins/cpu}")"
rounds="${3:-5}"
iterations="${4:-2000}"
run=build/host/runner/rtscope-run
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

p50() { python3 -c "import json,sys; print('%.3f' % json.load(open(sys.argv[1]))['models']['decode']['latency_ms']['p50'])" "$1"; }

declare -A caches=([old]="$out/old.cache" [new]="$out/new.cache")
declare -A dirs=([old]="$old" [new]="$new")
for which in old new; do
  RTSCOPE_PLUGIN_PATH="${dirs[$which]}" "$run" configs/default.yaml \
    --set runtime.cache="${caches[$which]}" --set run.0.iterations=500 >/dev/null 2>&1
done
printf 'round  old p50 ms  new p50 ms\n'
for round in $(seq 1 "$rounds"); do
  line="$round"
  for which in old new; do
    RTSCOPE_PLUGIN_PATH="${dirs[$which]}" "$run" configs/default.yaml \
      --set runtime.cache="${caches[$which]}" --set run.0.iterations="$iterations" \
      --json "$out/$which.json" >/dev/null 2>&1
    line+="  $(p50 "$out/$which.json")"
  done
  echo "$line"
done
