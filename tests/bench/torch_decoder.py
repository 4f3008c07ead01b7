#!/usr/bin/env python3
"""PyTorch side of the GPU benchmarks (B9, B10, B13, B14 in BENCHMARKS.md).

A comparison program, not part of rtscope: it runs rtscope's built-in
`decoder` template (host/src/template_decoder.cpp) in PyTorch with the same
shapes, weight layout and dtype, so that decode-step latencies can be put
side by side with the Vulkan plugin on the same GPU:

  * eager PyTorch,
  * a manual CUDA graph of one decode step (static token, position and KV
    cache tensors),
  * torch.compile(mode="reduce-overhead") with the KV caches as module
    buffers, timing the compile / first calls as well (B14).

It also times torch.matmul at 4096^3 (f16, and f32 with TF32 off) for B9 and
a large device-to-device copy (bytes read + written per second) for B10.

The decoder: token embedding [vocab, d]; per layer
x += Wo·attn(rope(Wq·n), rope(Wk·n), Wv·n) with n = rmsnorm(x), K/V written
into static caches [batch, heads, max_seq, d/heads] and causal attention over
positions <= the current one; then x += Wdown·(silu(Wgate·n) * (Wup·n)) with
n = rmsnorm(x); final rmsnorm; untied LM head [d, vocab]; argmax of the
logits. Linear weights are [in, out] (y = x @ W), no biases, rotate-half RoPE
with base 10000, rmsnorm eps 1e-5, attention scale 1/sqrt(head_dim). Norms
and softmax compute in f32 like the Vulkan shaders (f16 storage, f32 math).

Prints one JSON object on stdout. Without torch or CUDA it prints
{"available": false, "reason": ...} and exits 0, so callers can show "n/a".
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

PROCESS_START = time.time()


def process_start_time():
    """Wall-clock time at which this process started (from /proc), or the
    import time of this module when /proc is unavailable."""
    try:
        with open("/proc/self/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        start_ticks = int(fields[19])
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        return boot + start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, StopIteration, IndexError):
        return PROCESS_START


def unavailable(reason):
    print(json.dumps({"available": False, "reason": reason}))
    sys.exit(0)


try:
    import torch
except ImportError as error:  # the comparison is optional
    unavailable(f"torch not importable: {error}")


def spread(values):
    ordered = sorted(values)
    return {
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "n": len(ordered),
    }


class Decoder(torch.nn.Module):
    """rtscope's `decoder` template in PyTorch (see the module docstring)."""

    def __init__(self, layers, d_model, heads, ffn, vocab, max_seq, batch, dtype, device):
        super().__init__()
        self.layers, self.d, self.heads = layers, d_model, heads
        self.head_dim = d_model // heads
        self.max_seq, self.batch = max_seq, batch
        generator = torch.Generator(device="cpu").manual_seed(7)

        def uniform(shape, scale, offset=0.0):
            values = (torch.rand(shape, generator=generator) * 2 - 1) * scale + offset
            return torch.nn.Parameter(values.to(device=device, dtype=dtype), requires_grad=False)

        def projection(fan_in, fan_out):
            return uniform((fan_in, fan_out), 1.0 / math.sqrt(fan_in))

        self.embed = uniform((vocab, d_model), 1.0)
        self.attn_norm = torch.nn.ParameterList()
        self.ffn_norm = torch.nn.ParameterList()
        self.wq, self.wk, self.wv, self.wo = (torch.nn.ParameterList() for _ in range(4))
        self.w_gate, self.w_up, self.w_down = (torch.nn.ParameterList() for _ in range(3))
        for _ in range(layers):
            self.attn_norm.append(uniform((d_model,), 0.1, 1.0))
            for w in (self.wq, self.wk, self.wv, self.wo):
                w.append(projection(d_model, d_model))
            self.ffn_norm.append(uniform((d_model,), 0.1, 1.0))
            self.w_gate.append(projection(d_model, ffn))
            self.w_up.append(projection(d_model, ffn))
            self.w_down.append(projection(ffn, d_model))
        self.final_norm = uniform((d_model,), 0.1, 1.0)
        self.lm_head = projection(d_model, vocab)
        cache_shape = (batch, heads, max_seq, self.head_dim)
        for layer in range(layers):
            self.register_buffer(f"k_cache_{layer}", torch.zeros(cache_shape, dtype=dtype, device=device))
            self.register_buffer(f"v_cache_{layer}", torch.zeros(cache_shape, dtype=dtype, device=device))
        half = self.head_dim // 2
        inv_freq = 10000.0 ** (-torch.arange(half, dtype=torch.float64) * 2 / self.head_dim)
        angles = torch.arange(max_seq, dtype=torch.float64)[:, None] * inv_freq[None, :]
        self.register_buffer("rope_cos", angles.cos().float().to(device))
        self.register_buffer("rope_sin", angles.sin().float().to(device))
        self.register_buffer("key_index", torch.arange(max_seq, device=device))

    def weight_bytes(self):
        return sum(p.numel() * p.element_size() for p in self.parameters())

    def cache_bytes(self):
        return sum(b.numel() * b.element_size() for n, b in self.named_buffers() if "_cache_" in n)

    def reset_caches(self):
        for name, buffer in self.named_buffers():
            if "_cache_" in name:
                buffer.zero_()

    @staticmethod
    def rmsnorm(x, gain):
        xf = x.float()
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-5)
        return (xf * gain.float()).to(x.dtype)

    def rope(self, x, positions):  # x [B, S, H, Dh], rotate-half
        cos = self.rope_cos[positions][None, :, None, :]
        sin = self.rope_sin[positions][None, :, None, :]
        half = self.head_dim // 2
        x1, x2 = x[..., :half].float(), x[..., half:].float()
        return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1).to(x.dtype)

    def forward(self, tokens, pos):
        """tokens i64 [B, S], pos i64 [1] (device tensor: one graph serves
        every position). Returns (logits [B, S, vocab], next_token [B, S])."""
        batch, seq = tokens.shape
        positions = pos + torch.arange(seq, device=tokens.device)
        x = self.embed[tokens]
        scale = 1.0 / math.sqrt(self.head_dim)
        # Keys j <= the query's absolute position; the full static cache is
        # read, as in rtscope's attention op.
        mask = self.key_index[None, :] <= positions[:, None]  # [S, T]
        for layer in range(self.layers):
            n = self.rmsnorm(x, self.attn_norm[layer])
            q = (n @ self.wq[layer]).view(batch, seq, self.heads, self.head_dim)
            k = (n @ self.wk[layer]).view(batch, seq, self.heads, self.head_dim)
            v = (n @ self.wv[layer]).view(batch, seq, self.heads, self.head_dim)
            q = self.rope(q, positions).transpose(1, 2)
            k = self.rope(k, positions).transpose(1, 2)
            v = v.transpose(1, 2)
            k_cache = getattr(self, f"k_cache_{layer}")
            v_cache = getattr(self, f"v_cache_{layer}")
            k_cache.index_copy_(2, positions, k)
            v_cache.index_copy_(2, positions, v)
            scores = (q.float() @ k_cache.float().transpose(-1, -2)) * scale
            scores = scores.masked_fill(~mask, float("-inf"))
            attn = torch.softmax(scores, dim=-1) @ v_cache.float()
            ctx = attn.to(x.dtype).transpose(1, 2).reshape(batch, seq, self.d)
            x = x + ctx @ self.wo[layer]
            n = self.rmsnorm(x, self.ffn_norm[layer])
            hidden = torch.nn.functional.silu(n @ self.w_gate[layer]) * (n @ self.w_up[layer])
            x = x + hidden @ self.w_down[layer]
        x = self.rmsnorm(x, self.final_norm)
        logits = x @ self.lm_head
        return logits, logits.argmax(-1)


def time_steps(step, steps):
    """Per-step wall time in ms; each step ends with its next token on the
    host, as a generation loop needs it (rtscope-run's steps end likewise)."""
    samples = []
    for _ in range(steps):
        begin = time.perf_counter()
        step()
        samples.append((time.perf_counter() - begin) * 1e3)
    return spread(samples)


def decoder_benchmarks(args, device):
    dtype = torch.float16
    model = Decoder(args.layers, args.d_model, args.heads, args.ffn, args.vocab, args.max_seq,
                    1, dtype, device).eval()
    prompt = torch.randint(0, args.vocab, (1, args.prompt), device=device)
    token = torch.randint(0, args.vocab, (1, 1), device=device)
    pos = torch.tensor([args.prompt], device=device, dtype=torch.int64)
    steps = args.steps
    # Positions stay below max_seq: each timed step writes position `prompt`
    # again (a fixed cost per step, like rtscope-run's decode steps).
    result = {
        "params": {
            "layers": args.layers, "d_model": args.d_model, "heads": args.heads, "ffn": args.ffn,
            "vocab": args.vocab, "max_seq": args.max_seq, "batch": 1, "dtype": "f16",
            "prompt": args.prompt,
        },
        "weight_bytes": model.weight_bytes(),
        "kv_cache_bytes": model.cache_bytes(),
    }

    with torch.inference_mode():
        def prefill():
            model.reset_caches()
            model(prompt, torch.zeros(1, dtype=torch.int64, device=device))

        # Eager.
        prefill()
        eager_step = lambda: model(token, pos)[1].item()
        for _ in range(args.warmup):
            eager_step()
        result["eager_ms"] = time_steps(eager_step, steps)

        # Manual CUDA graph of one decode step; inputs are static tensors.
        prefill()
        static_token, static_pos = token.clone(), pos.clone()
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream):
            for _ in range(3):
                model(static_token, static_pos)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_logits, static_next = model(static_token, static_pos)
        torch.cuda.synchronize()

        def graph_step():
            graph.replay()
            return static_next.item()

        for _ in range(args.warmup):
            graph_step()
        result["cuda_graph_ms"] = time_steps(graph_step, steps)
        # Kernels per step in the graph, for B5's GPU time per kernel.
        result["cuda_graph_kernels"] = count_kernels(graph_step)

        # Correctness between the variants (same weights and caches).
        prefill()
        eager_logits = model(token, pos)[0].float()
        prefill()
        graph.replay()
        torch.cuda.synchronize()
        graph_logits = static_logits.float()
        result["eager_vs_graph_max_abs_diff"] = float((eager_logits - graph_logits).abs().max())

    del graph
    torch.cuda.synchronize()
    if not args.skip_compile:
        result.update(compile_benchmark(model, prompt, token, pos, args, device))
    return result


def count_kernels(run):
    """Number of CUDA kernels one call of `run` launches (profiler), or
    None when the profiler is unavailable."""
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            run()
            torch.cuda.synchronize()
        return sum(1 for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA
                   and "memcpy" not in e.name.lower() and "memset" not in e.name.lower())
    except Exception:  # noqa: BLE001 - a missing count is reported as null
        return None


def compile_benchmark(model, prompt, token, pos, args, device):
    """torch.compile(mode="reduce-overhead"): time of the first calls (which
    compile and record CUDA graphs) and steady per-step latency."""
    result = {}
    model.reset_caches()
    with torch.inference_mode():
        model(prompt, torch.zeros(1, dtype=torch.int64, device=device))
    torch.cuda.synchronize()
    begin = time.perf_counter()
    compiled = torch.compile(model, mode="reduce-overhead", fullgraph=True)
    first_calls = []
    with torch.inference_mode():
        # reduce-overhead records its CUDA graph after a few warm-up calls.
        for _ in range(3):
            call_begin = time.perf_counter()
            compiled(token, pos)[1].item()
            first_calls.append((time.perf_counter() - call_begin) * 1e3)
        result["compile_first_call_ms"] = first_calls[0]
        result["compile_until_steady_ms"] = (time.perf_counter() - begin) * 1e3
        result["compile_first_calls_ms"] = first_calls
        step = lambda: compiled(token, pos)[1].item()
        for _ in range(args.warmup):
            step()
        result["compile_ms"] = time_steps(step, args.steps)
        eager_logits = model(token, pos)[0].float()
        compiled_logits = compiled(token, pos)[0].float()
        result["eager_vs_compile_max_abs_diff"] = float(
            (eager_logits - compiled_logits).abs().max())
    return result


def cuda_time_ms(run, iterations):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(iterations):
        run()
    end.record()
    end.synchronize()
    return start.elapsed_time(end) / iterations


def matmul_benchmarks(args, device):
    n = args.matmul_size
    flops = 2.0 * n * n * n
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_fp16_reduced_precision_reduction = False
    result = {"size": n, "tf32": False}
    for name, dtype in (("f16", torch.float16), ("f32", torch.float32)):
        a = torch.randn(n, n, device=device, dtype=dtype)
        b = torch.randn(n, n, device=device, dtype=dtype)
        c = torch.empty(n, n, device=device, dtype=dtype)
        run = lambda: torch.matmul(a, b, out=c)
        for _ in range(3):
            run()
        reps = [cuda_time_ms(run, args.matmul_iterations) for _ in range(args.repeats)]
        times = spread(reps)
        result[name] = {
            "ms": times,
            "tflops": {k: flops / (times[v] * 1e-3) / 1e12 for k, v in
                       (("median", "median"), ("min", "max"), ("max", "min"))},
        }
        del a, b, c
    return result


def copy_bandwidth(args, device):
    count = args.copy_bytes // 4
    src = torch.rand(count, device=device, dtype=torch.float32)
    dst = torch.empty_like(src)
    run = lambda: dst.copy_(src)
    for _ in range(3):
        run()
    reps = [cuda_time_ms(run, 20) for _ in range(args.repeats)]
    times = spread(reps)
    moved = 2.0 * count * 4  # read + write
    result = {
        "bytes": count * 4,
        "ms": times,
        "bytes_per_s": {k: moved / (times[v] * 1e-3) for k, v in
                        (("median", "median"), ("min", "max"), ("max", "min"))},
    }
    del src, dst
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes, a few steps")
    # The sizes and counts, with their defaults (the GPU reference decoder).
    for flag, default in (("--layers", 8), ("--d-model", 2048), ("--heads", 16), ("--ffn", 8192),
                          ("--vocab", 32000), ("--max-seq", 1024), ("--prompt", 16),
                          ("--steps", 100), ("--warmup", 10), ("--matmul-size", 4096),
                          ("--matmul-iterations", 20), ("--repeats", 5), ("--copy-bytes", 1 << 30)):
        parser.add_argument(flag, type=int, default=default)
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--only", choices=["decoder", "matmul", "copy"], action="append",
                        help="run only these parts (repeatable); default all")
    args = parser.parse_args()
    if args.quick:
        args.layers, args.d_model, args.heads, args.ffn = 2, 256, 4, 1024
        args.vocab, args.max_seq, args.steps, args.warmup = 1024, 256, 10, 2
        args.matmul_size, args.matmul_iterations, args.repeats = 512, 5, 3
        args.copy_bytes = 64 << 20
    if not torch.cuda.is_available():
        unavailable("torch has no CUDA device")
    device = torch.device("cuda")
    torch.manual_seed(7)
    out = {
        "available": True,
        "device": torch.cuda.get_device_name(device),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "quick": args.quick,
    }
    parts = args.only or ["decoder", "matmul", "copy"]
    start = process_start_time()
    if "decoder" in parts:
        out["decoder"] = decoder_benchmarks(args, device)
    if "matmul" in parts:
        out["matmul"] = matmul_benchmarks(args, device)
    if "copy" in parts:
        out["copy"] = copy_bandwidth(args, device)
    out["process_wall_s"] = time.time() - start
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
