// An argmax over an f16 projection's columns (a decode step's next token)
// runs inside the projection's matvec_t dispatch: each row's first maximal
// index, through 32-bit keys per page of 65536 columns. Checked against
// the float64 reference where the winner is planted (several equal
// columns, so only the first index is right, in one page or across two),
// and against the device's own logits where it is not (the index an
// argmax of what the projection stored would give). Cases the fusion does
// not take (too many rows, f32) still match.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "rtscope/half.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/fusion_check.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

constexpr int64_t kInner = 48;

struct ArgmaxFusionCase {
  DType dtype;
  int64_t rows;
  int64_t columns;
  bool norm;                     // the projection reads rmsnorm(x, gain)
  bool logits_out;               // the logits are an output too
  std::vector<int64_t> planted;  // equal winning columns; none: seeded weights alone
  uint64_t fused;                // argmaxes fused per execute
};

void PrintTo(const ArgmaxFusionCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16 " : "f32 ") << c.rows << "x" << c.columns
       << (c.norm ? ", normed" : "") << (c.logits_out ? ", logits out" : "")
       << (c.planted.empty() ? ", seeded" : ", planted");
}

using VulkanArgmaxFusion = VulkanCaseTest<ArgmaxFusionCase>;

// Element (k, j) of a [kInner, columns] weight, as float.
float weight_at(const Tensor& w, int64_t columns, int64_t k, int64_t j) {
  const size_t at = static_cast<size_t>(k * columns + j);
  return w.dtype() == DType::f16 ? half_to_float(static_cast<const uint16_t*>(w.data())[at])
                                 : static_cast<const float*>(w.data())[at];
}

void set_weight(Tensor& w, int64_t columns, int64_t k, int64_t j, float value) {
  const size_t at = static_cast<size_t>(k * columns + j);
  if (w.dtype() == DType::f16) {
    static_cast<uint16_t*>(w.data())[at] = float_to_half(value);
  } else {
    static_cast<float*>(w.data())[at] = value;
  }
}

// Seeded inputs in (0, 1): with every weight of a planted column 1 and the
// others in (-0.5, 0.5), the planted columns win every row by far.
Tensor positive_input(const ArgmaxFusionCase& c) {
  Tensor x = Tensor::random(c.dtype, {c.rows, kInner}, 91);
  for (int64_t i = 0; i < c.rows * kInner; ++i) {
    if (c.dtype == DType::f16) {
      auto* bits = static_cast<uint16_t*>(x.data());
      bits[i] = float_to_half(std::abs(half_to_float(bits[i])) + 0.01f);
    } else {
      auto* values = static_cast<float*>(x.data());
      values[i] = std::abs(values[i]) + 0.01f;
    }
  }
  return x;
}

TEST_P(VulkanArgmaxFusion, PicksTheFirstMaximalColumnOfEachRow) {
  const ArgmaxFusionCase c = GetParam();
  Tensor w = Tensor::random(c.dtype, {kInner, c.columns}, 92, 0.5);
  for (int64_t j : c.planted) {
    for (int64_t k = 0; k < kInner; ++k) set_weight(w, c.columns, k, j, 1.0f);
  }
  WeightInit planted;
  planted.kind = WeightInit::Kind::tensor;
  planted.data = w;
  testing::GraphBuilder g("argmax_fusion");
  g.input("x", c.dtype, {c.rows, kInner}).weight("w", c.dtype, {kInner, c.columns}, planted);
  const std::string n = optional_rmsnorm(g, c.norm, c.dtype, kInner, 93);
  g.node("head", "linear", {n, "w"}, "logits")
      .node("pick", "argmax", {"logits"}, "token", {{"axis", int64_t{-1}}})
      .outputs({"token"});
  if (c.logits_out) g.outputs({"logits"});
  auto model = build(g.build());
  const std::map<std::string, Tensor> inputs{{"x", positive_input(c)}};

  if (c.planted.empty()) {
    // No clear winner: the index must be what an argmax of the logits the
    // projection stored gives (ties to the first), and the logits right.
    ASSERT_TRUE(c.logits_out);
    const auto expected = testing::reference_outputs(model->graph(), inputs);
    const auto outputs = model->run(inputs);
    EXPECT_LE(reference::closeness(outputs.at("logits"), expected.at("logits"), 2e-2, 2e-2), 1.0);
    const Tensor& logits = outputs.at("logits");
    const auto* token = static_cast<const int64_t*>(outputs.at("token").data());
    for (int64_t r = 0; r < c.rows; ++r) {
      int64_t best = 0;
      for (int64_t j = 1; j < c.columns; ++j) {
        if (weight_at(logits, c.columns, r, j) > weight_at(logits, c.columns, r, best)) best = j;
      }
      EXPECT_EQ(token[r], best) << "row " << r;
    }
    const Module& module = *model->modules()[0];
    EXPECT_EQ(counter(module, "fused_argmaxes"), c.fused);
    expect_no_validation_errors(*model);
    return;
  }
  const auto outputs = testing::expect_matches_reference(*model, inputs, 2e-2);
  const auto* token = static_cast<const int64_t*>(outputs.at("token").data());
  const int64_t first = *std::min_element(c.planted.begin(), c.planted.end());
  for (int64_t r = 0; r < c.rows; ++r) EXPECT_EQ(token[r], first) << "row " << r;
  // Twice more: the keys and the count the dispatch leaves behind are zero
  // again, or the next execute would see this one's winner.
  for (int run = 0; run < 2; ++run) {
    const auto again = model->run(inputs);
    const auto* next = static_cast<const int64_t*>(again.at("token").data());
    for (int64_t r = 0; r < c.rows; ++r) EXPECT_EQ(next[r], first) << "run " << run << " row " << r;
  }
  expect_fused_or_not(registry_, *model, inputs, 2e-2, c.fused > 0,
                      {{"fused_argmaxes", c.fused * 4}});
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanArgmaxFusion,
    ::testing::Values(
        // A vocabulary on one row: ties in one workgroup, in the next
        // workgroup, and far off.
        ArgmaxFusionCase{DType::f16, 1, 32000, true, true, {20001, 1234, 1235, 1242}, 1},
        ArgmaxFusionCase{DType::f16, 1, 32000, false, true, {}, 1},
        // Two pages: the winner in the second, then equal in both.
        ArgmaxFusionCase{DType::f16, 4, 70000, true, false, {65543, 65600, 69999}, 1},
        ArgmaxFusionCase{DType::f16, 3, 70000, false, false, {65536 + 17, 17}, 1},
        // One row over more workgroups than kMatvecMaxGroups: each loops.
        ArgmaxFusionCase{DType::f16, 1, 70000, false, false, {69000, 66000}, 1},
        // Every stream of a batched step (split K), and row blocks.
        ArgmaxFusionCase{DType::f16, 16, 3000, true, true, {}, 1},
        ArgmaxFusionCase{DType::f16, 8, 3000, true, true, {2999, 2000}, 1},
        // Not fused: more rows than the keys have room for, and f32.
        ArgmaxFusionCase{DType::f16, 17, 600, true, true, {100, 101}, 0},
        ArgmaxFusionCase{DType::f32, 2, 600, true, true, {}, 0}));

}  // namespace
}  // namespace rtscope::vulkan_testing
