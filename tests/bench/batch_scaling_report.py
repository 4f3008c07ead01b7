#!/usr/bin/env python3
"""B16: batched decode scaling from the runs scripts/device-bench.sh made.

    tests/bench/batch_scaling_report.py OUT_DIR

Reads OUT_DIR/decoder_batch_<B>_r<R>.json (rtscope-run --json of the
decoder with B streams per captured step, round R; a folder of one round
may name its runs decoder_batch_<B>.json), prints the tokens/s and the
step p50 of every round per B and their medians, and the tokens/s ratio of
B=8 to B=1 (target >= 6) from the medians, and writes
OUT_DIR/batch_scaling.json.

The rounds alternate the batches, and the ratio takes each side's median:
one slow run of a side (the GPU's clocks, the host) then moves neither,
where a single round's ratio can move by 5% or more with it.
"""
import json
import pathlib
import re
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from device_bench_report import first_model  # noqa: E402

TARGET_B8_OVER_B1 = 6.0
RUN_NAME = re.compile(r"decoder_batch_(\d+)(?:_r(\d+))?\.json")


def load_runs(out: pathlib.Path):
    """{batch: [{"round", "tokens_per_s", "step_p50_ms"}, ...]} by round.
    Where any run has a round number, runs without one are an earlier
    call's left in the folder and are not read."""
    named = []
    for path in sorted(out.glob("decoder_batch_*.json")):
        match = RUN_NAME.fullmatch(path.name)
        if match:
            named.append((path, match))
    if any(match.group(2) for _, match in named):
        named = [(path, match) for path, match in named if match.group(2)]
    runs = {}
    for path, match in named:
        model = first_model(json.loads(path.read_text()))
        batch = int(match.group(1))
        runs.setdefault(batch, []).append({
            "round": int(match.group(2) or 1),
            "tokens_per_s": model["throughput_per_s"],
            "step_p50_ms": model["latency_ms"]["p50"],
        })
    for rounds in runs.values():
        rounds.sort(key=lambda run: run["round"])
    return runs


def summarize(runs):
    """Per batch: the rounds and the medians; the B=8 / B=1 ratio of the
    median tokens/s, with the range of the rounds' own ratios."""
    batches = {}
    for batch, rounds in sorted(runs.items()):
        batches[str(batch)] = {
            "rounds": rounds,
            "tokens_per_s": statistics.median(run["tokens_per_s"] for run in rounds),
            "step_p50_ms": statistics.median(run["step_p50_ms"] for run in rounds),
        }
    summary = {"runs": batches, "target_b8_over_b1": TARGET_B8_OVER_B1}
    one, eight = batches.get("1"), batches.get("8")
    if one and eight and one["tokens_per_s"] > 0:
        summary["b8_over_b1"] = eight["tokens_per_s"] / one["tokens_per_s"]
        by_round = {run["round"]: run["tokens_per_s"] for run in one["rounds"]}
        per_round = [run["tokens_per_s"] / by_round[run["round"]] for run in eight["rounds"]
                     if by_round.get(run["round"], 0) > 0]
        if per_round:
            summary["b8_over_b1_rounds"] = [min(per_round), max(per_round)]
    return summary


def main(argv) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = pathlib.Path(argv[1])
    runs = load_runs(out)
    if not runs:
        print(f"batch_scaling_report: no decoder_batch_*.json in {out}", file=sys.stderr)
        return 1
    summary = summarize(runs)
    rounds = max(len(r) for r in runs.values())
    print(f"B16 batched decode (captured), tokens/s of all streams together, "
          f"median of {rounds} round{'s' if rounds > 1 else ''}:")
    print(f"{'B':>4} {'tokens/s':>12} {'step p50 ms':>12} {'vs B=1':>8}  p50 per round (ms)")
    base = summary["runs"].get("1", {}).get("tokens_per_s")
    for batch, entry in summary["runs"].items():
        ratio = f"{entry['tokens_per_s'] / base:.2f}x" if base else "n/a"
        per_round = " ".join(f"{run['step_p50_ms']:.3f}" for run in entry["rounds"])
        print(f"{batch:>4} {entry['tokens_per_s']:>12.1f} {entry['step_p50_ms']:>12.3f} "
              f"{ratio:>8}  {per_round}")
    if "b8_over_b1" in summary:
        ratio = summary["b8_over_b1"]
        verdict = "met" if ratio >= TARGET_B8_OVER_B1 else "missed"
        spread = summary.get("b8_over_b1_rounds")
        rounds_text = (f"; rounds {spread[0]:.2f}x-{spread[1]:.2f}x"
                       if spread and len(runs[8]) > 1 else "")
        print(f"B=8 / B=1: {ratio:.2f}x (target >= {TARGET_B8_OVER_B1:.0f}x: {verdict}"
              f"{rounds_text})")
    (out / "batch_scaling.json").write_text(json.dumps(summary, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
