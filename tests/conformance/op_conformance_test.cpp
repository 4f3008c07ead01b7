// Every op of the op set on every bundled plugin that provides it, against
// the float64 reference, on seeded random inputs.
#include <gtest/gtest.h>

#include <set>

#include "rtscope/conformance/op_cases.hpp"
#include "rtscope/model.hpp"
#include "rtscope/op_registry.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"

namespace rtscope::conformance {
namespace {

struct Tolerance {
  double atol;
  double rtol;
};

Tolerance tolerance_for(DType dtype) {
  // f16 outputs carry ~1e-3 relative rounding plus f16-rounded
  // intermediates; f32 kernels accumulate in f32 over at most a few hundred
  // terms.
  return dtype == DType::f16 ? Tolerance{2e-2, 2e-2} : Tolerance{2e-5, 2e-4};
}

struct Variant {
  std::string plugin;
  const OpCase* op_case;
  DType dtype;
};

std::string variant_name(const ::testing::TestParamInfo<Variant>& info) {
  return info.param.plugin + "_" + info.param.op_case->label + "_" +
         std::string(to_string(info.param.dtype));
}

// The ops each bundled plugin provides, by contract.
std::vector<Variant> variants() {
  const std::set<std::string> testing_ops = {"add", "mul", "scale", "relu"};
  std::vector<Variant> result;
  for (const auto& c : op_cases()) {
    result.push_back({"cpu", &c, DType::f32});
    result.push_back({"cpu", &c, DType::f16});
    if (testing_ops.count(c.op)) result.push_back({"testing", &c, DType::f32});
  }
  return result;
}

class OpConformance : public ::testing::TestWithParam<Variant> {
 protected:
  static void SetUpTestSuite() {
    registry_ = new PluginRegistry();
    registry_->load({.name = "cpu"});
    registry_->load({.name = "testing"});
  }
  static void TearDownTestSuite() {
    delete registry_;
    registry_ = nullptr;
  }
  static PluginRegistry* registry_;
};

PluginRegistry* OpConformance::registry_ = nullptr;

TEST_P(OpConformance, MatchesFloat64Reference) {
  const Variant& v = GetParam();
  const OpCase& c = *v.op_case;
  Graph graph = single_op_graph(c, v.dtype);
  auto model = Model::build(graph, *registry_, {.backends = {v.plugin}});
  ASSERT_EQ(model->modules().size(), 1u);
  EXPECT_EQ(model->modules()[0]->plugin().id(), v.plugin);

  for (uint64_t seed : {1u, 2u}) {
    const auto inputs = random_inputs(c, v.dtype, seed * 1000);
    // Taken before running: in-place ops write into their aliased input.
    std::vector<reference::RefTensor> ref_inputs;
    for (const auto& in : c.inputs)
      ref_inputs.push_back(reference::RefTensor::from(inputs.at(in.name)));
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
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpConformance, ::testing::ValuesIn(variants()), variant_name);

}  // namespace
}  // namespace rtscope::conformance
