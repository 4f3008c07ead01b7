"""Tests of device_bench_report.py's rows on hand-made run folders (no GPU)."""
import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import device_bench_report as report  # noqa: E402


def decoder_run(first_inference_ms, upload_wait_ms, hits, misses):
    return {"models": {"decoder": {
        "phases_ms": {"plugin_load": 90.0, "model_build": 600.0,
                      "first_inference": first_inference_ms},
        "plugin_phases_ms": {"vulkan.upload_wait": upload_wait_ms,
                             "vulkan.pipelines": 9.0},
        "cache": {"hits": hits, "misses": misses},
    }}}


class B6Test(unittest.TestCase):
    def rows(self, cold, warm):
        with tempfile.TemporaryDirectory() as folder:
            for name, run in (("decoder_cold.json", cold), ("decoder_warm.json", warm)):
                with open(os.path.join(folder, name), "w") as f:
                    json.dump(run, f)
            _, results, _ = report.build_rows(folder)
        return results["B6"]

    def test_the_wait_for_overlapped_weights_is_not_counted(self):
        # As on the H100 (device-bench, 2026-12-06): the warm first
        # inference waited 938 ms for the weights, the cold one none.
        (b6,) = self.rows(decoder_run(1118.8, 0.0, 0, 31), decoder_run(972.3, 938.3, 31, 0))
        self.assertAlmostEqual(b6["ratio"], (972.3 - 938.3) / 1118.8, places=6)
        self.assertTrue(b6["met"])
        self.assertIn("34.0 / 1118.8 ms", b6["ours"])
        self.assertIn("vulkan.upload_wait: 938 ms warm", b6["note"])

    def test_without_an_upload_wait_the_first_inference_counts_whole(self):
        run = decoder_run(500.0, 0.0, 0, 31)
        del run["models"]["decoder"]["plugin_phases_ms"]
        (b6,) = self.rows(run, decoder_run(100.0, 0.0, 31, 0))
        self.assertAlmostEqual(b6["ratio"], 0.2, places=6)
        self.assertFalse(b6["met"])


if __name__ == "__main__":
    unittest.main()
