#!/usr/bin/env python3
"""B14 from a Hugging Face checkpoint: process start to first token, cold and
warm, for rtscope and for torch.compile, on the same checkpoint in one run
(dev-side tool for the GPU machine: needs torch and transformers in python3;
nothing of rtscope's product runs Python).

  python3 scripts/b14-checkpoint-start.py BUILD_DIR [--out DIR] [--checkpoint DIR]
      [--quick] [--runs N] [--backends vulkan,cpu] [--torch-mode default]

BUILD_DIR is a build dir or a bundle from scripts/gpu-bundle.sh (no
compiler, Debian packages or network needed). Steps:
1. Saves a seeded random LlamaForCausalLM at the GPU reference size with
   grouped-query attention (8 layers, hidden 2048, 16 heads, 4 KV heads,
   intermediate 8192, vocab 32000; --quick: a tiny one) as float16
   safetensors into OUT/checkpoint (or uses --checkpoint), then reads the
   files once so that they are in the page cache for every start.
2. rtscope: `rtscope-run configs/gpu-decoder.yaml` with
   models.decoder.weights=CHECKPOINT, a 16-token prompt, in fresh processes:
   cold with an empty runtime cache file, then warm (--runs times) with the
   file the cold run saved. The driver's shader disk cache is off
   (__GL_SHADER_DISK_CACHE=0, MESA_SHADER_CACHE_DISABLE=true), so only
   rtscope's cache makes a start warm. Phases come from the runner's report
   (plugin load, checkpoint mapping, upload, pipelines, first token).
3. torch.compile: a fresh python3 per start imports torch and transformers,
   loads the checkpoint with from_pretrained (float16, on CUDA), compiles the
   model with torch.compile and runs the same prompt once (the first token):
   cold with an empty inductor cache dir (TORCHINDUCTOR_CACHE_DIR, FX graph
   and AOT autograd caches on, TRITON_CACHE_DIR inside it), then warm
   (--runs times) with the same dir.
4. Prints a table (medians of the warm runs) and writes OUT/b14_checkpoint.json.

Start to first token is measured inside each process from its first
statement (rtscope-run's main(); the Python child's first line, before its
imports) to the end of the first token; each process's whole wall time is
recorded too.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from seeded_llama import seeded_llama

CHILD = r'''
import time
_t0 = time.perf_counter()
import json, os, sys
import torch
from transformers import LlamaForCausalLM
_t_import = time.perf_counter()
checkpoint, mode, prompt = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
try:
    model = LlamaForCausalLM.from_pretrained(checkpoint, dtype=torch.float16)
except TypeError:
    model = LlamaForCausalLM.from_pretrained(checkpoint, torch_dtype=torch.float16)
# Older transformers may ignore the dtype argument: make sure of float16.
model = model.to("cuda", dtype=torch.float16).eval()
torch.cuda.synchronize()
_t_load = time.perf_counter()
compiled = torch.compile(model) if mode == "default" else torch.compile(model, mode=mode)
with torch.no_grad():
    tokens = torch.tensor([prompt], device="cuda")
    logits = compiled(input_ids=tokens, use_cache=False).logits
    first = int(logits[0, -1].argmax().item())
_t_first = time.perf_counter()
print(json.dumps({"import_ms": (_t_import - _t0) * 1e3, "load_ms": (_t_load - _t_import) * 1e3,
                  "compile_and_first_call_ms": (_t_first - _t_load) * 1e3,
                  "start_to_first_token_ms": (_t_first - _t0) * 1e3, "first_token": first,
                  "torch": torch.__version__}))
'''


def save_checkpoint(path, quick):
    import torch

    model, sizes = seeded_llama(quick)
    model.to(torch.float16).save_pretrained(path, safe_serialization=True)
    return sizes


def read_into_page_cache(path):
    total = 0
    for name in sorted(os.listdir(path)):
        with open(os.path.join(path, name), "rb") as f:
            while chunk := f.read(64 << 20):
                total += len(chunk)
    return total


def rtscope_start(repo, build, env, checkpoint, cache, json_path, prompt, max_seq, backends):
    command = [os.path.join(build, "host/runner/rtscope-run"), "configs/gpu-decoder.yaml",
               "--set", f"models.decoder.weights={checkpoint}",
               "--set", f"models.decoder.params={{dtype: f16, max_seq: {max_seq}}}",
               "--set", f"models.decoder.backends=[{backends}]",
               "--set", f"run.0.workload.prompt={prompt}", "--set", "run.0.workload.tokens=4",
               "--set", "run.0.warmup=0", "--set", "run.0.iterations=1",
               "--set", f"runtime.cache={cache}", "--json", json_path]
    begin = time.perf_counter()
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True)
    wall = (time.perf_counter() - begin) * 1e3
    if result.returncode != 0:
        sys.exit(f"b14: {' '.join(command)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    with open(json_path) as f:
        report = json.load(f)
    model = next(iter(report["models"].values()))
    phases = model["phases_ms"]
    # The plugins' own start-up phases ("vulkan.instance", "vulkan.upload_fill", ...).
    phases.update(model.get("plugin_phases_ms", {}))
    phases["process_wall"] = wall
    phases["pipeline_cache_hits"] = model["cache"]["hits"]
    return phases, " ".join(command)


def torch_start(checkpoint, cache_dir, prompt_tokens, mode):
    env = dict(os.environ)
    env.update({"TORCHINDUCTOR_CACHE_DIR": cache_dir, "TORCHINDUCTOR_FX_GRAPH_CACHE": "1",
                "TORCHINDUCTOR_AUTOGRAD_CACHE": "1",
                "TRITON_CACHE_DIR": os.path.join(cache_dir, "triton")})
    command = [sys.executable, "-c", CHILD, checkpoint, mode, json.dumps(prompt_tokens)]
    begin = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = (time.perf_counter() - begin) * 1e3
    if result.returncode != 0:
        return None, result.stderr[-3000:]
    phases = json.loads(result.stdout.strip().splitlines()[-1])
    phases["process_wall"] = wall
    return phases, None


def median_phases(runs):
    keys = [k for k, v in runs[0].items() if isinstance(v, (int, float))]
    return {k: statistics.median(r[k] for r in runs) for k in keys}


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build", help="build dir or gpu-bundle dir")
    parser.add_argument("--out", default=None, help="output dir (default: a temp dir)")
    parser.add_argument("--checkpoint", default=None, help="use this checkpoint instead of saving one")
    parser.add_argument("--quick", action="store_true", help="tiny model (checks the script)")
    parser.add_argument("--runs", type=int, default=3, help="warm starts of each (median)")
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--max-seq", type=int, default=1024)
    parser.add_argument("--backends", default="vulkan, cpu")
    parser.add_argument("--torch-mode", default="default",
                        help="torch.compile mode (default, reduce-overhead, max-autotune)")
    parser.add_argument("--no-torch", action="store_true", help="rtscope only")
    args = parser.parse_args()

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    build = os.path.abspath(args.build)
    out = os.path.abspath(args.out or tempfile.mkdtemp(prefix="rtscope-b14-"))
    os.makedirs(out, exist_ok=True)
    sizes = None
    checkpoint = os.path.abspath(args.checkpoint) if args.checkpoint else os.path.join(out, "checkpoint")
    if not args.checkpoint:
        print(f"b14: saving a random LlamaForCausalLM into {checkpoint}", file=sys.stderr)
        sizes = save_checkpoint(checkpoint, args.quick)
    with open(os.path.join(checkpoint, "config.json")) as f:
        vocab = json.load(f)["vocab_size"]
    page_cache_bytes = read_into_page_cache(checkpoint)

    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(
        [f"{build}/host", f"{build}/deps", env.get("LD_LIBRARY_PATH", ""), f"{build}/glvnd"])
    env["RTSCOPE_PLUGIN_PATH"] = f"{build}/plugins/cpu:{build}/plugins/vulkan"
    if os.path.isdir(f"{build}/layers"):
        env["VK_LAYER_PATH"] = f"{build}/layers:" + env.get("VK_LAYER_PATH", "")
    env["__GL_SHADER_DISK_CACHE"] = "0"
    env["MESA_SHADER_CACHE_DISABLE"] = "true"

    cache = os.path.join(out, "runtime-cache-b14.bin")
    for stale in (cache, cache + ".lock"):
        if os.path.exists(stale):
            os.remove(stale)
    print("b14: rtscope cold", file=sys.stderr)
    ours_cold, command = rtscope_start(repo, build, env, checkpoint, cache,
                                       os.path.join(out, "rtscope_cold.json"), args.prompt,
                                       args.max_seq, args.backends)
    ours_warm_runs = []
    for i in range(args.runs):
        print(f"b14: rtscope warm {i + 1}/{args.runs}", file=sys.stderr)
        phases, _ = rtscope_start(repo, build, env, checkpoint, cache,
                                  os.path.join(out, f"rtscope_warm{i}.json"), args.prompt,
                                  args.max_seq, args.backends)
        ours_warm_runs.append(phases)
    ours_warm = median_phases(ours_warm_runs)

    torch_cold = torch_warm = None
    torch_warm_runs = []
    torch_error = None
    if not args.no_torch:
        import random
        rng = random.Random(1)
        prompt_tokens = [rng.randrange(vocab) for _ in range(args.prompt)]
        inductor = os.path.join(out, "inductor-cache")
        shutil.rmtree(inductor, ignore_errors=True)
        os.makedirs(inductor)
        print("b14: torch.compile cold", file=sys.stderr)
        torch_cold, torch_error = torch_start(checkpoint, inductor, prompt_tokens, args.torch_mode)
        if torch_cold is not None:
            for i in range(args.runs):
                print(f"b14: torch.compile warm {i + 1}/{args.runs}", file=sys.stderr)
                phases, torch_error = torch_start(checkpoint, inductor, prompt_tokens,
                                                  args.torch_mode)
                if phases is None:
                    break
                torch_warm_runs.append(phases)
        if torch_warm_runs:
            torch_warm = median_phases(torch_warm_runs)
        if torch_error:
            print(f"b14: torch.compile failed:\n{torch_error}", file=sys.stderr)

    def cell(phases, key):
        return f"{phases[key]:.1f}" if phases and key in phases else "n/a"

    rows = [("plugin load", "plugin_load"), ("checkpoint map", "checkpoint_map"),
            ("checkpoint convert", "checkpoint_convert"),
            ("graph beside plugin load", "graph_beside_plugin_load"),
            ("upload (engine build)", "upload")]
    # The plugins' phases inside the first inference (the context's
    # pipelines, the first plan, its recording, the wait for the weights
    # still being written, the first submit) are listed under it; the
    # others (plugin load, device, allocation, upload) under the upload.
    def in_first_inference(key):
        phase = key.split(".", 1)[1]
        return phase.startswith("first_") or phase in ("pipelines", "upload_wait")
    plugin_keys = sorted(key for key in ours_warm if "." in key)
    rows += [(f"  {key}", key) for key in plugin_keys if not in_first_inference(key)]
    rows += [("pipelines", "pipelines"), ("first inference (prompt)", "first_inference")]
    rows += [(f"  {key}", key) for key in plugin_keys if in_first_inference(key)]
    rows += [("start to first token", "start_to_first_token"), ("process wall", "process_wall")]
    print(f"\nB14 from {checkpoint} ({page_cache_bytes / 1e9:.2f} GB, page cache warm), ms; "
          f"warm = median of {args.runs}")
    print(f"{'rtscope phase':<28}{'cold':>10}{'warm':>10}")
    for label, key in rows:
        print(f"{label:<28}{cell(ours_cold, key):>10}{cell(ours_warm, key):>10}")
    print(f"{'pipeline cache hits':<28}{ours_cold['pipeline_cache_hits']:>10}"
          f"{ours_warm['pipeline_cache_hits']:>10.0f}")
    trows = [("import torch+transformers", "import_ms"), ("from_pretrained to cuda", "load_ms"),
             ("compile + first call", "compile_and_first_call_ms"),
             ("start to first token", "start_to_first_token_ms"), ("process wall", "process_wall")]
    print(f"\n{'torch.compile (' + args.torch_mode + ')':<28}{'cold':>10}{'warm':>10}")
    for label, key in trows:
        print(f"{label:<28}{cell(torch_cold, key):>10}{cell(torch_warm, key):>10}")

    ratios = {
        "rtscope_warm_over_cold": ours_warm["start_to_first_token"] / ours_cold["start_to_first_token"],
        "rtscope_warm_ms": ours_warm["start_to_first_token"],
    }
    if torch_cold:
        ratios["rtscope_cold_over_torch_cold"] = (ours_cold["start_to_first_token"] /
                                                  torch_cold["start_to_first_token_ms"])
    if torch_warm:
        ratios["rtscope_warm_over_torch_warm"] = (ours_warm["start_to_first_token"] /
                                                  torch_warm["start_to_first_token_ms"])
    print("\nB14 targets: warm / cold <= 0.1, warm <= 300 ms")
    for key, value in ratios.items():
        print(f"  {key}: {value:.3f}")
    result = {"checkpoint": checkpoint, "config": sizes, "bytes": page_cache_bytes,
              "rtscope_command": command, "rtscope_cold": ours_cold,
              "rtscope_warm_runs": ours_warm_runs, "rtscope_warm_median": ours_warm,
              "torch_mode": args.torch_mode, "torch_cold": torch_cold,
              "torch_warm_runs": torch_warm_runs, "torch_warm_median": torch_warm,
              "torch_error": torch_error, "ratios": ratios}
    with open(os.path.join(out, "b14_checkpoint.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"\nraw: {out}/b14_checkpoint.json")


if __name__ == "__main__":
    main()
