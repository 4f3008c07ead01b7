// What the cpu plugin's kernel-variant tests share: forcing a variant
// (RTSCOPE_CPU_FORCE_VARIANT) for the contexts created in a scope, a model
// specialized eagerly on cpu, the count of nodes a variant ran, and a test
// name made from a variant's dotted name.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "rtscope/graph.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/env_guard.hpp"

namespace rtscope::testing {

// Every kernel the cpu plugin offers for conv, for tests that force each.
inline const char* const kConvVariants[] = {"conv.im2col_sgemm",         "conv.onednn",
                                            "conv.onednn_split",         "conv.onednn_blocked",
                                            "conv.onednn_winograd",      "conv.onednn_blocked_rows",
                                            "conv.onednn_winograd_rows", "conv.pointwise_sgemm"};

// A test suite with the cpu plugin loaded once for all its tests
// (`registry_`), on gtest's `Base` (::testing::Test or a TestWithParam).
template <typename Base = ::testing::Test>
class WithCpuPlugin : public Base {
 protected:
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry();
    registry_->load({.name = "cpu"});
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  static inline PluginRegistry* registry_ = nullptr;
};

class ForcedVariant {
 public:
  explicit ForcedVariant(const std::string& name) : guard_("RTSCOPE_CPU_FORCE_VARIANT", name) {}

 private:
  EnvGuard guard_;
};

// `graph` built on cpu, every module specializing its kernels before the
// first execute.
inline std::unique_ptr<Model> eager_cpu_model(PluginRegistry& registry, const Graph& graph) {
  auto model = Model::build(graph, registry, {.backends = {"cpu"}});
  for (Module* module : model->modules()) {
    RuntimeSettings settings = module->runtime_settings();
    settings.kernel_specialization = KernelSpecialization::eager;
    module->set_runtime_settings(settings);
  }
  return model;
}

// The first module's plugin counter `name`; 0 when absent.
inline uint64_t plugin_counter_or_zero(const Model& model, const std::string& name) {
  const auto counters = model.modules().at(0)->stats().plugin_counters;
  const auto found = counters.find(name);
  return found == counters.end() ? 0 : found->second;
}

// Nodes of the first module that ran `variant`.
inline uint64_t variant_nodes(const Model& model, const std::string& variant) {
  return plugin_counter_or_zero(model, "variant." + variant);
}

// "conv.onednn_split" -> "conv_onednn_split": a valid test name.
inline std::string test_name_of(std::string variant) {
  for (char& c : variant) c = c == '.' ? '_' : c;
  return variant;
}

}  // namespace rtscope::testing
