// The check every fusion case of the Vulkan plugin runs: the model matches
// the float64 reference whether or not the plugin fused, and where the
// device runs projections on matvec_t (the fusions exist only there) its
// counters show what was fused.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rtscope/model.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/matvec_t_probe.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {

// With `norm`, adds a gain of `inner` values seeded around 1 and
// n = rmsnorm(x, gain) to `g`; returns the value the projections read: "n",
// or "x" without the norm.
inline std::string optional_rmsnorm(testing::GraphBuilder& g, bool norm, DType dtype, int64_t inner,
                                    uint64_t seed) {
  if (!norm) return "x";
  g.weight("gain", dtype, {inner}, testing::seeded_init(seed, 0.5, 1.0))
      .node("norm", "rmsnorm", {"x", "gain"}, "n", {{"eps", 1e-5}});
  return "n";
}

// Expected counters of the model's first module, per execute.
using Counters = std::map<std::string, uint64_t>;

// Runs `model` (built on `registry`'s vulkan plugin) once on `inputs`
// against the reference within `tolerance`, then checks `counters`. A case
// that `fuses` is skipped after the reference check on a device without
// matvec_t; call this last in a test.
inline void expect_fused_or_not(PluginRegistry& registry, Model& model,
                                const std::map<std::string, Tensor>& inputs, double tolerance,
                                bool fuses, const Counters& counters) {
  testing::expect_matches_reference(model, inputs, tolerance);
  if (fuses && !device_runs_matvec_t(registry)) {
    GTEST_SKIP() << "this device keeps linear weights [K, N] (no subgroup arithmetic): "
                    "nothing to fuse into";
  }
  const Module& module = *model.modules()[0];
  for (const auto& [name, value] : counters) EXPECT_EQ(counter(module, name), value) << name;
  expect_no_validation_errors(model);
}

}  // namespace rtscope::vulkan_testing
