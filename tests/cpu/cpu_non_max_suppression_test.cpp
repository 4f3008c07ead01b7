// The cpu plugin's non_max_suppression: hand-worked selections (overlap,
// score threshold, per-class limit, NaN scores, boxes of no area), then
// seeded random boxes in both box formats against the float64 reference,
// f32 and f16, with the output's row count following the data.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "rtscope/graph.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/tensor.hpp"
#include "support/cpu_variants.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using testing::fixed_shape;

class CpuNonMaxSuppression : public testing::WithCpuPlugin<::testing::Test> {
 protected:
  std::unique_ptr<Model> build(DType dtype, int64_t batches, int64_t classes, int64_t boxes,
                               AttrMap attrs) {
    Graph g;
    g.name = "nms";
    g.inputs.push_back({"boxes", {dtype, fixed_shape({batches, boxes, 4})}, {}});
    g.inputs.push_back({"scores", {dtype, fixed_shape({batches, classes, boxes})}, {}});
    g.nodes = {{"nms", "non_max_suppression", {"boxes", "scores"}, {"selected"}, attrs, {}}};
    g.outputs = {"selected"};
    validate(g);
    return Model::build(std::move(g), *registry_, {.backends = {"cpu"}});
  }

  // The selected [batch, class, box] rows.
  static std::vector<std::vector<int64_t>> rows(const Tensor& selected) {
    std::vector<std::vector<int64_t>> out;
    const int64_t* p = selected.data_as<int64_t>();
    for (int64_t r = 0; r < selected.shape()[0]; ++r)
      out.push_back({p[3 * r], p[3 * r + 1], p[3 * r + 2]});
    return out;
  }

  static Tensor floats(const Shape& shape, const std::vector<float>& values) {
    Tensor t = Tensor::empty(DType::f32, shape);
    std::copy(values.begin(), values.end(), t.data_as<float>());
    return t;
  }
};

// Boxes [y1, x1, y2, x2]: A (0.9) and B (0.8) overlap by IoU 0.9 / 1.1;
// C (0.7) is apart; D has no area; E's score is NaN.
TEST_F(CpuNonMaxSuppression, HandWorkedSelections) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const Tensor boxes = floats({1, 5, 4}, {0,    0,    1,    1,     //
                                          0,    0.1f, 1,    1.1f,  //
                                          0,    2,    1,    3,     //
                                          0.5f, 0.5f, 0.5f, 0.5f,  //
                                          0,    0,    1,    1});
  const Tensor scores = floats({1, 1, 5}, {0.9f, 0.8f, 0.7f, 0.95f, nan});
  auto run = [&](AttrMap attrs) {
    return rows(build(DType::f32, 1, 1, 5, std::move(attrs))
                    ->run({{"boxes", boxes}, {"scores", scores}})
                    .at("selected"));
  };
  using Rows = std::vector<std::vector<int64_t>>;
  // D scores highest and suppresses nothing (no area); B falls to A.
  EXPECT_EQ(run({{"max_output_boxes_per_class", int64_t{10}}, {"iou_threshold", 0.5}}),
            (Rows{{0, 0, 3}, {0, 0, 0}, {0, 0, 2}}));
  // Above IoU 0.85 nothing suppresses B.
  EXPECT_EQ(run({{"max_output_boxes_per_class", int64_t{10}}, {"iou_threshold", 0.85}}),
            (Rows{{0, 0, 3}, {0, 0, 0}, {0, 0, 1}, {0, 0, 2}}));
  EXPECT_EQ(run({{"max_output_boxes_per_class", int64_t{2}}, {"iou_threshold", 0.5}}),
            (Rows{{0, 0, 3}, {0, 0, 0}}));
  EXPECT_EQ(run({{"max_output_boxes_per_class", int64_t{10}},
                 {"iou_threshold", 0.5},
                 {"score_threshold", 0.92}}),
            (Rows{{0, 0, 3}}));
  // A threshold no score passes: no row.
  EXPECT_TRUE(
      run({{"max_output_boxes_per_class", int64_t{10}}, {"score_threshold", 0.99}}).empty());
}

TEST_F(CpuNonMaxSuppression, RandomBoxesMatchTheReference) {
  for (DType dtype : {DType::f32, DType::f16}) {
    for (int64_t center : {0, 1}) {
      SCOPED_TRACE(std::string(to_string(dtype)) + " center_point_box " + std::to_string(center));
      auto model = build(dtype, 2, 3, 24,
                         {{"center_point_box", center},
                          {"max_output_boxes_per_class", int64_t{6}},
                          {"iou_threshold", 0.3},
                          {"score_threshold", -0.5}});
      const std::map<std::string, Tensor> inputs = {
          {"boxes", Tensor::random(dtype, {2, 24, 4}, 41, 2.0)},
          {"scores", Tensor::random(dtype, {2, 3, 24}, 42, 1.0)}};
      const Tensor got = model->run(inputs).at("selected");
      const reference::RefTensor expected =
          testing::reference_outputs(model->graph(), inputs).at("selected");
      ASSERT_EQ(got.shape(), expected.shape);
      EXPECT_EQ(got.to_doubles(), expected.data);
      EXPECT_GT(got.shape()[0], 6) << "most classes keep several boxes";
      EXPECT_LE(got.shape()[0], 2 * 3 * 6);
    }
  }
}

TEST_F(CpuNonMaxSuppression, NanBoxesSelectOnlyValidIndices) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const Tensor boxes = floats({1, 3, 4}, {nan, 0, 1, 1, 0, -inf, inf, 1, 0, 0, 1, 1});
  const Tensor scores = floats({1, 2, 3}, {0.5f, 0.6f, 0.7f, inf, -inf, 0.1f});
  auto model = build(DType::f32, 1, 2, 3,
                     {{"max_output_boxes_per_class", int64_t{3}}, {"iou_threshold", 0.5}});
  for (const auto& row : rows(model->run({{"boxes", boxes}, {"scores", scores}}).at("selected"))) {
    EXPECT_EQ(row[0], 0);
    EXPECT_TRUE(row[1] == 0 || row[1] == 1);
    EXPECT_TRUE(row[2] >= 0 && row[2] < 3);
  }
}

}  // namespace
}  // namespace rtscope
