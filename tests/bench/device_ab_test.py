"""scripts/device-ab.sh end to end on a build tree with the Vulkan plugin
(--quick: the tiny decoder, on lavapipe in CI), and its refusal of
malformed variants before anything runs (device-bench's B16 variants too).

    tests/bench/device_ab_test.py BUILD_DIR

Exits 77 (a skip) only when the machine has no Vulkan device at all.
"""
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "device-ab.sh"
BUILD = None
NO_DEVICE = 77


def device_ab(*args):
    return subprocess.run(["bash", str(SCRIPT), str(BUILD), *args], capture_output=True,
                          text=True, timeout=900)


class MalformedVariantsTest(unittest.TestCase):
    def test_a_name_with_an_underscore_is_refused(self):
        with tempfile.TemporaryDirectory() as out:
            result = device_ab(out, "--quick", "bad_name:RTSCOPE_VULKAN_F16_PRODUCTS=1")
            self.assertEqual(result.returncode, 2)
            self.assertIn("variant 'bad_name:RTSCOPE_VULKAN_F16_PRODUCTS=1'", result.stderr)
            self.assertEqual(os.listdir(out), [], "nothing ran")

    def test_an_assignment_without_a_value_is_refused(self):
        with tempfile.TemporaryDirectory() as out:
            result = device_ab(out, "--quick", "f16:RTSCOPE_VULKAN_F16_PRODUCTS")
            self.assertEqual(result.returncode, 2)
            self.assertIn("'RTSCOPE_VULKAN_F16_PRODUCTS' is not VAR=VALUE", result.stderr)

    def test_the_default_is_not_a_variant_name(self):
        with tempfile.TemporaryDirectory() as out:
            result = device_ab(out, "--quick", "default:RTSCOPE_VULKAN_F16_PRODUCTS=1")
            self.assertEqual(result.returncode, 2)


class DeviceBenchVariantsTest(unittest.TestCase):
    def test_a_malformed_b16_variant_is_refused_before_anything_runs(self):
        with tempfile.TemporaryDirectory() as out:
            env = dict(os.environ, RTSCOPE_BENCH_B16_ENV="solo:RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS=1 f16")
            result = subprocess.run(["bash", str(REPO / "scripts" / "device-bench.sh"), str(BUILD),
                                     out, "--quick"], capture_output=True, text=True, timeout=120,
                                    env=env)
            self.assertEqual(result.returncode, 2, result.stderr)
            self.assertIn("RTSCOPE_BENCH_B16_ENV: variant 'f16'", result.stderr)
            self.assertEqual(os.listdir(out), [], "nothing ran")


class QuickRunTest(unittest.TestCase):
    def test_the_default_and_a_variant_each_get_a_row(self):
        # The variant also names a plugin dir holding only the vulkan
        # plugin: the tree's dirs still serve the cpu plugin after it.
        plugin_dir = BUILD / "plugins" / "vulkan"
        with tempfile.TemporaryDirectory() as out:
            result = device_ab(out, "--quick", "--batch", "3", "--rounds", "1",
                               "solo:RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS=1,"
                               f"RTSCOPE_PLUGIN_PATH={plugin_dir}")
            log = pathlib.Path(out, "default_r1.log")
            if result.returncode != 0 and log.exists() and "no Vulkan device" in log.read_text():
                print("skipping: the Vulkan plugin found no Vulkan device", file=sys.stderr)
                os._exit(NO_DEVICE)
            self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
            variants = json.loads(pathlib.Path(out, "ab.json").read_text())["variants"]
            self.assertEqual(list(variants), ["default", "solo"])
            for name, row in variants.items():
                self.assertGreater(row["median_p50_ms"], 0, name)
                self.assertEqual(len(row["p50_ms"]), 1, name)
            self.assertIn("solo", result.stdout)
            # The tree's own plugin dirs follow the variant's (in a bundle,
            # whose compiled-in plugin dir is wrong, the cpu plugin is
            # found only there).
            first_line = pathlib.Path(out, "solo_r1.log").read_text().splitlines()[0]
            self.assertIn(f"RTSCOPE_PLUGIN_PATH={plugin_dir}:", first_line)
            self.assertIn(str(BUILD / "plugins" / "cpu"), first_line)
            report = json.loads(pathlib.Path(out, "solo_r1.json").read_text())
            model = next(iter(report["models"].values()))
            self.assertEqual(model["batch"], 3)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    BUILD = pathlib.Path(sys.argv.pop(1)).resolve()
    unittest.main()
