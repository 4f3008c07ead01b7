"""Tests of ab_report.py (scripts/device-ab.sh's table) on hand-made run
folders (no GPU)."""
import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ab_report  # noqa: E402


def run(device_ms, p50_ms, iterations=3000):
    counters = {} if device_ms is None else {"gpu_time_ns": int(device_ms * 1e6 * iterations),
                                             "gpu_timed_executes": iterations}
    return {"models": {"decoder": {
        "iterations": iterations,
        "latency_ms": {"p50": p50_ms},
        "partitions": [{"plugin": "vulkan", "measured_counters": counters},
                       {"plugin": "cpu", "measured_counters": {}}],
    }}}


def report(variants, rounds, runs):
    """ab_report's exit status and ab.json for a folder of `runs` (file
    name: JSON content)."""
    with tempfile.TemporaryDirectory() as folder:
        info = {"commit": "abc1234", "device": "NVIDIA H100 80GB HBM3, 580.159.04",
                "batch": 8, "rounds": rounds, "variants": variants}
        files = {"ab_info.json": info, **runs}
        for name, content in files.items():
            with open(os.path.join(folder, name), "w") as f:
                json.dump(content, f)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            status = ab_report.main(["ab_report.py", folder])
        with open(os.path.join(folder, "ab.json")) as f:
            return status, json.load(f)["variants"]


class AbReportTest(unittest.TestCase):
    def test_medians_over_rounds_and_the_ratio_to_the_default(self):
        status, variants = report(["default", "solo"], 3, {
            "default_r1.json": run(1.546, 1.592), "default_r2.json": run(1.555, 1.597),
            "default_r3.json": run(1.700, 1.900),
            "solo_r1.json": run(1.624, 1.693), "solo_r2.json": run(1.637, 1.675),
            "solo_r3.json": run(1.500, 1.600)})
        self.assertEqual(status, 0)
        self.assertAlmostEqual(variants["default"]["median_device_ms"], 1.555, places=6)
        self.assertAlmostEqual(variants["solo"]["median_device_ms"], 1.624, places=6)
        self.assertAlmostEqual(variants["solo"]["vs_default"], 1.624 / 1.555, places=6)
        self.assertAlmostEqual(variants["solo"]["median_p50_ms"], 1.675, places=6)
        self.assertEqual(len(variants["solo"]["device_ms_per_step"]), 3)

    def test_a_missing_run_fails_and_the_rest_is_still_reported(self):
        status, variants = report(["default", "f16"], 2, {
            "default_r1.json": run(1.0, 1.1), "default_r2.json": run(1.2, 1.3),
            "f16_r1.json": run(1.5, 1.6)})
        self.assertEqual(status, 1)
        self.assertAlmostEqual(variants["f16"]["vs_default"], 1.5 / 1.1, places=6)

    def test_without_device_timestamps_only_the_latency_is_given(self):
        status, variants = report(["default", "other"], 1, {
            "default_r1.json": run(None, 2.0), "other_r1.json": run(None, 1.0)})
        self.assertEqual(status, 0)
        self.assertIsNone(variants["other"]["median_device_ms"])
        self.assertIsNone(variants["other"]["vs_default"])
        self.assertAlmostEqual(variants["other"]["median_p50_ms"], 1.0, places=6)

    def test_a_name_that_prefixes_another_takes_only_its_own_runs(self):
        status, variants = report(["default", "a"], 1, {
            "default_r1.json": run(1.0, 1.0), "a_r1.json": run(2.0, 2.0),
            "a_b_r1.json": run(9.0, 9.0)})
        self.assertEqual(status, 0)
        self.assertEqual(variants["a"]["device_ms_per_step"], [2.0])


if __name__ == "__main__":
    unittest.main()
