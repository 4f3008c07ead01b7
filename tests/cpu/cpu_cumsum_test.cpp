// The cpu plugin's cumsum against the float64 reference on seeded inputs:
// every dtype it takes, every axis of a rank-3 tensor, exclusive and
// reverse. Integer sums are exact beyond 2^53, where a double is not.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
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

class CpuCumsum : public testing::WithCpuPlugin<::testing::Test> {
 protected:
  std::unique_ptr<Model> build(DType dtype, const Shape& shape, AttrMap attrs) {
    Graph g;
    g.name = "cumsum";
    g.inputs.push_back({"x", {dtype, fixed_shape(shape)}, {}});
    g.nodes = {{"sums", "cumsum", {"x"}, {"y"}, std::move(attrs), {}}};
    g.outputs = {"y"};
    validate(g);
    return Model::build(std::move(g), *registry_, {.backends = {"cpu"}});
  }
};

TEST_F(CpuCumsum, EveryDtypeAxisAndDirectionMatchesTheReference) {
  for (DType dtype : {DType::f32, DType::f16, DType::i32, DType::i64}) {
    for (int64_t axis : {0, 1, -1}) {
      for (int64_t exclusive : {0, 1}) {
        for (int64_t reverse : {0, 1}) {
          SCOPED_TRACE(std::string(to_string(dtype)) + " axis " + std::to_string(axis) +
                       " exclusive " + std::to_string(exclusive) + " reverse " +
                       std::to_string(reverse));
          auto model = build(dtype, {3, 5, 4},
                             {{"axis", axis}, {"exclusive", exclusive}, {"reverse", reverse}});
          const std::map<std::string, Tensor> inputs = {
              {"x", Tensor::random(dtype, {3, 5, 4}, 61, 50.0)}};
          const Tensor got = model->run(inputs).at("y");
          const reference::RefTensor expected =
              testing::reference_outputs(model->graph(), inputs).at("y");
          ASSERT_EQ(got.dtype(), dtype);
          if (dtype == DType::i32 || dtype == DType::i64) {
            EXPECT_EQ(got.to_doubles(), expected.data);
          } else {
            const double tolerance = dtype == DType::f16 ? 2e-3 : 1e-6;
            EXPECT_LE(reference::closeness(got, expected, tolerance, tolerance), 1.0);
          }
        }
      }
    }
  }
}

TEST_F(CpuCumsum, Int64SumsStayExactBeyondDoublePrecision) {
  auto model = build(DType::i64, {3}, {{"axis", int64_t{0}}});
  Tensor x = Tensor::empty(DType::i64, {3});
  const int64_t big = (int64_t{1} << 60) + 1;
  x.data_as<int64_t>()[0] = big;
  x.data_as<int64_t>()[1] = 1;
  x.data_as<int64_t>()[2] = -big;
  const Tensor y = model->run({{"x", x}}).at("y");
  EXPECT_EQ(y.data_as<int64_t>()[0], big);
  EXPECT_EQ(y.data_as<int64_t>()[1], big + 1);
  EXPECT_EQ(y.data_as<int64_t>()[2], 1);
}

TEST_F(CpuCumsum, BoolIsRefusedNamingTheNode) {
  try {
    build(DType::boolean, {4}, {{"axis", int64_t{0}}});
    ADD_FAILURE() << "no error";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("sums"));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("must be a number, not bool"));
  }
}

}  // namespace
}  // namespace rtscope
