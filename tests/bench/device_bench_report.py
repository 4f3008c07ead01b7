#!/usr/bin/env python3
"""Turns the raw files of scripts/device-bench.sh into one JSON per GPU
benchmark (B5, B6, B9, B10, B11, B13, B14, B15 .json), a
combined results.json, and a table on stdout:

  id, what, ours, reference (PyTorch on the same GPU), ratio, target, met

Usage: device_bench_report.py OUT_DIR. Standard library only (the GPU
machine's python3 may lack everything else). A missing input gives "n/a"
cells, never an error: a missing PyTorch leaves the reference column empty.
"""
import json
import os
import statistics
import sys


def load(folder, name):
    try:
        with open(os.path.join(folder, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_number(folder, name):
    try:
        with open(os.path.join(folder, name)) as f:
            return float(f.read().strip())
    except (OSError, ValueError):
        return None


def dig(data, *keys):
    """data[k0][k1]...; None when any level is missing."""
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            return None
        data = data[key]
    return data


def first_model(run):
    models = dig(run, "models")
    if not models:
        return None
    return next(iter(models.values()))


def number(value, unit):
    """Three significant digits, so quick runs' tiny values stay readable."""
    return f"{value:.3g} {unit}"


def fmt_ms(value):
    return f"{value:.3f}" if value is not None else "n/a"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


# The targets of BENCHMARKS.md's table that this report judges by a
# bound of its own choosing (the others are spelled at their rows).
B10_MIN_COPY_SHARE = 0.7      # decode step bytes/s over the device copy bandwidth
B13_MAX_VS_TORCH = 0.6        # decode step over the fastest PyTorch variant
B14_MAX_WARM_OVER_COLD = 0.1  # start to first token, warm over cold


def row(bench_id, what, ours, reference, ratio_value, target, op, bound, unit="", note=""):
    """op: "<=", "<" or ">=": how ratio_value must compare with bound."""
    if ratio_value is None:
        met = None
    elif op == "<=":
        met = ratio_value <= bound
    elif op == "<":
        met = ratio_value < bound
    else:
        met = ratio_value >= bound
    return {
        "id": bench_id, "what": what, "ours": ours, "reference": reference, "ratio": ratio_value,
        "target": target, "met": met, "unit": unit, "note": note,
    }


def device_time_per_iteration(model):
    """(device ms, dispatches) per measured iteration of the first
    partition that reports GPU timestamps; (None, None) without."""
    iterations = dig(model, "iterations")
    for partition in dig(model, "partitions") or []:
        measured = partition.get("measured_counters") or {}
        if measured.get("gpu_timed_executes") and iterations:
            return (measured["gpu_time_ns"] / 1e6 / iterations,
                    measured.get("dispatches", 0) / iterations)
    return None, None


def upload_wait_ms(model):
    """How long the first inference waited for the weights still being
    written on the Vulkan plugin's upload thread (0 where none ran)."""
    return dig(model, "plugin_phases_ms", "vulkan.upload_wait") or 0.0


def first_inference_ms(model):
    """B6: the first inference less the wait for the overlapped weight
    upload, which the runtime cache has no part in: since the upload
    overlaps the context's start-up, the weights' writing (seeded weights
    generated on the host) lands in the first inference instead of in the
    model build."""
    first = dig(model, "phases_ms", "first_inference")
    return None if first is None else first - upload_wait_ms(model)


def decoder_bytes_per_step(params, position):
    """Bytes a decode step at `position` must read: every weight except the
    embedding table (one row of it), plus the K and V cache rows 0..position."""
    d, ffn, layers = params["d_model"], params["ffn"], params["layers"]
    vocab, size = params["vocab"], 2 if params.get("dtype", "f16") == "f16" else 4
    weights = layers * (4 * d * d + 3 * d * ffn + 2 * d) + d * vocab + d + d
    kv = 2 * layers * (position + 1) * d
    return (weights + kv) * size, weights * size, kv * size


def build_rows(folder):
    info = load(folder, "run_info.json") or {}
    matmul = load(folder, "matmul_vulkan.json")
    cold = first_model(load(folder, "decoder_cold.json"))
    warm = first_model(load(folder, "decoder_warm.json"))
    captured = first_model(load(folder, "decoder_captured.json"))
    torch = load(folder, "torch.json") or {}
    if not torch.get("available"):
        torch = {}
    results = {}

    # B5: replay vs eager per decode step. The plugin times every submit
    # on the device (measured_counters.gpu_time_ns); with one synchronous
    # submit per step, the host's share is the wall time less that. Both
    # are means over the same measured iterations (a median less a mean
    # can go negative when latency is bimodal).
    eager_ms = dig(warm, "latency_ms", "p50")
    replay_ms = dig(captured, "latency_ms", "p50")
    eager_mean_ms = dig(warm, "latency_ms", "mean")
    replay_mean_ms = dig(captured, "latency_ms", "mean")
    eager_gpu_ms, eager_dispatches = device_time_per_iteration(warm)
    replay_gpu_ms, replay_dispatches = device_time_per_iteration(captured)
    eager_host = (eager_mean_ms - eager_gpu_ms
                  if eager_mean_ms and eager_gpu_ms is not None else None)
    replay_host = (replay_mean_ms - replay_gpu_ms
                   if replay_mean_ms and replay_gpu_ms is not None else None)
    torch_eager = dig(torch, "decoder", "eager_ms", "median")
    torch_graph = dig(torch, "decoder", "cuda_graph_ms", "median")
    kernels = dig(torch, "decoder", "cuda_graph_kernels")
    per_dispatch_us = (1e3 * replay_gpu_ms / replay_dispatches
                       if replay_gpu_ms is not None and replay_dispatches else None)
    per_kernel_us = 1e3 * torch_graph / kernels if torch_graph and kernels else None
    results["B5"] = [
        row("B5", "decode step host time, graph replay / eager",
            f"{replay_host:.3f} / {eager_host:.3f} ms" if replay_host is not None and eager_host
            else None, None, ratio(replay_host, eager_host), "<= 0.333", "<=", 1 / 3,
            note=f"host = mean wall less mean device time per step; wall replay / eager "
                 f"{fmt_ms(replay_mean_ms)} / {fmt_ms(eager_mean_ms)} ms, device "
                 f"{fmt_ms(replay_gpu_ms)} / {fmt_ms(eager_gpu_ms)} ms"),
        row("B5", "GPU time per dispatch (replay) vs CUDA graph per kernel",
            f"{per_dispatch_us:.2f} us/dispatch ({replay_dispatches:.0f} dispatches)"
            if per_dispatch_us else None,
            f"{per_kernel_us:.2f} us/kernel ({kernels} kernels)" if per_kernel_us else None,
            ratio(per_dispatch_us, per_kernel_us), "<= 1.5", "<=", 1.5,
            note="torch's per-kernel time is its CUDA graph's wall time per step / kernels"),
        # The alternative to the per-dispatch bound: fewer, larger
        # dispatches, compared per step (device time against the CUDA
        # graph's wall time for the same step).
        row("B5", "GPU time per step (replay, fewer larger dispatches) vs CUDA graph per step",
            f"{fmt_ms(replay_gpu_ms)} ms ({replay_dispatches:.0f} dispatches)"
            if replay_gpu_ms is not None and replay_dispatches else None,
            f"{fmt_ms(torch_graph)} ms ({kernels} kernels)" if torch_graph and kernels else None,
            ratio(replay_gpu_ms, torch_graph)
            if replay_dispatches and kernels and replay_dispatches < kernels else None,
            "<= 1 with fewer dispatches", "<=", 1.0,
            note="met only where the step has fewer dispatches than the graph has kernels"),
    ]

    # B6 / B14: first inference and process start to first token.
    def first_token_ms(model):
        phases = dig(model, "phases_ms")
        if not phases:
            return None
        return (phases.get("plugin_load", 0) + phases.get("model_build", 0) +
                phases.get("first_inference", 0) + (dig(model, "cache", "load_ms") or 0))

    cold_first, warm_first = first_inference_ms(cold), first_inference_ms(warm)
    results["B6"] = [
        row("B6", "first inference, warm / cold cache", f"{warm_first:.1f} / {cold_first:.1f} ms"
            if warm_first is not None and cold_first else None, None,
            ratio(warm_first, cold_first), "<= 0.05", "<=", 0.05,
            note=f"cache hits warm: {dig(warm, 'cache', 'hits')}, misses cold: "
                 f"{dig(cold, 'cache', 'misses')}; less the wait for the weights written beside "
                 f"it (vulkan.upload_wait: {upload_wait_ms(warm):.0f} ms warm, "
                 f"{upload_wait_ms(cold):.0f} ms cold)"),
    ]
    cold_ttft, warm_ttft = first_token_ms(cold), first_token_ms(warm)
    compile_first = dig(torch, "decoder", "compile_first_call_ms")
    results["B14"] = [
        row("B14", "start to first token, cold vs torch.compile first call",
            f"{cold_ttft:.0f} ms" if cold_ttft else None,
            f"{compile_first:.0f} ms" if compile_first else None,
            ratio(cold_ttft, compile_first), "< 1.0", "<", 1.0,
            note="ours: plugin load + model build + first inference + cache load; model build "
                 f"(weights generated and uploaded) {dig(cold, 'phases_ms', 'model_build') or 0:.0f} "
                 f"ms cold, {dig(warm, 'phases_ms', 'model_build') or 0:.0f} ms warm"),
        row("B14", "start to first token, warm / cold",
            f"{warm_ttft:.0f} / {cold_ttft:.0f} ms" if warm_ttft and cold_ttft else None, None,
            ratio(warm_ttft, cold_ttft), f"<= {B14_MAX_WARM_OVER_COLD:g}", "<=",
            B14_MAX_WARM_OVER_COLD),
    ]
    # The same from a Hugging Face checkpoint (GQA, f16 safetensors in the
    # page cache): no weights are generated, they are mapped and uploaded.
    ckpt_cold = first_model(load(folder, "decoder_ckpt_cold.json"))
    ckpt_warm = first_model(load(folder, "decoder_ckpt_warm.json"))
    ckpt_cold_ttft, ckpt_warm_ttft = first_token_ms(ckpt_cold), first_token_ms(ckpt_warm)
    check = load(folder, "llama_check.json") or {}
    results["B14"] += [
        row("B14", "checkpoint: start to first token, warm / cold",
            f"{ckpt_warm_ttft:.0f} / {ckpt_cold_ttft:.0f} ms"
            if ckpt_warm_ttft and ckpt_cold_ttft else None, None,
            ratio(ckpt_warm_ttft, ckpt_cold_ttft), f"<= {B14_MAX_WARM_OVER_COLD:g}", "<=",
            B14_MAX_WARM_OVER_COLD,
            note=f"model build (map + upload) {dig(ckpt_warm, 'phases_ms', 'model_build') or 0:.0f}"
                 f" ms warm; transformers check: max abs logit error "
                 f"{check.get('max_abs_logit_error', 'n/a')}, passed {check.get('passed', 'n/a')}"),
        row("B14", "checkpoint: start to first token, warm",
            f"{ckpt_warm_ttft:.0f} ms" if ckpt_warm_ttft else None,
            f"{compile_first:.0f} ms" if compile_first else None,
            ckpt_warm_ttft, "<= 300 ms", "<=", 300.0, unit="ms",
            note="reference column: torch.compile's first call (cold)"),
    ]

    # B9: matmul TFLOP/s.
    results["B9"] = []
    for dtype in ("f16", "f32"):
        ours = dig(matmul, dtype, "tflops")
        reference = dig(torch, "matmul", dtype, "tflops", "median")
        size = dig(matmul, "size")
        results["B9"].append(row(
            "B9", f"matmul {size}^3 {dtype}" + (" (no TF32)" if dtype == "f32" else ""),
            number(ours, "TFLOP/s") if ours is not None else None,
            number(reference, "TFLOP/s") if reference else None,
            ratio(ours, reference), ">= 0.5", ">=", 0.5,
            note="" if dig(torch, "matmul", "size") in (None, size) else
            f"torch size {dig(torch, 'matmul', 'size')}"))

    # B10 / B13: decode step.
    params = info.get("decoder_params")
    best_ms = min((m for m in (eager_ms, replay_ms) if m), default=None)
    achieved = None
    bytes_note = ""
    if params and best_ms:
        run_params = info.get("decoder_workload", {})
        position = run_params.get("prompt", 16) + (run_params.get("tokens", 128) - 1) / 2
        total, weights, kv = decoder_bytes_per_step(params, int(position))
        achieved = total / (best_ms * 1e-3)
        bytes_note = f"{weights / 1e6:.0f} MB weights + {kv / 1e6:.1f} MB KV per step"
        best_gpu_ms = min((m for m in (eager_gpu_ms, replay_gpu_ms) if m), default=None)
        if best_gpu_ms:
            bytes_note += (f"; over device time ({best_gpu_ms:.3f} ms) "
                           f"{total / (best_gpu_ms * 1e-3) / 1e9:.0f} GB/s")
    copy_bw = dig(torch, "copy", "bytes_per_s", "median")
    results["B10"] = [
        row("B10", "decode step bytes/s vs device copy bandwidth",
            number(achieved / 1e9, "GB/s") if achieved else None,
            number(copy_bw / 1e9, "GB/s") if copy_bw else None,
            ratio(achieved, copy_bw), f">= {B10_MIN_COPY_SHARE:g}", ">=", B10_MIN_COPY_SHARE,
            note=bytes_note),
    ]
    torch_variants = {
        "eager": torch_eager, "cuda_graph": torch_graph,
        "compile": dig(torch, "decoder", "compile_ms", "median"),
    }
    fastest = min(((v, k) for k, v in torch_variants.items() if v), default=(None, None))
    results["B13"] = [
        row("B13", "decode step latency vs fastest PyTorch",
            f"{best_ms:.3f} ms" if best_ms else None,
            f"{fastest[0]:.3f} ms ({fastest[1]})" if fastest[0] else None,
            ratio(best_ms, fastest[0]), f"<= {B13_MAX_VS_TORCH:g}", "<=", B13_MAX_VS_TORCH,
            note=f"ours eager p50 {fmt_ms(dig(cold, 'latency_ms', 'p50'))} (cold run) / "
                 f"{fmt_ms(eager_ms)} (warm run), replay {fmt_ms(replay_ms)} "
                 f"[{fmt_ms(dig(captured, 'latency_ms', 'min'))}, "
                 f"{fmt_ms(dig(captured, 'latency_ms', 'max'))}]; "
                 "torch eager/graph/compile: " + " / ".join(
                f"{v:.3f}" if v else "n/a" for v in torch_variants.values()) + " ms"),
    ]
    # B11: decode step with long vs short KV caches (in place, on the device).
    short = first_model(load(folder, "decoder_b11_short.json"))
    long_ = first_model(load(folder, "decoder_b11_long.json"))
    short_ms = dig(short, "latency_ms", "p50")
    long_ms = dig(long_, "latency_ms", "p50")
    results["B11"] = [
        row("B11", "decode step, KV cache max_seq long / short",
            f"{fmt_ms(long_ms)} / {fmt_ms(short_ms)} ms" if long_ms and short_ms else None, None,
            ratio(long_ms, short_ms), "<= 1.2", "<=", 1.2,
            note="max_seq from the runs' settings; caches updated in place in device memory"),
    ]
    # B15's GPU row: the decoder imported from ONNX against the built-in one,
    # same settings, runs alternating (decoder_onnx_<capture>_r<n>.json and
    # decoder_builtin_<capture>_r<n>.json); medians of each side's p50s.
    b15 = []
    for capture, label in (("disabled", "eager"), ("whole_graph", "captured")):
        sides = {}
        for side in ("onnx", "builtin"):
            p50s, round_ = [], 1
            while True:
                run = load(folder, f"decoder_{side}_{capture}_r{round_}.json")
                if run is None:
                    break
                value = dig(first_model(run), "latency_ms", "p50")
                if value:
                    p50s.append(value)
                round_ += 1
            sides[side] = p50s
        if not sides["onnx"] or not sides["builtin"]:
            continue
        imported, builtin = statistics.median(sides["onnx"]), statistics.median(sides["builtin"])
        b15.append(row(
            "B15", f"decode step, imported ONNX / built-in decoder ({label})",
            f"{imported:.3f} ms", f"{builtin:.3f} ms (built-in)", ratio(imported, builtin),
            "<= 1.05", "<=", 1.05,
            note=f"{label} p50 per round, imported " + ", ".join(f"{v:.3f}" for v in sides["onnx"])
                 + "; built-in " + ", ".join(f"{v:.3f}" for v in sides["builtin"])
                 + f" ms; first imported run (cold cache) "
                 f"{fmt_ms(dig(first_model(load(folder, 'decoder_onnx_cold.json')), 'latency_ms', 'p50'))} ms"))
    if b15:
        results["B15"] = b15
    return info, results, {"torch": torch or None, "matmul": matmul,
                           "decoder": {"cold": cold, "warm": warm, "captured": captured}}


def vulkan_device(folder):
    """The vulkan plugin's device 0 from `rtscope-run --list-devices`'s table
    (plugin, device, kind, name..., memory, fingerprint), or None."""
    try:
        with open(os.path.join(folder, "devices.txt")) as f:
            for line in f:
                fields = line.split()
                if len(fields) > 5 and fields[0] == "vulkan" and fields[1] == "0":
                    return " ".join(fields[3:-3])
    except OSError:
        pass
    return None


def cell(value):
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "met" if value else "MISSED"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def main():
    if len(sys.argv) != 2:
        print("usage: device_bench_report.py OUT_DIR", file=sys.stderr)
        return 2
    folder = sys.argv[1]
    info, results, raw = build_rows(folder)
    for bench_id, rows in results.items():
        with open(os.path.join(folder, f"{bench_id}.json"), "w") as f:
            json.dump({"id": bench_id, "run": info, "rows": rows}, f, indent=1)
    device = vulkan_device(folder)
    combined = {"run": info, "device": device, "torch_device": dig(raw, "torch", "device"),
                "results": results, "raw": raw}
    with open(os.path.join(folder, "results.json"), "w") as f:
        json.dump(combined, f, indent=1)

    rows = [r for rs in results.values() for r in rs]
    rows.sort(key=lambda r: int(r["id"][1:]))
    header = ["id", "what", "ours", "reference (torch)", "ratio", "target", "met"]
    table = [header] + [[r["id"], r["what"], cell(r["ours"]), cell(r["reference"]),
                         cell(r["ratio"]), r["target"], cell(r["met"])] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    print(f"\nGPU benchmarks ({'quick sizes' if info.get('quick') else 'reference sizes'}) on "
          f"{device or '?'}, "
          f"{info.get('date_utc', '?')}, commit {info.get('commit', '?')}, driver "
          f"{info.get('driver') or '?'}; torch: {dig(raw, 'torch', 'torch') or 'n/a'} on "
          f"{dig(raw, 'torch', 'device') or 'n/a'}")
    for i, line in enumerate(table):
        print("  ".join(text.ljust(width) for text, width in zip(line, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * width for width in widths))
    notes = [f"{r['id']}: {r['note']}" for r in rows if r["note"]]
    if notes:
        print("notes:\n  " + "\n  ".join(notes))
    print(f"JSON: {os.path.join(folder, 'results.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
