#!/usr/bin/env bash
# A/B of runtime variants of the GPU reference decoder on one machine, in
# one short call: the default and each VARIANT run in turn, ROUNDS rounds,
# every run a fresh rtscope-run of configs/gpu-decoder.yaml with B
# streams per captured step (kernel_specialization eager), long enough
# for the GPU's clocks to settle: 3000 timed steps after 500 warm-up ones,
# 4000 tokens per stream (max_seq 4096). Runs of 200 steps after 10 from
# an idle H100 varied from 0.78 to 1.41 ms of device time per step for
# the same settings within one call; these agreed to 1%.
#   scripts/device-ab.sh BUILD_DIR OUT_DIR [--batch B] [--rounds R] [--quick] VARIANT...
# BUILD_DIR is a build dir or a bundle (scripts/gpu-bundle.sh), as for
# scripts/device-bench.sh. A VARIANT is NAME:VAR=VALUE[,VAR=VALUE...], the
# variables set for its runs; one may set RTSCOPE_PLUGIN_PATH to run
# another build of the vulkan plugin (dirs searched in order, before the
# tree's own plugin dirs, which still serve the cpu plugin). Each run
# leaves OUT_DIR/<NAME>_r<round>.json (rtscope-run --json) and .log; then
# tests/bench/ab_report.py prints device time and p50 per step for every
# variant, its median over the rounds and its ratio to the default's, and
# writes OUT_DIR/ab.json. --quick: tiny shapes and few steps, to check the
# script end to end on any Vulkan device (lavapipe in CI).
set -uo pipefail

usage() {
  echo "usage: scripts/device-ab.sh BUILD_DIR OUT_DIR [--batch B] [--rounds R] [--quick] NAME:VAR=VALUE[,VAR=VALUE...] ..." >&2
  exit 2
}

batch=8 rounds=2 quick=0
positional=() variants=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --batch) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; batch="$2"; shift ;;
    --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || usage; rounds="$2"; shift ;;
    --quick) quick=1 ;;
    -h | --help) usage ;;
    -*) echo "device-ab: unknown option '$1'" >&2; usage ;;
    *:*) variants+=("$1") ;;
    *) positional+=("$1") ;;
  esac
  shift
done
[[ ${#positional[@]} -eq 2 ]] || usage
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/run-variant.sh
source "$repo/scripts/lib/run-variant.sh"
for variant in "${variants[@]}"; do
  run_variant_parse device-ab "$variant" || exit 2
  if [[ "$variant_name" == default ]]; then
    echo "device-ab: variant '$variant': 'default' names the run without variables" >&2
    exit 2
  fi
done

# Libraries and plugins of the prebuilt tree; sets $build.
# shellcheck source=lib/prebuilt-tree.sh
source "$repo/scripts/lib/prebuilt-tree.sh"
prebuilt_tree_use device-ab "${positional[0]}"
runner="$build/host/runner/rtscope-run"
out="${positional[1]}"
mkdir -p "$out" && out="$(cd "$out" && pwd)" || {
  echo "device-ab: cannot create the output dir '${positional[1]}'" >&2
  exit 2
}

if [[ "$quick" == 1 ]]; then
  sizes=(layers=2 d_model=256 heads=4 ffn=1024 vocab=1024 max_seq=256)
  prompt=4 tokens=24 warmup=2 iterations=10
else
  sizes=(layers=8 d_model=2048 heads=16 ffn=8192 vocab=32000 max_seq=4096)
  prompt=16 tokens=4000 warmup=500 iterations=3000
fi
sets=()
for size in "${sizes[@]}"; do sets+=(--set "models.decoder.params.$size"); done
sets+=(--set models.decoder.params.dtype=f16 --set "models.decoder.params.batch=$batch"
  --set "run.0.workload.batch=$batch" --set "run.0.workload.prompt=$prompt"
  --set "run.0.workload.tokens=$tokens" --set "run.0.warmup=$warmup"
  --set "run.0.iterations=$iterations" --set runtime.graph_capture=whole_graph
  --set runtime.kernel_specialization=eager)

{
  echo "{\"commit\": \"$(prebuilt_tree_commit "$build" "$repo")\","
  echo " \"device\": \"$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | head -1)\","
  echo " \"date_utc\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\", \"batch\": $batch, \"rounds\": $rounds,"
  echo " \"quick\": $([[ $quick == 1 ]] && echo true || echo false),"
  printf ' "variants": ["default"'
  for variant in "${variants[@]}"; do printf ', "%s"' "${variant%%:*}"; done
  echo "]}"
} >"$out/ab_info.json"

# run NAME ROUND [VAR=VALUE...]
run() {
  local name="$1" round="$2"
  shift 2
  local file="$out/${name}_r$round"
  echo "device-ab: round $round: $name" >&2
  # The log opens with what the run set, as it was set.
  echo "device-ab: $name, round $round: ${*:-no variables set}" >"$file.log"
  (cd "$repo" && env "$@" "$runner" configs/gpu-decoder.yaml "${sets[@]}" \
    --set "runtime.cache=$out/cache_$name.bin" --json "$file.json") >>"$file.log" 2>&1 || {
    echo "device-ab: $name failed in round $round; see $file.log:" >&2
    tail -5 "$file.log" >&2
    return 1
  }
}

status=0
for ((round = 1; round <= rounds; ++round)); do
  run default "$round" || status=1
  for variant in "${variants[@]}"; do
    run_variant_parse device-ab "$variant" && run_variant_complete_plugin_path
    run "$variant_name" "$round" "${variant_assignments[@]}" || status=1
  done
done
python3 "$repo/tests/bench/ab_report.py" "$out" || status=1
exit $status
