#!/usr/bin/env bash
# The GPU benchmarks of BENCHMARKS.md (B5, B6, B9, B10, B11, B13, B14, B15's
# GPU row, B16) in one call, on a prebuilt tree: a build dir, or a bundle
# from scripts/gpu-bundle.sh (no compiler or Debian packages needed on the
# GPU machine).
#
#   scripts/device-bench.sh BUILD_DIR [OUT_DIR] [--quick]
#
# Correctness first: the Vulkan test binary (when present) and the checks of
# the benchmark programs; a failure stops the script with status 1 before any
# timing. Then it times:
#   B9       bench_vulkan_matmul (4096^3 f16 and f32)
#   B6/B14   rtscope-run configs/gpu-decoder.yaml in a fresh process, cold
#            (empty runtime cache) and warm (the cold run's cache file)
#   B10/B13  decode steps of the warm (eager) and captured runs, the faster p50
#   B5       a third run with graph_capture whole_graph, against the eager ones
#   B11      two more runs with max_seq 256 and 4096 (KV caches on the device)
#   B15      the same decoder exported to ONNX and imported
#            (configs/gpu-decoder-onnx.yaml), eager and captured, alternating
#            with the built-in decoder: imported / built-in step
#   B16      batched decode, captured: B = 1, 4, 8, 16 independent streams per
#            step (models.decoder.params.batch=B, run.0.workload.batch=B),
#            tokens/s of each and the B=8 / B=1 ratio
#            (tests/bench/batch_scaling_report.py)
#   B14 ckpt where python3 has torch and transformers:
#            scripts/llama-transformers-check.py saves a random GQA Llama
#            checkpoint (f16) and compares rtscope's logits with
#            transformers' (a failure fails the script), then the decoder
#            runs from that checkpoint cold and warm (page cache warm), and
#            scripts/b14-checkpoint-start.py times B14's phases from it cold
#            and warm next to torch.compile's cold and warm starts
#   torch    tests/bench/torch_decoder.py: the same decoder in PyTorch (eager,
#            CUDA graph, torch.compile), torch.matmul, device copy bandwidth;
#            skipped ("n/a") when torch or CUDA is missing
# and writes one JSON per benchmark plus results.json into OUT_DIR
# (default: device-bench-<UTC time>), then prints the table
# (tests/bench/device_bench_report.py).
#
# The driver's own shader disk cache is off for every run
# (__GL_SHADER_DISK_CACHE=0; Mesa: MESA_SHADER_CACHE_DISABLE=true), so warm
# starts come from rtscope's runtime cache alone.
#
# --quick (or RTSCOPE_BENCH_QUICK=1): tiny shapes and few repetitions, for
# checking the script end to end on any Vulkan device (lavapipe in CI).
# RTSCOPE_BENCH_TORCH=0 skips the PyTorch comparison;
# RTSCOPE_BENCH_TEST_FILTER=<gtest filter> narrows the test_vulkan run.
# RTSCOPE_BENCH_IMPORTED=0 skips B15's imported decoder;
# RTSCOPE_BENCH_CHECKPOINT=0 skips B14's Hugging Face checkpoint rows;
# RTSCOPE_BENCH_IMPORTED_ROUNDS (2) sets its alternations;
# RTSCOPE_BENCH_B16_ROUNDS (3; 1 with --quick) B16's.
# RTSCOPE_BENCH_SKINNY_AB=1 repeats B16 with RTSCOPE_VULKAN_SKINNY=matvec
# (OUT_DIR/skinny_matvec/): tensor-core against shader-core projections.
# RTSCOPE_BENCH_SKINNY_COOP_BUILDS="t2s16 staged-t2s8 ..." repeats B16 with
# each named build of the tensor-core product (RTSCOPE_VULKAN_SKINNY_COOP,
# OUT_DIR/skinny_coop_<build>/); RTSCOPE_BENCH_TEST_FILTER='*Skinny*'
# checks every build against the float64 reference first.
# RTSCOPE_BENCH_MATVEC_SPLITS="4 8 4x4 ..." repeats B16 with every
# projection of 2+ rows on matvec_t's split-K path, W weight rows per
# workgroup and R rows per pass for each WxR (RTSCOPE_VULKAN_MATVEC_SPLIT,
# RTSCOPE_VULKAN_MATVEC_BLOCK_ROWS; W alone keeps the default R), in
# OUT_DIR/matvec_split_<W[xR]>/; RTSCOPE_BENCH_TEST_FILTER='*MatvecRows*'
# checks the path against the float64 reference first.
# RTSCOPE_BENCH_B16_ENV="NAME:VAR=VALUE[,VAR=VALUE...] ..." repeats B16 with
# each entry's variables set, in OUT_DIR/b16_<NAME>/, e.g.
# "unfused:RTSCOPE_VULKAN_FUSE_CACHE_WRITES=0,RTSCOPE_VULKAN_FUSE_ATTENTION_COMBINE=0
# split8:RTSCOPE_VULKAN_MATVEC_SPLIT=8".
set -uo pipefail

usage() {
  echo "usage: scripts/device-bench.sh BUILD_DIR [OUT_DIR] [--quick]" >&2
  exit 2
}

quick="${RTSCOPE_BENCH_QUICK:-0}"
positional=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1 ;;
    -h | --help) usage ;;
    -*) echo "device-bench: unknown option '$arg'" >&2; usage ;;
    *) positional+=("$arg") ;;
  esac
done
[[ ${#positional[@]} -ge 1 && ${#positional[@]} -le 2 ]] || usage

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Libraries and plugins of the prebuilt tree; sets $build.
# shellcheck source=lib/prebuilt-tree.sh
source "$repo/scripts/lib/prebuilt-tree.sh"
prebuilt_tree_use device-bench "${positional[0]}"
runner="$build/host/runner/rtscope-run"
matmul_bench="$build/tests/bench/bench_vulkan_matmul"

out="${positional[1]:-device-bench-$(date -u +%Y%m%dT%H%M%SZ)}"
mkdir -p "$out" && out="$(cd "$out" && pwd)" || {
  echo "device-bench: cannot create the output dir '${positional[1]:-}'" >&2
  exit 2
}

log() { echo "device-bench: $*" >&2; }
commit_id() { prebuilt_tree_commit "$build" "$repo"; }
now_ns() { date +%s%N; }

# --- sizes -------------------------------------------------------------------
# The decoder's params are always set explicitly, so the report knows them.
if [[ "$quick" == 1 ]]; then
  layers=2 d_model=256 heads=4 ffn=1024 vocab=1024 max_seq=256 b11_short=64 b11_long=512
  prompt=16 tokens=16 warmup=2 iterations=10
  matmul_args=(--quick)
  torch_args=(--quick)
  vulkan_filter='*Decoder*'
  b16_rounds=1
else
  # GPU reference size (DESIGN.md); ~200 timed steps per run.
  layers=8 d_model=2048 heads=16 ffn=8192 vocab=32000 max_seq=1024 b11_short=256 b11_long=4096
  prompt=16 tokens=128 warmup=10 iterations=200
  matmul_args=()
  torch_args=(--steps 100 --warmup 10)
  vulkan_filter='*'
  b16_rounds=3
fi
vulkan_filter="${RTSCOPE_BENCH_TEST_FILTER:-$vulkan_filter}"
b16_rounds="${RTSCOPE_BENCH_B16_ROUNDS:-$b16_rounds}"
if [[ ! "$b16_rounds" =~ ^[1-9][0-9]?$ ]]; then
  echo "device-bench: RTSCOPE_BENCH_B16_ROUNDS='$b16_rounds' is not a count of rounds (1 to 99)" >&2
  exit 2
fi
# Malformed B16 variants are refused before anything runs.
# shellcheck source=lib/run-variant.sh
source "$repo/scripts/lib/run-variant.sh"
for variant in ${RTSCOPE_BENCH_B16_ENV:-}; do
  run_variant_parse "device-bench: RTSCOPE_BENCH_B16_ENV" "$variant" || exit 2
done
decoder_sets=()
for key in layers d_model heads ffn vocab max_seq; do
  decoder_sets+=(--set "models.decoder.params.$key=${!key}")
done
decoder_sets+=(--set "models.decoder.params.dtype=f16"
  --set "run.0.workload.prompt=$prompt" --set "run.0.workload.tokens=$tokens"
  --set "run.0.warmup=$warmup" --set "run.0.iterations=$iterations")

{
  echo "{\"quick\": $([[ $quick == 1 ]] && echo true || echo false),"
  echo " \"date_utc\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\","
  echo " \"host\": \"$(hostname)\","
  echo " \"commit\": \"$(commit_id)\","
  echo " \"driver\": \"$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -1)\","
  echo " \"decoder_params\": {\"layers\": $layers, \"d_model\": $d_model, \"heads\": $heads, \"ffn\": $ffn, \"vocab\": $vocab, \"max_seq\": $max_seq, \"dtype\": \"f16\"},"
  echo " \"decoder_workload\": {\"prompt\": $prompt, \"tokens\": $tokens, \"warmup\": $warmup, \"iterations\": $iterations},"
  echo " \"command\": \"scripts/device-bench.sh $*\"}"
} >"$out/run_info.json"

log "devices:"
"$runner" --list-devices 2>&1 | tee "$out/devices.txt" >&2

# --- correctness --------------------------------------------------------------
status_correct=true
test_binary=""
for candidate in "$build/tests/vulkan/test_vulkan" "$build/tests/test_vulkan"; do
  [[ -x "$candidate" ]] && test_binary="$candidate" && break
done
if [[ -n "$test_binary" ]]; then
  log "correctness: $test_binary --gtest_filter='$vulkan_filter'"
  # The tests that start rtscope-run find it in this tree, wherever it was
  # built.
  export RTSCOPE_RUN_BINARY="$runner"
  # A pattern that matches no test (a parameterized suite is named
  # Prefix/Suite, so 'Suite*' misses it) would pass silently: each of the
  # filter's positive patterns must name at least one test.
  IFS=':' read -r -a patterns <<<"${vulkan_filter%%-*}"
  for pattern in "${patterns[@]}"; do
    [[ -n "$pattern" ]] || continue
    matched=$("$test_binary" --gtest_list_tests --gtest_filter="$pattern" | grep -c '^  ' || true)
    if [[ "$matched" == 0 ]]; then
      log "correctness: filter pattern '$pattern' matches no test in $test_binary"
      status_correct=false
    fi
  done
  # The tests find the conformance data through the source tree they were
  # built from; run them from the repo root.
  if (cd "$repo" && "$test_binary" --gtest_brief=1 --gtest_filter="$vulkan_filter" \
    --gtest_output="json:$out/test_vulkan.json") >"$out/test_vulkan.log" 2>&1; then
    log "correctness: test_vulkan: $(grep -E '^\[  (PASSED|SKIPPED) ' "$out/test_vulkan.log" | tr -s ' ' | paste -sd ';' -)"
  else
    log "correctness: test_vulkan FAILED; see $out/test_vulkan.log"
    tail -20 "$out/test_vulkan.log" >&2
    status_correct=false
  fi
else
  log "correctness: no test_vulkan in $build (not built or not bundled); relying on the benchmark checks"
fi

# B9's program checks a sampled product against float64 before it times.
b9_ok=false
if [[ -x "$matmul_bench" ]]; then
  log "B9: $matmul_bench ${matmul_args[*]}"
  if "$matmul_bench" "${matmul_args[@]}" >"$out/matmul_vulkan.json" 2>"$out/matmul_vulkan.log"; then
    b9_ok=true
  else
    log "B9: bench_vulkan_matmul failed (status $?); see $out/matmul_vulkan.log"
    tail -5 "$out/matmul_vulkan.log" >&2
    grep -q '"passed": false' "$out/matmul_vulkan.json" 2>/dev/null && status_correct=false
  fi
else
  log "B9: $matmul_bench not built; B9 is skipped"
fi

if [[ "$status_correct" != true ]]; then
  log "correctness failed: no timings taken"
  exit 1
fi

# --- decoder runs: B5, B6, B10, B13, B14 ------------------------------------
cache="$out/runtime-cache.bin"
rm -f "$cache" "$cache.lock"

# run_config CONFIG NAME [ARGS ...]: one fresh process of rtscope-run CONFIG
# ARGS; its report in decoder_NAME.json, its wall time in NAME.wall_ms
run_config() {
  local config="$1" name="$2"
  shift 2
  log "decoder: $name"
  local begin end
  begin=$(now_ns)
  (cd "$repo" && "$runner" "$config" "$@" --json "$out/decoder_$name.json") >"$out/decoder_$name.log" 2>&1
  local rc=$?
  end=$(now_ns)
  echo $(((end - begin) / 1000000)) >"$out/decoder_$name.wall_ms"
  if [[ $rc -ne 0 ]]; then
    log "decoder: $name failed (status $rc); see $out/decoder_$name.log"
    tail -5 "$out/decoder_$name.log" >&2
    return 1
  fi
}
# run_decoder NAME [--set ...]: the built-in decoder, with the shared cache
run_decoder() {
  local name="$1"
  shift
  run_config configs/gpu-decoder.yaml "$name" "${decoder_sets[@]}" --set "runtime.cache=$cache" "$@"
}

decoder_ok=true
run_decoder cold || decoder_ok=false
if $decoder_ok; then
  run_decoder warm || decoder_ok=false
  run_decoder captured --set runtime.graph_capture=whole_graph || decoder_ok=false
  # B11: the same decode steps with short and long KV caches (updated in
  # place on the device); the step time should not grow with max_seq.
  run_decoder b11_short --set "models.decoder.params.max_seq=$b11_short" || decoder_ok=false
  run_decoder b11_long --set "models.decoder.params.max_seq=$b11_long" || decoder_ok=false
  # B16: B streams per captured step, each with its own prompt, position
  # and KV rows; every weight is read once per step for all of them. The
  # pipelines specialized to B are built before the first step (eager), so
  # no timed step runs the generic ones while they compile.
  # Rounds alternate the batches, and the report takes each batch's median
  # (a single round's ratio moved by 5% with one slow one-stream run).
  run_b16() {  # SUBDIR: the runs and their report in OUT_DIR/SUBDIR
    (
      out="$out/$1"
      mkdir -p "$out"
      rm -f "$out"/decoder_batch_*  # an earlier call's runs would join the report
      for round in $(seq "$b16_rounds"); do
        for batch in 1 4 8 16; do
          run_decoder "batch_${batch}_r$round" --set runtime.graph_capture=whole_graph \
            --set runtime.kernel_specialization=eager \
            --set "models.decoder.params.batch=$batch" --set "run.0.workload.batch=$batch" ||
            exit 1
        done
      done
      if command -v python3 >/dev/null; then
        python3 "$repo/tests/bench/batch_scaling_report.py" "$out" ||
          log "B16: batch_scaling_report.py failed; the runs' JSON is in $out/decoder_batch_*_r*.json"
      fi
    )
  }
  run_b16 . || decoder_ok=false
  # B16 A/B of the skinny products: the same runs with every projection on
  # matvec_t (RTSCOPE_VULKAN_SKINNY=matvec; the runs above take the
  # tensor-core skinny_coop from 9 rows on where the device has it), and
  # with each build of skinny_coop.comp named in
  # RTSCOPE_BENCH_SKINNY_COOP_BUILDS (RTSCOPE_VULKAN_SKINNY_COOP), each in
  # OUT_DIR/skinny_<...>/ with its own report.
  if [[ "${RTSCOPE_BENCH_SKINNY_AB:-0}" == 1 ]]; then
    (export RTSCOPE_VULKAN_SKINNY=matvec && run_b16 skinny_matvec) || decoder_ok=false
  fi
  for coop_build in ${RTSCOPE_BENCH_SKINNY_COOP_BUILDS:-}; do
    (export RTSCOPE_VULKAN_SKINNY_COOP="$coop_build" && run_b16 "skinny_coop_$coop_build") ||
      decoder_ok=false
  done
  for split in ${RTSCOPE_BENCH_MATVEC_SPLITS:-}; do
    (
      export RTSCOPE_VULKAN_SKINNY=matvec RTSCOPE_VULKAN_MATVEC_SPLIT="${split%%x*}"
      [[ "$split" == *x* ]] && export RTSCOPE_VULKAN_MATVEC_BLOCK_ROWS="${split#*x}"
      run_b16 "matvec_split_$split"
    ) || decoder_ok=false
  done
  for variant in ${RTSCOPE_BENCH_B16_ENV:-}; do
    (
      run_variant_parse device-bench "$variant" && run_variant_complete_plugin_path
      for assignment in "${variant_assignments[@]}"; do export "${assignment?}"; done
      log "B16 variant '$variant_name' (${variant_assignments[*]}):"
      run_b16 "b16_$variant_name"
    ) || decoder_ok=false
  done
fi

# --- B15 on the GPU: the same decoder imported from ONNX -----------------------
# rtscope-onnx-export writes the decoder of the runs above (same sizes and
# seed, a fixed max_seq-row KV cache that the importer holds as in-place
# state), and configs/gpu-decoder-onnx.yaml runs it. The first imported run
# fills a runtime cache of its own (onnx_cold); then, for each of
# RTSCOPE_BENCH_IMPORTED_ROUNDS rounds (2), eager and captured, the
# imported decoder and the built-in one alternate with warm caches. The
# report compares the medians of each side's p50s (target: imported <=
# 1.05x built-in). RTSCOPE_BENCH_IMPORTED=0 skips it.
export_tool="$build/host/onnx/rtscope-onnx-export"
if $decoder_ok && [[ "${RTSCOPE_BENCH_IMPORTED:-1}" != 0 ]]; then
  if [[ ! -x "$export_tool" ]]; then
    log "B15: $export_tool is missing; the imported-decoder rows are skipped"
  else
    onnx_model="$out/gpu-decoder.onnx"
    onnx_cache="$out/runtime-cache-onnx.bin"
    rm -f "$onnx_cache" "$onnx_cache.lock"
    export_params=()
    for key in layers d_model heads ffn vocab max_seq; do
      export_params+=(--param "$key=${!key}")
    done
    log "B15: rtscope-onnx-export --builtin decoder --kv-cache fixed ${export_params[*]} --param dtype=f16 --param seed=7"
    if "$export_tool" --builtin decoder --kv-cache fixed "${export_params[@]}" \
      --param dtype=f16 --param seed=7 "$onnx_model" >"$out/onnx_export.log" 2>&1; then
      run_imported() {  # NAME [--set ...]
        local name="$1"
        shift
        run_config configs/gpu-decoder-onnx.yaml "$name" \
          --set "models.decoder.onnx=$onnx_model" --set "models.prefill.onnx=$onnx_model" \
          --set "run.0.workload.prompt=$prompt" --set "run.0.workload.tokens=$tokens" \
          --set "run.0.warmup=$warmup" --set "run.0.iterations=$iterations" \
          --set "runtime.cache=$onnx_cache" "$@"
      }
      run_imported onnx_cold || decoder_ok=false
      for round in $(seq 1 "${RTSCOPE_BENCH_IMPORTED_ROUNDS:-2}"); do
        $decoder_ok || break
        for capture in disabled whole_graph; do
          run_imported "onnx_${capture}_r$round" --set "runtime.graph_capture=$capture" ||
            decoder_ok=false
          run_decoder "builtin_${capture}_r$round" --set "runtime.graph_capture=$capture" ||
            decoder_ok=false
        done
      done
    else
      log "B15: the export failed; see $out/onnx_export.log"
      tail -5 "$out/onnx_export.log" >&2
      decoder_ok=false
    fi
    rm -f "$onnx_model" "$onnx_model".*
  fi
fi

# --- B14 from a Hugging Face checkpoint ------------------------------------------
# The same decoder sizes with 4 KV heads, loaded from safetensors instead of
# seeded weights; the checkpoint was just written, so it is in the page cache.
checkpoint_ok=skipped
if [[ "${RTSCOPE_BENCH_CHECKPOINT:-1}" == 0 ]]; then
  log "checkpoint: RTSCOPE_BENCH_CHECKPOINT=0; the checkpoint rows are skipped"
elif [[ "${RTSCOPE_BENCH_TORCH:-1}" != 0 ]] && python3 -c 'import torch, transformers' 2>/dev/null; then
  checkpoint_args=()
  [[ "$quick" == 1 ]] && checkpoint_args=(--quick)
  log "checkpoint: scripts/llama-transformers-check.py $build ${checkpoint_args[*]} --out $out/llama"
  if python3 "$repo/scripts/llama-transformers-check.py" "$build" "${checkpoint_args[@]}" \
    --out "$out/llama" >"$out/llama_check.json" 2>"$out/llama_check.log"; then
    checkpoint_ok=true
    checkpoint_cache="$out/runtime-cache-checkpoint.bin"
    rm -f "$checkpoint_cache" "$checkpoint_cache.lock"
    for name in ckpt_cold ckpt_warm; do
      log "decoder: $name"
      begin=$(now_ns)
      (cd "$repo" && "$runner" configs/gpu-decoder.yaml \
        --set "models.decoder.weights=$out/llama/checkpoint" \
        --set "models.decoder.params={dtype: f16, max_seq: $max_seq}" \
        --set "run.0.workload.prompt=$prompt" --set "run.0.workload.tokens=$tokens" \
        --set "run.0.warmup=$warmup" --set "run.0.iterations=$iterations" \
        --set "runtime.cache=$checkpoint_cache" --json "$out/decoder_$name.json") \
        >"$out/decoder_$name.log" 2>&1 || {
        log "decoder: $name failed; see $out/decoder_$name.log"
        tail -5 "$out/decoder_$name.log" >&2
        decoder_ok=false
      }
      echo $((($(now_ns) - begin) / 1000000)) >"$out/decoder_$name.wall_ms"
    done
    # B14 phases from the checkpoint, rtscope and torch.compile (inductor
    # cache on) cold and warm, in fresh processes; its table is printed.
    b14_args=(--checkpoint "$out/llama/checkpoint" --out "$out/b14_checkpoint")
    [[ "$quick" == 1 ]] && b14_args+=(--runs 1 --max-seq "$max_seq")
    log "checkpoint: scripts/b14-checkpoint-start.py ${b14_args[*]}"
    python3 "$repo/scripts/b14-checkpoint-start.py" "$build" "${b14_args[@]}" \
      2>"$out/b14_checkpoint.log" | tee "$out/b14_checkpoint.txt" ||
      log "checkpoint: b14-checkpoint-start.py failed; see $out/b14_checkpoint.log"
  else
    checkpoint_ok=false
    log "checkpoint: the transformers comparison FAILED; see $out/llama_check.json and .log"
    tail -20 "$out/llama_check.log" >&2
  fi
else
  log "checkpoint: python3 lacks torch or transformers; the checkpoint rows are skipped"
fi

# --- PyTorch comparison --------------------------------------------------------
if [[ "${RTSCOPE_BENCH_TORCH:-1}" == 0 ]]; then
  echo '{"available": false, "reason": "RTSCOPE_BENCH_TORCH=0"}' >"$out/torch.json"
elif ! command -v python3 >/dev/null; then
  echo '{"available": false, "reason": "no python3"}' >"$out/torch.json"
else
  log "torch: tests/bench/torch_decoder.py ${torch_args[*]}"
  if ! PYTHONUNBUFFERED=1 python3 "$repo/tests/bench/torch_decoder.py" "${torch_args[@]}" \
    >"$out/torch.json" 2>"$out/torch.log"; then
    log "torch: the comparison failed (see $out/torch.log); its column shows n/a"
    tail -5 "$out/torch.log" >&2
    echo '{"available": false, "reason": "torch_decoder.py failed; see torch.log"}' >"$out/torch.json"
  fi
fi

# --- table --------------------------------------------------------------------
if ! command -v python3 >/dev/null; then
  log "no python3: raw JSON files are in $out, no table"
  exit 0
fi
python3 "$repo/tests/bench/device_bench_report.py" "$out" || {
  log "the report failed; raw JSON files are in $out"
  exit 1
}
$decoder_ok || exit 1
[[ "$checkpoint_ok" != false ]] || exit 1
exit 0
