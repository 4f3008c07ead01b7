#!/usr/bin/env bash
# B15: the same .onnx files in rtscope (cpu) and in ONNX Runtime 1.30 CPU on
# this machine, both with 2 intra-op threads; prints p50 latency per model
# and the ratio rtscope / ORT.
#
#   scripts/bench_onnx.sh [build-dir]
#
# Models, all written by rtscope-onnx-export with seeded weights:
#   - the decoder of configs/default.yaml (2 layers, d_model 256, 4 heads,
#     ffn 1024, vocab 1024, f32, seed 7) with concat-style past/present KV
#     and with a fixed 256-row cache written in place: a decode step (one
#     token after a 16-token prompt, 64 tokens per stream) and a 16-token
#     prefill; rtscope also runs its built-in decoder (configs/default.yaml)
#     for reference;
#   - the built-in MLP (256→1024→256) at batch 1 and 64;
#   - a ResNet-18-shaped CNN (224×224, batch 1).
# Each round runs every row in rtscope then in ORT, alternating; the table
# shows the median over rounds of each side's p50 and the spread (min–max)
# of those p50s. ORT comes from npm (onnxruntime-node 1.30.0, installed
# with --ignore-scripts into build-ort/, which the build ignores); Debian's
# node 20 runs it.
#
# RTSCOPE_BENCH_ROUNDS (3), RTSCOPE_BENCH_ITERATIONS (200; the CNN runs a
# tenth of them, or RTSCOPE_BENCH_CNN_ITERATIONS) set the effort;
# RTSCOPE_BENCH_ROWS, a regular expression, keeps the rows whose name
# matches (e.g. resnet). The last column is the median over rounds of each
# round's rtscope/ORT ratio: the two sides of a round run seconds apart,
# so it follows a VM whose speed moves between minutes better than the
# ratio of the medians does. RTSCOPE_BENCH_BASELINE_PLUGIN_DIR, a
# folder holding another build's librtscope_plugin_cpu.so: every rtscope
# row also runs with that plugin, alternating with this build's, and the
# table adds its p50 and ratio (a before/after from one run).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build="${1:-build}"
rounds="${RTSCOPE_BENCH_ROUNDS:-3}"
iterations="${RTSCOPE_BENCH_ITERATIONS:-200}"
cnn_iterations=${RTSCOPE_BENCH_CNN_ITERATIONS:-$(( iterations / 10 > 5 ? iterations / 10 : 5 ))}
row_filter="${RTSCOPE_BENCH_ROWS:-.}"

if [[ ! -d build-ort/node_modules/onnxruntime-node ]]; then
  mkdir -p build-ort
  (cd build-ort && npm install --ignore-scripts onnxruntime-node@1.30.0)
fi
export NODE_PATH="$PWD/build-ort/node_modules"
export ORT_THREADS=2
export RTSCOPE_LOG_LEVEL=warn
models="$build/bench-onnx"
mkdir -p "$models"
export_tool="$build/host/onnx/rtscope-onnx-export"
run_tool="$build/host/runner/rtscope-run"
decoder_params=(--param seed=7)
"$export_tool" --builtin mlp "$models/mlp.onnx" >/dev/null
"$export_tool" --builtin decoder --kv-cache concat "${decoder_params[@]}" "$models/decoder-concat.onnx" >/dev/null
"$export_tool" --builtin decoder --kv-cache fixed "${decoder_params[@]}" "$models/decoder-fixed.onnx" >/dev/null
"$export_tool" --builtin resnet18 --param seed=1 "$models/resnet18.onnx" >/dev/null
cache="past_key_values.0.key:1x4x256x64"

p50_of_report() {
  python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(next(iter(r['models'].values()))['latency_ms']['p50'])" "$1"
}
p50_of_line() { python3 -c "import json,sys; print(json.load(sys.stdin)['p50_ms'])"; }

# rtscope-run ARGS... -> p50 ms
ours() {
  local json="$models/report.json"
  "$run_tool" "$@" --set run.0.warmup=20 --json "$json" >/dev/null
  p50_of_report "$json"
}

# Each row: name | rtscope command (after rtscope-run) | ORT command.
rows=(
  "decoder step, concat KV|--onnx $models/decoder-concat.onnx --shapes $cache --set run.0.iterations=$iterations|node tests/bench/ort_decoder.cjs $models/decoder-concat.onnx concat step $iterations 20"
  "decoder step, fixed KV|--onnx $models/decoder-fixed.onnx --set run.0.iterations=$iterations|node tests/bench/ort_decoder.cjs $models/decoder-fixed.onnx fixed step $iterations 20"
  "built-in step vs concat|configs/default.yaml --set run.0.iterations=$iterations|node tests/bench/ort_decoder.cjs $models/decoder-concat.onnx concat step $iterations 20"
  "prefill 16, concat KV|--onnx $models/decoder-concat.onnx --shapes input_ids:1x16,$cache --set run.0.iterations=$iterations|node tests/bench/ort_decoder.cjs $models/decoder-concat.onnx concat prefill $iterations 20"
  "mlp batch 1|--onnx $models/mlp.onnx --shapes x:1x256 --set run.0.iterations=$iterations|node tests/bench/ort_latency.cjs $models/mlp.onnx x:1x256 $iterations 20"
  "mlp batch 64|--onnx $models/mlp.onnx --shapes x:64x256 --set run.0.iterations=$iterations|node tests/bench/ort_latency.cjs $models/mlp.onnx x:64x256 $iterations 20"
  "resnet18 batch 1|--onnx $models/resnet18.onnx --shapes input:1x3x224x224 --set run.0.iterations=$cnn_iterations|node tests/bench/ort_latency.cjs $models/resnet18.onnx input:1x3x224x224 $cnn_iterations 3"
)

baseline="${RTSCOPE_BENCH_BASELINE_PLUGIN_DIR:-}"
declare -A ours_p50 theirs_p50 base_p50
for round in $(seq "$rounds"); do
  for i in "${!rows[@]}"; do
    IFS='|' read -r name rt ort <<<"${rows[$i]}"
    [[ $name =~ $row_filter ]] || continue
    if [[ -n "$baseline" ]]; then
      # shellcheck disable=SC2086
      base_p50[$i]+="$(RTSCOPE_PLUGIN_PATH="$baseline" ours $rt) "
    fi
    # shellcheck disable=SC2086
    ours_p50[$i]+="$(ours $rt) "
    # shellcheck disable=SC2086
    theirs_p50[$i]+="$($ort | p50_of_line) "
  done
done

if [[ -n "$baseline" ]]; then
  printf '%-26s %22s %22s %22s %8s %8s %8s\n' model "baseline p50 ms" "rtscope p50 ms" \
    "ORT p50 ms" "base/ORT" ratio "rounds"
else
  printf '%-26s %22s %22s %8s %8s\n' model "rtscope p50 ms" "ORT p50 ms" ratio "rounds"
fi
for i in "${!rows[@]}"; do
  IFS='|' read -r name _ _ <<<"${rows[$i]}"
  [[ $name =~ $row_filter ]] || continue
  python3 - "$name" "${ours_p50[$i]}" "${theirs_p50[$i]}" "${base_p50[$i]:-}" <<'PY'
import statistics, sys
name = sys.argv[1]
ours, theirs, base = ([float(x) for x in arg.split()] for arg in sys.argv[2:5])
a, b = statistics.median(ours), statistics.median(theirs)
per_round = statistics.median(x / y for x, y in zip(ours, theirs))
cell = lambda v, xs: f"{v:.3f} ({min(xs):.3f}-{max(xs):.3f})"
if base:
    c = statistics.median(base)
    print(f"{name:<26} {cell(c, base):>22} {cell(a, ours):>22} {cell(b, theirs):>22} "
          f"{c / b:8.2f} {a / b:8.2f} {per_round:8.3f}")
else:
    print(f"{name:<26} {cell(a, ours):>22} {cell(b, theirs):>22} {a / b:8.2f} {per_round:8.3f}")
PY
done
