#!/usr/bin/env bash
# B15: the same .onnx files in rtscope (cpu) and in ONNX Runtime 1.30 CPU on
# this machine; prints p50 latency per model and the ratio rtscope / ORT.
#
#   scripts/bench_onnx.sh [build-dir]
#
# Models: the built-in MLP at its default size (rtscope-onnx-export), batch 1
# and batch 64. ORT comes from npm (onnxruntime-node 1.30.0, installed with
# --ignore-scripts into build-ort/, which the build ignores); Debian's node
# 20 runs it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="${1:-build}"
iterations="${RTSCOPE_BENCH_ITERATIONS:-200}"

if [[ ! -d build-ort/node_modules/onnxruntime-node ]]; then
  mkdir -p build-ort
  (cd build-ort && npm install --ignore-scripts onnxruntime-node@1.30.0)
fi
export NODE_PATH="$PWD/build-ort/node_modules"
models="$build/bench-onnx"
mkdir -p "$models"
"$build/host/onnx/rtscope-onnx-export" --builtin mlp "$models/mlp.onnx" >/dev/null

printf '%-16s %12s %12s %8s\n' model rtscope_ms ort_ms ratio
for shape in x:1x256 x:64x256; do
  json="$models/rtscope-${shape//[:x]/_}.json"
  RTSCOPE_LOG_LEVEL=warn "$build/host/runner/rtscope-run" --onnx "$models/mlp.onnx" --shapes "$shape" \
    --set run.0.iterations="$iterations" --set run.0.warmup=20 --json "$json" >/dev/null
  ours=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(next(iter(r['models'].values()))['latency_ms']['p50'])" "$json")
  theirs=$(node tests/bench/ort_latency.cjs "$models/mlp.onnx" "$shape" "$iterations" 20 |
    python3 -c "import json,sys; print(json.load(sys.stdin)['p50_ms'])")
  ratio=$(python3 -c "print(f'{$ours / $theirs:.2f}')")
  printf '%-16s %12.4f %12.4f %8s\n' "mlp ${shape#x:}" "$ours" "$theirs" "$ratio"
done
