#!/usr/bin/env python3
"""B16: batched decode scaling from the runs scripts/device-bench.sh made.

    tests/bench/batch_scaling_report.py OUT_DIR

Reads OUT_DIR/decoder_batch_<B>.json (rtscope-run --json of the decoder
with B streams per captured step), prints tokens/s and the step latency per
B and the tokens/s ratio of B=8 to B=1 (target >= 6), and writes
OUT_DIR/batch_scaling.json.
"""
import json
import pathlib
import re
import sys

TARGET_B8_OVER_B1 = 6.0


def load_runs(out: pathlib.Path):
    runs = {}
    for path in sorted(out.glob("decoder_batch_*.json")):
        match = re.fullmatch(r"decoder_batch_(\d+)\.json", path.name)
        if not match:
            continue
        report = json.loads(path.read_text())
        model = next(iter(report["models"].values()))
        runs[int(match.group(1))] = {
            "batch": model.get("batch", int(match.group(1))),
            "tokens_per_s": model["throughput_per_s"],
            "step_p50_ms": model["latency_ms"]["p50"],
        }
    return runs


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = pathlib.Path(sys.argv[1])
    runs = load_runs(out)
    if not runs:
        print(f"batch_scaling_report: no decoder_batch_*.json in {out}", file=sys.stderr)
        return 1
    print("B16 batched decode (captured), tokens/s of all streams together:")
    print(f"{'B':>4} {'tokens/s':>12} {'step p50 ms':>12} {'vs B=1':>8}")
    base = runs.get(1, {}).get("tokens_per_s")
    for batch, run in sorted(runs.items()):
        ratio = f"{run['tokens_per_s'] / base:.2f}x" if base else "n/a"
        print(f"{batch:>4} {run['tokens_per_s']:>12.1f} {run['step_p50_ms']:>12.3f} {ratio:>8}")
    summary = {"runs": {str(b): r for b, r in sorted(runs.items())}, "target_b8_over_b1": TARGET_B8_OVER_B1}
    if base and 8 in runs:
        ratio = runs[8]["tokens_per_s"] / base
        summary["b8_over_b1"] = ratio
        verdict = "met" if ratio >= TARGET_B8_OVER_B1 else "missed"
        print(f"B=8 / B=1: {ratio:.2f}x (target >= {TARGET_B8_OVER_B1:.0f}x: {verdict})")
    (out / "batch_scaling.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
