"""scripts/lib/run-variant.sh, the variants that scripts/device-ab.sh and
scripts/device-bench.sh (RTSCOPE_BENCH_B16_ENV) share: what each accepts
and refuses, and the plugin path a variant's run gets.

    tests/bench/run_variant_test.py
"""
import pathlib
import subprocess
import unittest

LIBRARY = pathlib.Path(__file__).resolve().parents[2] / "scripts" / "lib" / "run-variant.sh"


def parse(variant, plugin_path="/tree/plugins/cpu:/tree/plugins/vulkan"):
    """Runs run_variant_parse and run_variant_complete_plugin_path in bash;
    returns (status, stderr, name, assignments one per line)."""
    script = (f'source "{LIBRARY}"; RTSCOPE_PLUGIN_PATH="$2"; '
              'run_variant_parse tool "$1" || exit 1; run_variant_complete_plugin_path; '
              'echo "$variant_name"; printf "%s\\n" "${variant_assignments[@]}"')
    result = subprocess.run(["bash", "-c", script, "bash", variant, plugin_path],
                            capture_output=True, text=True, timeout=30)
    lines = result.stdout.splitlines()
    return result.returncode, result.stderr, lines[:1], lines[1:]


class RunVariantTest(unittest.TestCase):
    def test_a_variant_sets_each_of_its_variables(self):
        status, _, name, assignments = parse("solo:RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS=1,A_B=x=y")
        self.assertEqual(status, 0)
        self.assertEqual(name, ["solo"])
        self.assertEqual(assignments, ["RTSCOPE_VULKAN_MATVEC_SOLO_TEAMS=1", "A_B=x=y"])

    def test_its_plugin_dirs_go_before_the_trees(self):
        status, _, _, assignments = parse("patched:RTSCOPE_PLUGIN_PATH=/patch,X=1")
        self.assertEqual(status, 0)
        self.assertEqual(assignments,
                         ["RTSCOPE_PLUGIN_PATH=/patch:/tree/plugins/cpu:/tree/plugins/vulkan",
                          "X=1"])

    def test_malformed_variants_are_refused_naming_the_tool(self):
        for variant, why in [("bad_name:X=1", "not NAME:VAR=VALUE"),
                             ("noassignments", "not NAME:VAR=VALUE"),
                             (":X=1", "not NAME:VAR=VALUE"),
                             ("empty:", "sets no variable"),
                             ("f16:RTSCOPE_VULKAN_F16_PRODUCTS", "'RTSCOPE_VULKAN_F16_PRODUCTS' is not VAR=VALUE"),
                             ("digit:1X=2", "'1X=2' is not VAR=VALUE")]:
            with self.subTest(variant=variant):
                status, stderr, _, _ = parse(variant)
                self.assertEqual(status, 1)
                self.assertTrue(stderr.startswith("tool: variant '"), stderr)
                self.assertIn(why, stderr)


if __name__ == "__main__":
    unittest.main()
