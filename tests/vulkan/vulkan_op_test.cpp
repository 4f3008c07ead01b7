// Every op case of the conformance set on the Vulkan plugin, f32 and f16,
// against the float64 reference, with the validation layer on.
#include <gtest/gtest.h>

#include "conformance/op_cases.hpp"
#include "rtscope/model.hpp"
#include "rtscope/op_registry.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using conformance::OpCase;

conformance::Tolerance tolerance_for(DType dtype) {
  // f32: shaders accumulate in f32 (the reference in f64) and use the GPU's
  // exp/sin/cos; f16: storage rounding of inputs, intermediates and outputs.
  return dtype == DType::f16 ? conformance::Tolerance{2e-2, 2e-2}
                             : conformance::Tolerance{1e-4, 1e-4};
}

struct Variant {
  const OpCase* op_case;
  DType dtype;
};

// Readable parameters in test output and ctest names.
void PrintTo(const Variant& v, std::ostream* os) {
  *os << v.op_case->label << " " << to_string(v.dtype);
}

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  return info.param.op_case->label + "_" + std::string(to_string(info.param.dtype));
}

std::vector<Variant> variants() {
  std::vector<Variant> result;
  for (const auto& c : conformance::op_cases()) {
    result.push_back({&c, DType::f32});
    result.push_back({&c, DType::f16});
  }
  return result;
}

class VulkanOpConformance : public ::testing::TestWithParam<Variant> {
 protected:
  // One registry for the suite: loading the plugin (instance, device, and
  // the validation layer) once keeps the suite fast.
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry();
    load_ = load_vulkan(*registry_);
  }
  // Shut the plugin down here, not in static destructors at exit: by then
  // driver and layer libraries may have run their own destructors.
  static void TearDownTestSuite() {
    load_ = LoadResult{};
    delete registry_;
    registry_ = nullptr;
  }
  void SetUp() override {
    if (!load_.skip_reason.empty()) GTEST_SKIP() << load_.skip_reason;
    ASSERT_TRUE(load_.failure.empty()) << "loading the vulkan plugin failed: " << load_.failure;
  }
  static PluginRegistry* registry_;
  static LoadResult load_;
};

PluginRegistry* VulkanOpConformance::registry_ = nullptr;
LoadResult VulkanOpConformance::load_;

TEST_P(VulkanOpConformance, MatchesFloat64Reference) {
  const Variant& v = GetParam();
  const OpCase& c = *v.op_case;
  Graph graph = conformance::single_op_graph(c, v.dtype);
  auto model = Model::build(graph, *registry_, {.backends = {"vulkan"}});
  ASSERT_EQ(model->modules().size(), 1u);
  ASSERT_EQ(model->modules()[0]->plugin().id(), "vulkan");

  ASSERT_NO_FATAL_FAILURE(
      conformance::expect_op_matches_reference(*model, graph, c, v.dtype, tolerance_for(v.dtype)));
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "executes"), 2u);
  EXPECT_EQ(counter(module, "submits"), 2u) << "one submit per execute";
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(AllOps, VulkanOpConformance, ::testing::ValuesIn(variants()),
                         variant_name);

}  // namespace
}  // namespace rtscope::vulkan_testing
