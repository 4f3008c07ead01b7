#!/usr/bin/env python3
"""The A/B table of the runs scripts/device-ab.sh made.

    tests/bench/ab_report.py OUT_DIR

Reads OUT_DIR/ab_info.json (the variants, the default first) and each
variant's OUT_DIR/<NAME>_r<round>.json (rtscope-run --json), prints per
variant the device time and the p50 latency per step of every round, their
medians and the ratio of the median device time to the default's, and
writes OUT_DIR/ab.json. Device time is the gpu_time_ns counter of the
model's partitions over its timed iterations; a run without it (a device
without timestamps) shows the latency alone. Exit status 1 when a run is
missing or unreadable.
"""
import json
import pathlib
import re
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from device_bench_report import device_time_per_iteration, first_model  # noqa: E402


def read_run(path: pathlib.Path):
    """(device ms per step or None, p50 ms) of one rtscope-run report."""
    model = first_model(json.loads(path.read_text()))
    device_ms, _ = device_time_per_iteration(model)
    return device_ms, model["latency_ms"]["p50"]


def load(out: pathlib.Path):
    info = json.loads((out / "ab_info.json").read_text())
    variants, complete = {}, True
    for name in info["variants"]:
        runs = {}
        for path in out.glob(f"{name}_r*.json"):
            match = re.fullmatch(re.escape(name) + r"_r(\d+)\.json", path.name)
            if not match:
                continue
            try:
                runs[int(match.group(1))] = read_run(path)
            except (KeyError, StopIteration, ValueError) as error:
                print(f"ab_report: {path}: unreadable ({error})", file=sys.stderr)
        complete &= len(runs) == info["rounds"]
        variants[name] = [runs[r] for r in sorted(runs)]
    return info, variants, complete


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main(argv) -> int:
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = pathlib.Path(argv[1])
    info, variants, complete = load(out)
    base = median(d for d, _ in variants.get("default", []))
    print(f"A/B at batch {info['batch']}, {info['rounds']} rounds, commit {info['commit']}"
          f"{', ' + info['device'] if info.get('device') else ''}:")
    print(f"{'variant':<20} {'device ms/step per round':<28} {'median':>8} {'p50 ms':>8} {'vs default':>10}")
    summary = {"info": info, "variants": {}}
    for name, runs in variants.items():
        device = median(d for d, _ in runs)
        p50 = median(p for _, p in runs)
        ratio = device / base if device is not None and base else None
        rounds = " ".join("-" if d is None else f"{d:.3f}" for d, _ in runs) or "missing"
        print(f"{name:<20} {rounds:<28} {device if device is not None else float('nan'):>8.3f}"
              f" {p50 if p50 is not None else float('nan'):>8.3f}"
              f" {f'{ratio:.3f}' if ratio is not None else 'n/a':>10}")
        summary["variants"][name] = {
            "device_ms_per_step": [d for d, _ in runs],
            "p50_ms": [p for _, p in runs],
            "median_device_ms": device,
            "median_p50_ms": p50,
            "vs_default": ratio,
        }
    (out / "ab.json").write_text(json.dumps(summary, indent=1) + "\n")
    if not complete:
        print("ab_report: some runs are missing (see the variants' .log files)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
