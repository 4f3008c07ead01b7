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

struct Tolerance {
  double atol;
  double rtol;
};

Tolerance tolerance_for(DType dtype) {
  // f32: shaders accumulate in f32 (the reference in f64) and use the GPU's
  // exp/sin/cos; f16: storage rounding of inputs, intermediates and outputs.
  return dtype == DType::f16 ? Tolerance{2e-2, 2e-2} : Tolerance{1e-4, 1e-4};
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

  for (uint64_t seed : {1u, 2u}) {
    const auto inputs = conformance::random_inputs(c, v.dtype, seed * 1000);
    // Taken before running: in-place ops write into their aliased input.
    std::vector<reference::RefTensor> ref_inputs;
    for (const auto& in : c.inputs) {
      ref_inputs.push_back(reference::RefTensor::from(inputs.at(in.name)));
    }
    const auto actual = model->run(inputs);
    const auto expected =
        reference::run_op(c.op, ref_inputs, resolve_attrs(*find_op(c.op), c.attrs));
    ASSERT_EQ(expected.size(), static_cast<std::size_t>(c.outputs));

    const Tolerance tol = tolerance_for(v.dtype);
    for (int o = 0; o < c.outputs; ++o) {
      const Tensor& out = actual.at("out" + std::to_string(o));
      ASSERT_EQ(out.shape(), expected[o].shape) << "output " << o;
      EXPECT_EQ(out.dtype(), graph.type_of("out" + std::to_string(o)).dtype);
      const double worst = reference::closeness(out, expected[o], tol.atol, tol.rtol);
      EXPECT_LE(worst, 1.0) << c.op << " output " << o << " seed " << seed << ": worst error is "
                            << worst << "x the tolerance";
    }
  }
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "executes"), 2u);
  EXPECT_EQ(counter(module, "submits"), 2u) << "one submit per execute";
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(AllOps, VulkanOpConformance, ::testing::ValuesIn(variants()),
                         variant_name);

}  // namespace
}  // namespace rtscope::vulkan_testing
