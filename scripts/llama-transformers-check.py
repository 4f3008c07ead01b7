#!/usr/bin/env python3
"""Compares rtscope's logits on a Hugging Face Llama checkpoint with
transformers' own, on the GPU machine (dev-side tool: needs torch and
transformers; nothing of rtscope's product runs Python).

  python3 scripts/llama-transformers-check.py BUILD_DIR [--quick] [--backends vulkan,cpu]

1. Creates a randomly initialised LlamaForCausalLM (seeded) with grouped-query
   attention at the GPU reference size (8 layers, hidden 2048, 16 heads,
   4 KV heads, intermediate 8192, vocab 32000; --quick: a tiny one) and saves
   it with save_pretrained (safetensors, float16) into OUT/checkpoint.
2. Runs BUILD_DIR/tests/bench/bench_checkpoint_logits on it: a 16-token
   seeded prompt, then 32 greedy decode steps, on the given backends.
3. Runs transformers (float32 on CUDA when available, from the same float16
   weights) over the same token sequence and compares every position's
   logits: max abs error within the f16 tolerance, and the greedy tokens
   must agree wherever transformers' top two logits are further apart than
   that tolerance.
Prints one JSON object and exits 1 when the comparison fails.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from seeded_llama import seeded_llama


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("build", help="build dir or gpu-bundle dir")
    parser.add_argument("--backends", default="vulkan,cpu")
    parser.add_argument("--quick", action="store_true", help="tiny model (checks the script)")
    parser.add_argument("--prompt", type=int, default=16)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--atol", type=float, default=None,
                        help="max abs logit error (default: 3e-2 * max(1, max |logit|))")
    parser.add_argument("--out", default=None, help="keep the checkpoint here")
    args = parser.parse_args()

    import torch
    from transformers import LlamaForCausalLM

    model, sizes = seeded_llama(args.quick)
    # transformers' init (std 0.02) gives near-uniform logits; a larger spread
    # makes the greedy check meaningful.
    with torch.no_grad():
        model.lm_head.weight.mul_(10.0)
    work = args.out or tempfile.mkdtemp(prefix="rtscope-llama-")
    checkpoint = os.path.join(work, "checkpoint")
    model.to(torch.float16).save_pretrained(checkpoint, safe_serialization=True)

    generator = torch.Generator().manual_seed(1)
    prompt = torch.randint(0, sizes["vocab_size"], (args.prompt,), generator=generator).tolist()
    build = os.path.abspath(args.build)
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join([f"{build}/host", f"{build}/deps", env.get("LD_LIBRARY_PATH", ""), f"{build}/glvnd"])
    env["RTSCOPE_PLUGIN_PATH"] = f"{build}/plugins/cpu:{build}/plugins/vulkan"
    binary = os.path.join(build, "tests/bench/bench_checkpoint_logits")
    command = [binary, checkpoint, args.backends, ",".join(map(str, prompt)), str(args.steps), "f16"]
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        sys.exit(f"llama-transformers-check: {' '.join(command)} failed")
    ours = json.loads(result.stdout)
    tokens = ours["tokens"]

    device = "cuda" if torch.cuda.is_available() else "cpu"
    # Saved as float16, computed in float32 (newer transformers call the
    # argument `dtype`, older ones `torch_dtype`).
    try:
        reference = LlamaForCausalLM.from_pretrained(checkpoint, dtype=torch.float32)
    except TypeError:
        reference = LlamaForCausalLM.from_pretrained(checkpoint, torch_dtype=torch.float32)
    reference = reference.float().to(device).eval()
    with torch.no_grad():
        theirs = reference(torch.tensor([tokens], device=device)).logits[0].double().cpu()
    got = torch.tensor(ours["logits"], dtype=torch.float64)
    scale = max(1.0, theirs.abs().max().item())
    atol = args.atol if args.atol is not None else 3e-2 * scale
    max_abs = (got - theirs).abs().max().item()
    disagreements = []
    for i in range(len(prompt) - 1, len(tokens) - 1):
        top2 = torch.topk(theirs[i], 2).values
        if (top2[0] - top2[1]).item() > 2 * atol and tokens[i + 1] != int(theirs[i].argmax()):
            disagreements.append({"position": i, "rtscope": tokens[i + 1], "transformers": int(theirs[i].argmax())})
    report = {
        "checkpoint": checkpoint, "config": sizes, "backends": args.backends,
        "prompt": args.prompt, "steps": args.steps, "positions": len(tokens),
        "max_abs_logit_error": max_abs, "max_abs_logit": scale, "atol": atol,
        "greedy_disagreements": disagreements, "rtscope_phases_ms": ours.get("phases_ms"),
        "command": " ".join(command), "passed": max_abs <= atol and not disagreements,
    }
    print(json.dumps(report, indent=1))
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
