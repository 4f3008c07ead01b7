// materialize_weights(): a model's weights in one call, seeded ones in one
// shared allocation and shared with another model that holds the same ones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rtscope/error.hpp"
#include "rtscope/graph.hpp"

namespace rtscope {
namespace {

Weight seeded_weight(std::string name, DType dtype, std::vector<int64_t> dims, uint64_t seed) {
  Weight w;
  SymShape shape;
  for (int64_t dim : dims) shape.push_back(Dim::fixed(dim));
  w.info = ValueInfo{std::move(name), ValueType{dtype, std::move(shape)}, {}};
  w.init.seed = seed;
  w.init.scale = 0.25;
  w.init.offset = 0.5;
  return w;
}

Weight given_weight(std::string name, std::vector<double> values) {
  Weight w = seeded_weight(std::move(name), DType::f32, {static_cast<int64_t>(values.size())}, 0);
  w.init.kind = WeightInit::Kind::tensor;
  std::vector<float> floats(values.begin(), values.end());
  w.init.data =
      Tensor::from_bytes(DType::f32, {static_cast<int64_t>(values.size())}, floats.data());
  return w;
}

std::vector<const Weight*> pointers(const std::vector<Weight>& weights) {
  std::vector<const Weight*> out;
  for (const Weight& w : weights) out.push_back(&w);
  return out;
}

TEST(MaterializeWeights, GivesEachWeightTheValuesMaterializeWeightGives) {
  // Small and large (over 2 MiB: the huge-page path), f32 and f16, and a
  // given tensor between them: the order of the weights is kept.
  const std::vector<Weight> weights = {
      seeded_weight("embed", DType::f32, {97, 33}, 3),
      given_weight("bias", {1.5, -2.0, 0.25}),
      seeded_weight("big", DType::f32, {1100, 600}, 3),
      seeded_weight("half", DType::f16, {1300, 700}, 9),
  };
  const std::vector<Tensor> tensors = materialize_weights(pointers(weights));
  ASSERT_EQ(tensors.size(), weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    SCOPED_TRACE(weights[i].info.name);
    const Tensor alone = materialize_weight(weights[i]);
    EXPECT_EQ(tensors[i].dtype(), alone.dtype());
    EXPECT_EQ(tensors[i].shape(), alone.shape());
    EXPECT_EQ(tensors[i].to_doubles(), alone.to_doubles());
    EXPECT_EQ(reinterpret_cast<uintptr_t>(tensors[i].data()) % 64, 0u);
  }
  EXPECT_THAT(tensors[1].to_doubles(), ::testing::ElementsAre(1.5, -2.0, 0.25));
}

TEST(MaterializeWeights, ASecondModelSharesTheSeededWeightsTheFirstHolds) {
  const std::vector<Weight> first = {seeded_weight("share.a", DType::f32, {64, 32}, 11),
                                     seeded_weight("share.b", DType::f16, {16}, 11)};
  // The same weights, plus one that differs from share.a only by its seed.
  const std::vector<Weight> second = {seeded_weight("share.b", DType::f16, {16}, 11),
                                      seeded_weight("share.a", DType::f32, {64, 32}, 11),
                                      seeded_weight("share.a", DType::f32, {64, 32}, 12)};
  const std::vector<Tensor> held = materialize_weights(pointers(first));
  const std::vector<Tensor> again = materialize_weights(pointers(second));
  EXPECT_EQ(again[0].data(), held[1].data());
  EXPECT_EQ(again[1].data(), held[0].data());
  EXPECT_NE(again[2].data(), held[0].data());
  EXPECT_NE(again[2].to_doubles(), held[0].to_doubles());
}

TEST(MaterializeWeights, GeneratesAgainOnceNoModelHoldsThem) {
  const std::vector<Weight> weights = {seeded_weight("fresh.w", DType::f32, {1024, 1024}, 5)};
  std::vector<double> values;
  {
    // A model that writes nothing to its weights, then goes: its storage
    // is freed, and the next model must not be handed it.
    const std::vector<Tensor> tensors = materialize_weights(pointers(weights));
    values = tensors[0].to_doubles();
  }
  const std::vector<Tensor> tensors = materialize_weights(pointers(weights));
  EXPECT_EQ(tensors[0].to_doubles(), values);
  EXPECT_EQ(tensors[0].to_doubles(), materialize_weight(weights[0]).to_doubles());
}

TEST(MaterializeWeights, AnImpossibleSizeNamesTheWeight) {
  const std::vector<Weight> weights = {
      seeded_weight("huge.w", DType::f32, {int64_t{1} << 40, int64_t{1} << 20}, 1)};
  try {
    materialize_weights(pointers(weights));
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("huge.w"));
  }
}

}  // namespace
}  // namespace rtscope
