// The cpu plugin's det: hand-worked determinants (diagonal, a row swap's
// sign, singular), then seeded batches of matrices against the float64
// reference in f32 and f16.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

class CpuDet : public testing::WithCpuPlugin<::testing::Test> {
 protected:
  std::unique_ptr<Model> build(DType dtype, const Shape& shape) {
    Graph g;
    g.name = "det";
    g.inputs.push_back({"x", {dtype, fixed_shape(shape)}, {}});
    g.nodes = {{"det", "det", {"x"}, {"y"}, {}, {}}};
    g.outputs = {"y"};
    validate(g);
    return Model::build(std::move(g), *registry_, {.backends = {"cpu"}});
  }
};

TEST_F(CpuDet, HandWorkedDeterminants) {
  auto model = build(DType::f32, {3, 2, 2});
  Tensor x = Tensor::empty(DType::f32, {3, 2, 2});
  const float values[] = {2, 0, 0, 3,   // diagonal: 6
                          0, 1, 1, 0,   // a row swap of the identity: -1
                          1, 2, 2, 4};  // singular: 0
  std::copy(std::begin(values), std::end(values), x.data_as<float>());
  const Tensor y = model->run({{"x", x}}).at("y");
  ASSERT_EQ(y.shape(), (Shape{3}));
  EXPECT_FLOAT_EQ(y.data_as<float>()[0], 6.0f);
  EXPECT_FLOAT_EQ(y.data_as<float>()[1], -1.0f);
  EXPECT_FLOAT_EQ(y.data_as<float>()[2], 0.0f);
}

TEST_F(CpuDet, BatchesMatchTheReference) {
  for (DType dtype : {DType::f32, DType::f16}) {
    for (const Shape& shape : {Shape{5, 5}, Shape{2, 3, 4, 4}}) {
      SCOPED_TRACE(std::string(to_string(dtype)) + " " + shape_to_string(shape));
      auto model = build(dtype, shape);
      const std::map<std::string, Tensor> inputs = {{"x", Tensor::random(dtype, shape, 81, 2.0)}};
      testing::expect_matches_reference(*model, inputs, dtype == DType::f16 ? 1e-2 : 1e-5);
    }
  }
}

}  // namespace
}  // namespace rtscope
