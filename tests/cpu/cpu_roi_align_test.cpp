// The cpu plugin's roi_align against the float64 reference: avg and max,
// both coordinate modes, adaptive and fixed sampling, a spatial scale, and
// regions reaching past the image, in f32 and f16. A hand-worked region
// pins the sampling down independently of the shared function; hostile
// regions (NaN, huge) stay bounded, and a batch index outside the input is
// one error line naming the node.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "rtscope/graph.hpp"
#include "rtscope/half.hpp"
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
using ::testing::HasSubstr;

class CpuRoiAlign : public testing::WithCpuPlugin<::testing::Test> {
 protected:
  std::unique_ptr<Model> build(DType dtype, const Shape& x, int64_t regions, AttrMap attrs) {
    Graph g;
    g.name = "roi_align";
    g.inputs.push_back({"x", {dtype, fixed_shape(x)}, {}});
    g.inputs.push_back({"rois", {dtype, fixed_shape({regions, 4})}, {}});
    g.inputs.push_back({"batch", {DType::i64, fixed_shape({regions})}, {}});
    g.nodes = {{"pool", "roi_align", {"x", "rois", "batch"}, {"y"}, std::move(attrs), {}}};
    g.outputs = {"y"};
    validate(g);
    return Model::build(std::move(g), *registry_, {.backends = {"cpu"}});
  }

  static Tensor values(DType dtype, const Shape& shape, const std::vector<double>& v) {
    Tensor t = Tensor::empty(dtype, shape);
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (dtype == DType::f32) {
        t.data_as<float>()[i] = static_cast<float>(v[i]);
      } else {
        t.data_as<uint16_t>()[i] = float_to_half(static_cast<float>(v[i]));
      }
    }
    return t;
  }
};

TEST_F(CpuRoiAlign, EveryModeMatchesTheReference) {
  // Regions in 8x10 image pixels (x1, y1, x2, y2) before the 0.5 scale of
  // a 4x5 feature map: inside, past the right and bottom edges, tiny, and
  // with its corners swapped.
  const std::vector<double> rois = {1, 1, 7, 5, 4, 2, 13, 11, 2.5, 2.5, 3, 3, 6, 6, 2, 1};
  for (DType dtype : {DType::f32, DType::f16}) {
    for (const char* mode : {"avg", "max"}) {
      for (const char* transform : {"half_pixel", "output_half_pixel"}) {
        for (int64_t ratio : {0, 2}) {
          SCOPED_TRACE(std::string(mode) + " " + transform + " ratio " + std::to_string(ratio) +
                       " " + std::string(to_string(dtype)));
          auto model = build(dtype, {2, 3, 4, 5}, 4,
                             {{"mode", std::string(mode)},
                              {"coordinate_transformation_mode", std::string(transform)},
                              {"output_height", int64_t{3}},
                              {"output_width", int64_t{2}},
                              {"sampling_ratio", ratio},
                              {"spatial_scale", 0.5}});
          Tensor batch = Tensor::empty(DType::i64, {4});
          const int64_t entries[] = {0, 1, 1, 0};
          std::copy(std::begin(entries), std::end(entries), batch.data_as<int64_t>());
          const std::map<std::string, Tensor> inputs = {
              {"x", Tensor::random(dtype, {2, 3, 4, 5}, 51, 1.0)},
              {"rois", values(dtype, {4, 4}, rois)},
              {"batch", batch}};
          const auto outputs =
              testing::expect_matches_reference(*model, inputs, dtype == DType::f16 ? 1e-2 : 1e-5);
          EXPECT_EQ(outputs.at("y").shape(), (Shape{4, 3, 3, 2}));
        }
      }
    }
  }
}

// A 1x1 bin over pixels [0, 2) x [0, 2) of the 3x3 ramp v = 1 + x + 2y,
// 2x2 samples at y, x in {0.5, 1.5} (output_half_pixel), averaged.
TEST_F(CpuRoiAlign, HandWorkedBinAveragesItsSamples) {
  auto model = build(DType::f32, {1, 1, 3, 3}, 1,
                     {{"coordinate_transformation_mode", std::string("output_half_pixel")},
                      {"sampling_ratio", int64_t{2}}});
  Tensor x = Tensor::empty(DType::f32, {1, 1, 3, 3});
  for (int64_t y = 0; y < 3; ++y) {
    for (int64_t c = 0; c < 3; ++c) x.data_as<float>()[y * 3 + c] = float(1 + c + 2 * y);
  }
  Tensor batch = Tensor::zeros(DType::i64, {1});
  const Tensor y =
      model->run({{"x", x}, {"rois", values(DType::f32, {1, 4}, {0, 0, 2, 2})}, {"batch", batch}})
          .at("y");
  // Samples: 1 + 0.5 + 1 = 2.5, 1 + 1.5 + 1 = 3.5, 1 + 0.5 + 3 = 4.5,
  // 1 + 1.5 + 3 = 5.5; their mean 4.
  EXPECT_NEAR(y.data_as<float>()[0], 4.0f, 1e-6f);
}

TEST_F(CpuRoiAlign, HostileRegionsStayBoundedAndBadBatchIndicesNameTheNode) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  auto model = build(DType::f32, {1, 2, 6, 6}, 3, {{"output_height", int64_t{2}}});
  Tensor batch = Tensor::zeros(DType::i64, {3});
  const Tensor x = Tensor::random(DType::f32, {1, 2, 6, 6}, 52, 1.0);
  const Tensor rois =
      values(DType::f32, {3, 4}, {nan, 0, 1, 1, -1e30, -1e30, 1e30, 1e30, 0, 0, 4, 4});
  const Tensor y = model->run({{"x", x}, {"rois", rois}, {"batch", batch}}).at("y");
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float v = y.data_as<float>()[i];
    EXPECT_TRUE(std::isnan(v) || std::abs(v) <= 1.0f) << i << ": " << v;
  }
  batch.data_as<int64_t>()[2] = 1;
  try {
    model->run({{"x", x}, {"rois", rois}, {"batch", batch}});
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("pool"));
    EXPECT_THAT(e.what(), HasSubstr("batch index 1 of region 2 is outside [0, 1)"));
  }
}

}  // namespace
}  // namespace rtscope
