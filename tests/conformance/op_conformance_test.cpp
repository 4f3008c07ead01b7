// Every op of the op set on every bundled plugin that provides it, against
// the float64 reference, on seeded random inputs.
#include <gtest/gtest.h>

#include <set>

#include "conformance/op_cases.hpp"
#include "rtscope/model.hpp"
#include "rtscope/op_registry.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"

namespace rtscope::conformance {
namespace {

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

  ASSERT_NO_FATAL_FAILURE(
      expect_op_matches_reference(*model, graph, c, v.dtype, tolerance_for(v.dtype)));
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpConformance, ::testing::ValuesIn(variants()), variant_name);

}  // namespace
}  // namespace rtscope::conformance
