"""Tests of batch_scaling_report.py (device-bench's B16 rows) on hand-made
run folders (no GPU)."""
import contextlib
import io
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import batch_scaling_report  # noqa: E402


def run(batch, p50_ms):
    """rtscope-run --json of a B-stream decode step taking p50_ms."""
    return {"models": {"decoder": {
        "batch": batch,
        "latency_ms": {"p50": p50_ms},
        "throughput_per_s": batch * 1000.0 / p50_ms,
    }}}


def rounds(*p50_by_batch):
    """Run files of rounds 1, 2, ...: each argument maps a batch to its
    step p50 in that round."""
    return {f"decoder_batch_{batch}_r{number}.json": run(batch, p50)
            for number, p50s in enumerate(p50_by_batch, 1) for batch, p50 in p50s.items()}


def report(runs):
    """The report's exit status, batch_scaling.json and printed text for a
    folder of `runs` (file name: JSON content)."""
    with tempfile.TemporaryDirectory() as folder:
        for name, content in runs.items():
            with open(os.path.join(folder, name), "w") as f:
                json.dump(content, f)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
            status = batch_scaling_report.main(["batch_scaling_report.py", folder])
        path = os.path.join(folder, "batch_scaling.json")
        summary = None
        if os.path.exists(path):
            with open(path) as f:
                summary = json.load(f)
        return status, summary, printed.getvalue()


class BatchScalingReportTest(unittest.TestCase):
    def test_the_ratio_takes_each_sides_median_over_the_rounds(self):
        # Round 2's one-stream run is slow (as an H200's was: 0.533 ms
        # against 0.505-0.508): its own ratio is 6.05x, the medians' 5.72x.
        status, summary, printed = report(
            rounds({1: 0.505, 8: 0.710}, {1: 0.533, 8: 0.705}, {1: 0.508, 8: 0.714}))
        self.assertEqual(status, 0)
        self.assertAlmostEqual(summary["runs"]["1"]["step_p50_ms"], 0.508)
        self.assertAlmostEqual(summary["runs"]["8"]["step_p50_ms"], 0.710)
        self.assertAlmostEqual(summary["b8_over_b1"], (8 / 0.710) / (1 / 0.508), places=6)
        low, high = summary["b8_over_b1_rounds"]
        self.assertAlmostEqual(low, 8 * 0.505 / 0.710, places=6)
        self.assertAlmostEqual(high, 8 * 0.533 / 0.705, places=6)
        self.assertIn("missed", printed)
        self.assertEqual([r["round"] for r in summary["runs"]["8"]["rounds"]], [1, 2, 3])

    def test_a_folder_of_one_round_without_round_numbers(self):
        status, summary, printed = report({
            "decoder_batch_1.json": run(1, 0.621), "decoder_batch_4.json": run(4, 0.686),
            "decoder_batch_8.json": run(8, 0.811), "decoder_batch_16.json": run(16, 1.207),
            "decoder_batch_8.log.json": {"not": "a run"},
        })
        self.assertEqual(status, 0)
        self.assertEqual(sorted(summary["runs"], key=int), ["1", "4", "8", "16"])
        self.assertAlmostEqual(summary["b8_over_b1"], 8 * 0.621 / 0.811, places=6)
        self.assertIn("met", printed)
        self.assertNotIn("rounds 6", printed)

    def test_runs_without_a_round_number_beside_numbered_ones_are_not_read(self):
        # An earlier call's one-round files left in the output folder.
        status, summary, _ = report({
            "decoder_batch_1.json": run(1, 9.0), "decoder_batch_8.json": run(8, 9.0),
            **rounds({1: 0.5, 8: 0.7}, {1: 0.5, 8: 0.7}),
        })
        self.assertEqual(status, 0)
        self.assertEqual(len(summary["runs"]["1"]["rounds"]), 2)
        self.assertAlmostEqual(summary["b8_over_b1"], 8 * 0.5 / 0.7, places=6)

    def test_without_one_stream_there_is_no_ratio(self):
        status, summary, _ = report(rounds({8: 0.8}))
        self.assertEqual(status, 0)
        self.assertNotIn("b8_over_b1", summary)

    def test_an_empty_folder_fails(self):
        status, summary, _ = report({})
        self.assertEqual(status, 1)
        self.assertIsNone(summary)


if __name__ == "__main__":
    unittest.main()
