// The cpu plugin's grid_sample against the float64 reference: every mode,
// padding mode and align_corners, f32 and f16, on a grid whose points
// reach past the image (so every padding rule is exercised); and a hostile
// grid (NaN, infinities, huge values) gives finite zeros or NaNs, never an
// out-of-range read. Schema errors name the node.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

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
using ::testing::HasSubstr;

class CpuGridSample : public testing::WithCpuPlugin<::testing::Test> {
 protected:
  static std::unique_ptr<Model> build(DType dtype, const Shape& x, const Shape& grid,
                                      AttrMap attrs) {
    Graph g;
    g.name = "grid_sample";
    g.inputs.push_back({"x", {dtype, fixed_shape(x)}, {}});
    g.inputs.push_back({"grid", {dtype, fixed_shape(grid)}, {}});
    g.nodes = {{"sample", "grid_sample", {"x", "grid"}, {"y"}, std::move(attrs), {}}};
    g.outputs = {"y"};
    validate(g);
    return Model::build(std::move(g), *registry_, {.backends = {"cpu"}});
  }
};

TEST_F(CpuGridSample, EveryModeAndPaddingMatchesTheReference) {
  for (DType dtype : {DType::f32, DType::f16}) {
    for (const char* mode : {"bilinear", "nearest", "bicubic"}) {
      for (const char* padding : {"zeros", "border", "reflection"}) {
        for (int64_t align : {0, 1}) {
          SCOPED_TRACE(std::string(mode) + " " + padding + " align " + std::to_string(align) + " " +
                       std::string(to_string(dtype)));
          auto model = build(dtype, {2, 3, 5, 7}, {2, 4, 6, 2},
                             {{"mode", std::string(mode)},
                              {"padding_mode", std::string(padding)},
                              {"align_corners", align}});
          // Grid points in [-1.6, 1.6]: a third of them outside the image.
          const std::map<std::string, Tensor> inputs = {
              {"x", Tensor::random(dtype, {2, 3, 5, 7}, 31, 1.0)},
              {"grid", Tensor::random(dtype, {2, 4, 6, 2}, 32, 1.6)}};
          const auto outputs =
              testing::expect_matches_reference(*model, inputs, dtype == DType::f16 ? 1e-2 : 1e-5);
          EXPECT_EQ(outputs.at("y").shape(), (Shape{2, 3, 4, 6}));
        }
      }
    }
  }
}

TEST_F(CpuGridSample, HostileGridPointsReadNothingOutsideTheImage) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float grid_values[] = {nan, 0.0f, inf, -inf, 1e30f, -1e30f, 0.25f, nan};
  for (const char* mode : {"bilinear", "nearest", "bicubic"}) {
    for (const char* padding : {"zeros", "border", "reflection"}) {
      SCOPED_TRACE(std::string(mode) + " " + padding);
      auto model = build(DType::f32, {1, 1, 3, 3}, {1, 1, 4, 2},
                         {{"mode", std::string(mode)}, {"padding_mode", std::string(padding)}});
      Tensor grid = Tensor::empty(DType::f32, {1, 1, 4, 2});
      std::copy(std::begin(grid_values), std::end(grid_values), grid.data_as<float>());
      const Tensor y =
          model->run({{"x", Tensor::random(DType::f32, {1, 1, 3, 3}, 33, 1.0)}, {"grid", grid}})
              .at("y");
      ASSERT_EQ(y.numel(), 4);
      // Points with a NaN coordinate are NaN or zero; an infinite or huge
      // coordinate is zero outside, or a border or mirrored pixel: never
      // more than the image holds.
      for (int64_t i = 0; i < 4; ++i) {
        const float v = y.data_as<float>()[i];
        EXPECT_TRUE(std::isnan(v) || std::abs(v) <= 1.0f) << "point " << i << ": " << v;
      }
    }
  }
}

TEST_F(CpuGridSample, BadModesAndShapesNameTheNode) {
  auto error_of = [this](const Shape& grid, const std::string& mode) {
    try {
      build(DType::f32, {1, 2, 4, 4}, grid, {{"mode", mode}});
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_THAT(error_of({1, 3, 3, 2}, "area"),
              HasSubstr("mode 'area' is not one of bilinear, nearest, bicubic"));
  EXPECT_THAT(error_of({1, 3, 3, 3}, "bilinear"), HasSubstr("must end in 2 (x, y)"));
  EXPECT_THAT(error_of({2, 3, 3, 2}, "bilinear"), HasSubstr("batch dims of x and grid differ"));
  EXPECT_THAT(error_of({1, 3, 3, 2}, "area"), HasSubstr("sample"));
}

}  // namespace
}  // namespace rtscope
