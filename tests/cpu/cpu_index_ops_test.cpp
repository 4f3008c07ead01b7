// The cpu plugin's mod, top_k, scatter_elements, scatter_nd and gather_nd
// against the float64 reference on seeded non-zero inputs (every dtype
// each op takes, negative and duplicate indices, every reduction), and
// indices out of range: one error line naming the node, never a stray
// access.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>

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

using ::testing::AllOf;
using testing::fixed_shape;
using ::testing::HasSubstr;

class CpuIndexOps : public testing::WithCpuPlugin<::testing::Test> {
 protected:
  // One node `op` named "node" on inputs of the given types; output "y".
  static std::unique_ptr<Model> build(const std::string& op,
                                      const std::vector<std::pair<DType, Shape>>& inputs,
                                      AttrMap attrs) {
    Graph g;
    g.name = op;
    std::vector<std::string> names;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      names.push_back("in" + std::to_string(i));
      g.inputs.push_back({names.back(), {inputs[i].first, fixed_shape(inputs[i].second)}, {}});
    }
    g.nodes = {{"node", op, names, {"y"}, std::move(attrs), {}}};
    g.outputs = {"y"};
    validate(g);
    return Model::build(std::move(g), *registry_, {.backends = {"cpu"}});
  }

  // Runs `model` and compares "y" with the reference: exactly for
  // integers and moved elements, within `tolerance` for float arithmetic.
  static void expect_reference(Model& model, const std::vector<Tensor>& inputs,
                               double tolerance = 0.0) {
    std::map<std::string, Tensor> named;
    for (std::size_t i = 0; i < inputs.size(); ++i) named["in" + std::to_string(i)] = inputs[i];
    const Tensor got = model.run(named).at("y");
    const reference::RefTensor expected = testing::reference_outputs(model.graph(), named).at("y");
    ASSERT_EQ(got.shape(), expected.shape);
    ASSERT_EQ(got.dtype(), expected.dtype);
    if (tolerance == 0.0) {
      EXPECT_EQ(got.to_doubles(), expected.data);
    } else {
      EXPECT_LE(reference::closeness(got, expected, tolerance, tolerance), 1.0);
    }
  }

  // The message of the error running `model` raises; it must be one line.
  static std::string run_error(Model& model, const std::vector<Tensor>& inputs) {
    std::map<std::string, Tensor> named;
    for (std::size_t i = 0; i < inputs.size(); ++i) named["in" + std::to_string(i)] = inputs[i];
    try {
      model.run(named);
    } catch (const std::exception& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      return message;
    }
    ADD_FAILURE() << "the run succeeded";
    return {};
  }
};

// Integers of `dtype` from `values`.
Tensor integers(DType dtype, const Shape& shape, const std::vector<int64_t>& values) {
  Tensor t = Tensor::empty(dtype, shape);
  EXPECT_EQ(static_cast<std::size_t>(t.numel()), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::i64) {
      t.data_as<int64_t>()[i] = values[i];
    } else {
      t.data_as<int32_t>()[i] = static_cast<int32_t>(values[i]);
    }
  }
  return t;
}

// Seeded values of either sign, none zero: magnitudes in [1, range] for
// integers, [0.25, 0.25 + scale] for floats.
Tensor nonzero_mixed_sign(DType dtype, const Shape& shape, uint64_t seed, double scale) {
  std::mt19937_64 rng(seed);
  if (dtype == DType::i32 || dtype == DType::i64) {
    std::uniform_int_distribution<int64_t> magnitude(1, static_cast<int64_t>(scale));
    std::vector<int64_t> values;
    for (int64_t i = 0; i < element_count(shape); ++i) {
      values.push_back((rng() & 1) != 0 ? magnitude(rng) : -magnitude(rng));
    }
    return integers(dtype, shape, values);
  }
  const Tensor magnitudes = Tensor::random(DType::f32, shape, seed, scale);
  Tensor f32 = Tensor::empty(DType::f32, shape);
  for (int64_t i = 0; i < f32.numel(); ++i) {
    const float m = magnitudes.data_as<float>()[i];
    f32.data_as<float>()[i] = m < 0 ? m - 0.25f : m + 0.25f;
  }
  if (dtype == DType::f32) return f32;
  Tensor f16 = Tensor::empty(DType::f16, shape);
  for (int64_t i = 0; i < f16.numel(); ++i)
    f16.data_as<uint16_t>()[i] = float_to_half(f32.data_as<float>()[i]);
  return f16;
}

// Seeded indices in [-length, length) (negative ones count from the end).
Tensor random_indices(DType dtype, const Shape& shape, int64_t length, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int64_t> pick(-length, length - 1);
  std::vector<int64_t> values;
  for (int64_t i = 0; i < element_count(shape); ++i) values.push_back(pick(rng));
  return integers(dtype, shape, values);
}

TEST_F(CpuIndexOps, ModMatchesTheReferenceForEveryDtypeAndSignRule) {
  const Shape a_shape{3, 4, 5};
  const Shape b_shape{4, 1};  // broadcast
  for (DType dtype : {DType::f32, DType::f16, DType::i32, DType::i64}) {
    for (int64_t fmod : {0, 1}) {
      SCOPED_TRACE(std::string(to_string(dtype)) + " fmod " + std::to_string(fmod));
      auto model = build("mod", {{dtype, a_shape}, {dtype, b_shape}}, {{"fmod", fmod}});
      const bool integral = dtype == DType::i32 || dtype == DType::i64;
      for (uint64_t seed = 1; seed <= 3; ++seed) {
        expect_reference(*model,
                         {nonzero_mixed_sign(dtype, a_shape, seed, integral ? 50 : 8.0),
                          nonzero_mixed_sign(dtype, b_shape, seed + 100, integral ? 7 : 3.0)},
                         dtype == DType::f16 ? 2e-3 : (integral ? 0.0 : 1e-6));
      }
    }
  }
}

TEST_F(CpuIndexOps, ModSignRulesOnKnownValues) {
  auto floored = build("mod", {{DType::i64, {4}}, {DType::i64, {4}}}, {{"fmod", int64_t{0}}});
  auto truncated = build("mod", {{DType::i64, {4}}, {DType::i64, {4}}}, {{"fmod", int64_t{1}}});
  const Tensor a = integers(DType::i64, {4}, {7, -7, 7, -7});
  const Tensor b = integers(DType::i64, {4}, {3, 3, -3, -3});
  const auto at = [](const Tensor& t) {
    return std::vector<int64_t>(t.data_as<int64_t>(), t.data_as<int64_t>() + t.numel());
  };
  EXPECT_EQ(at(floored->run({{"in0", a}, {"in1", b}}).at("y")),
            (std::vector<int64_t>{1, 2, -2, -1}));
  EXPECT_EQ(at(truncated->run({{"in0", a}, {"in1", b}}).at("y")),
            (std::vector<int64_t>{1, -1, 1, -1}));
}

TEST_F(CpuIndexOps, IntegerModByZeroNamesTheNode) {
  auto model = build("mod", {{DType::i32, {3}}, {DType::i32, {3}}}, {});
  EXPECT_THAT(run_error(*model, {integers(DType::i32, {3}, {4, 5, 6}),
                                 integers(DType::i32, {3}, {2, 0, 1})}),
              AllOf(HasSubstr("'node'"), HasSubstr("division by zero")));
}

TEST_F(CpuIndexOps, TopKMatchesTheReferenceLargestAndSmallestOnAnyAxis) {
  const Shape shape{3, 7, 4};
  for (DType dtype : {DType::f32, DType::f16, DType::i64}) {
    for (int64_t axis : {1, -1, 0}) {
      for (int64_t largest : {0, 1}) {
        SCOPED_TRACE(std::string(to_string(dtype)) + " axis " + std::to_string(axis) + " largest " +
                     std::to_string(largest));
        const int64_t k = axis == 0 ? 2 : 3;
        auto model =
            build("top_k", {{dtype, shape}}, {{"k", k}, {"axis", axis}, {"largest", largest}});
        // Integers from a small range: ties, which keep their index order.
        expect_reference(*model, {nonzero_mixed_sign(dtype, shape, 7 + k, 3.0)});
      }
    }
  }
}

TEST_F(CpuIndexOps, TopKOrdersI64ValuesBeyondDoublePrecision) {
  // 2^53 + 1 and 2^53 are one double apart from nothing: compared as
  // doubles they tie and index order would win.
  constexpr int64_t kBig = int64_t{1} << 53;
  auto model = build("top_k", {{DType::i64, {4}}}, {{"k", int64_t{2}}, {"largest", int64_t{1}}});
  const Tensor got =
      model->run({{"in0", integers(DType::i64, {4}, {kBig, -3, kBig + 1, 5})}}).at("y");
  EXPECT_EQ(got.data_as<int64_t>()[0], 2);
  EXPECT_EQ(got.data_as<int64_t>()[1], 0);
}

TEST_F(CpuIndexOps, TopKWithKBeyondTheDimIsRejectedByTheSchema) {
  try {
    build("top_k", {{DType::f32, {2, 3}}}, {{"k", int64_t{4}}});
    FAIL() << "k 4 over a dim of 3 was accepted";
  } catch (const std::exception& e) {
    EXPECT_THAT(e.what(), HasSubstr("k 4 exceeds dim 1"));
  }
}

TEST_F(CpuIndexOps, ScatterElementsMatchesTheReferenceForEachReduction) {
  const Shape data{4, 5, 3};
  const Shape indices{4, 6, 3};  // duplicates along axis 1 (6 > 5)
  for (DType dtype : {DType::f32, DType::f16, DType::i32}) {
    for (const char* reduction : {"none", "add", "mul"}) {
      for (int64_t axis : {1, -2}) {
        SCOPED_TRACE(std::string(to_string(dtype)) + " " + reduction);
        auto model =
            build("scatter_elements", {{dtype, data}, {DType::i64, indices}, {dtype, indices}},
                  {{"axis", axis}, {"reduction", std::string(reduction)}});
        expect_reference(
            *model,
            {nonzero_mixed_sign(dtype, data, 3, 4.0), random_indices(DType::i64, indices, 5, 4),
             nonzero_mixed_sign(dtype, indices, 5, 4.0)},
            dtype == DType::f16 ? 2e-3 : (dtype == DType::i32 ? 0.0 : 1e-6));
      }
    }
  }
}

// Integer sums and products from a file's updates wrap around instead of
// overflowing (undefined behaviour, which the sanitizer builds would flag).
TEST_F(CpuIndexOps, IntegerReductionsWrapAround) {
  auto model = build("scatter_elements", {{DType::i32, {2}}, {DType::i64, {2}}, {DType::i32, {2}}},
                     {{"reduction", std::string("add")}});
  const Tensor out = model
                         ->run({{"in0", integers(DType::i32, {2}, {2147483647, -2147483647 - 1})},
                                {"in1", integers(DType::i64, {2}, {0, 1})},
                                {"in2", integers(DType::i32, {2}, {1, -1})}})
                         .at("y");
  EXPECT_EQ(out.data_as<int32_t>()[0], -2147483647 - 1);
  EXPECT_EQ(out.data_as<int32_t>()[1], 2147483647);
}

TEST_F(CpuIndexOps, ScatterNdMatchesTheReferenceForEachReduction) {
  const Shape data{4, 3, 5};
  const Shape indices{6, 2};  // 6 tuples into 12 rows: duplicates likely
  const Shape updates{6, 5};
  for (DType dtype : {DType::f32, DType::i64}) {
    for (const char* reduction : {"none", "add", "mul"}) {
      SCOPED_TRACE(std::string(to_string(dtype)) + " " + reduction);
      auto model = build("scatter_nd", {{dtype, data}, {DType::i32, indices}, {dtype, updates}},
                         {{"reduction", std::string(reduction)}});
      Tensor tuples = random_indices(DType::i32, indices, 3, 9);  // both dims in [-3, 3)
      expect_reference(*model,
                       {nonzero_mixed_sign(dtype, data, 10, 4.0), tuples,
                        nonzero_mixed_sign(dtype, updates, 11, 4.0)},
                       dtype == DType::i64 ? 0.0 : 1e-6);
    }
  }
}

TEST_F(CpuIndexOps, GatherNdMatchesTheReferenceWithAndWithoutBatchDims) {
  const Shape data{3, 4, 5, 2};
  for (int64_t batch_dims : {0, 1}) {
    // Tuples of 2 indices, whose dims are both [3, 4) after the batch dims.
    const Shape indices = batch_dims == 0 ? Shape{2, 4, 2} : Shape{3, 4, 2};
    SCOPED_TRACE("batch_dims " + std::to_string(batch_dims));
    auto model = build("gather_nd", {{DType::f16, data}, {DType::i64, indices}},
                       {{"batch_dims", batch_dims}});
    expect_reference(*model, {nonzero_mixed_sign(DType::f16, data, 12, 4.0),
                              random_indices(DType::i64, indices, 3, 13)});
  }
}

TEST_F(CpuIndexOps, IndicesOutOfRangeNameTheNode) {
  auto scatter =
      build("scatter_elements", {{DType::f32, {2, 3}}, {DType::i64, {1, 3}}, {DType::f32, {1, 3}}},
            {{"axis", int64_t{1}}});
  const Tensor values = Tensor::random(DType::f32, {1, 3}, 1);
  EXPECT_THAT(run_error(*scatter, {Tensor::random(DType::f32, {2, 3}, 2),
                                   integers(DType::i64, {1, 3}, {0, 3, 1}), values}),
              AllOf(HasSubstr("'node'"), HasSubstr("index 3 is out of range for a dim of 3")));
  EXPECT_THAT(run_error(*scatter, {Tensor::random(DType::f32, {2, 3}, 2),
                                   integers(DType::i64, {1, 3}, {0, -4, 1}), values}),
              HasSubstr("index -4 is out of range"));

  auto scatter_nd =
      build("scatter_nd", {{DType::f32, {2, 3}}, {DType::i64, {1, 2}}, {DType::f32, {1}}}, {});
  EXPECT_THAT(run_error(*scatter_nd, {Tensor::random(DType::f32, {2, 3}, 3),
                                      integers(DType::i64, {1, 2}, {1, 1000000}),
                                      Tensor::random(DType::f32, {1}, 4)}),
              AllOf(HasSubstr("'node'"), HasSubstr("index 1000000 is out of range")));

  auto gather_nd = build("gather_nd", {{DType::f32, {2, 3}}, {DType::i32, {2, 1}}}, {});
  EXPECT_THAT(run_error(*gather_nd, {Tensor::random(DType::f32, {2, 3}, 5),
                                     integers(DType::i32, {2, 1}, {1, 2})}),
              AllOf(HasSubstr("'node'"), HasSubstr("index 2 is out of range for a dim of 2")));
}

}  // namespace
}  // namespace rtscope
