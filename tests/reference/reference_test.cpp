// The float64 reference against small hand-computed cases, op by op, and
// run_graph() over weights and state buffers.
#include "rtscope/reference/reference.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "rtscope/error.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pointwise;

RefTensor t(Shape shape, std::vector<double> data, DType dtype = DType::f32) {
  return RefTensor{dtype, std::move(shape), std::move(data)};
}

RefTensor pos(int64_t value) { return t({1}, {static_cast<double>(value)}, DType::i64); }

RefTensor run1(const std::string& op, const std::vector<RefTensor>& inputs,
               const AttrMap& attrs = {}) {
  std::vector<RefTensor> out = run_op(op, inputs, attrs);
  EXPECT_EQ(out.size(), 1u);
  return out.at(0);
}

MATCHER_P(Near, expected, "") {
  return ::testing::ExplainMatchResult(Pointwise(DoubleNear(1e-12), expected), arg.data,
                                       result_listener);
}

TEST(ReferenceOpTest, BroadcastingBinaryOps) {
  RefTensor sum = run1("add", {t({2, 3}, {1, 2, 3, 4, 5, 6}), t({3}, {10, 20, 30})});
  EXPECT_EQ(sum.shape, (Shape{2, 3}));
  EXPECT_THAT(sum.data, ElementsAre(11, 22, 33, 14, 25, 36));

  RefTensor diff = run1("sub", {t({2, 1}, {1, 2}), t({1, 3}, {10, 20, 30})});
  EXPECT_EQ(diff.shape, (Shape{2, 3}));
  EXPECT_THAT(diff.data, ElementsAre(-9, -19, -29, -8, -18, -28));

  RefTensor product = run1("mul", {t({2, 1, 2}, {1, 2, 3, 4}), t({2, 1}, {10, 100})});
  EXPECT_EQ(product.shape, (Shape{2, 2, 2}));
  EXPECT_THAT(product.data, ElementsAre(10, 20, 100, 200, 30, 40, 300, 400));

  EXPECT_THROW(run1("add", {t({2}, {1, 2}), t({3}, {1, 2, 3})}), InputError);
}

TEST(ReferenceOpTest, UnaryOps) {
  EXPECT_THAT(run1("scale", {t({3}, {1, -2, 0.5})}, {{"factor", int64_t{2}}}).data,
              ElementsAre(2, -4, 1));
  EXPECT_THAT(run1("relu", {t({3}, {-1, 0, 2})}).data, ElementsAre(0, 0, 2));
  // gelu(x) = x * Phi(x): Phi(1) = 0.8413447460685429.
  EXPECT_THAT(run1("gelu", {t({3}, {1, 0, -1})}),
              Near(std::vector<double>{0.8413447460685429, 0, -0.15865525393145707}));
  // silu(x) = x * sigmoid(x): sigmoid(1) = 0.7310585786300049.
  EXPECT_THAT(run1("silu", {t({3}, {1, 0, -1})}),
              Near(std::vector<double>{0.7310585786300049, 0, -0.2689414213699951}));
}

TEST(ReferenceOpTest, Matmul) {
  const RefTensor a = t({2, 3}, {1, 2, 3, 4, 5, 6});
  const RefTensor b = t({3, 2}, {7, 8, 9, 10, 11, 12});
  RefTensor c = run1("matmul", {a, b});
  EXPECT_EQ(c.shape, (Shape{2, 2}));
  EXPECT_THAT(c.data, ElementsAre(58, 64, 139, 154));

  // b given as [N, K] with transpose_b: same product.
  const RefTensor bt = t({2, 3}, {7, 9, 11, 8, 10, 12});
  EXPECT_THAT(run1("matmul", {a, bt}, {{"transpose_b", int64_t{1}}}).data,
              ElementsAre(58, 64, 139, 154));

  // Batched a with a rank-2 b: each batch uses the same b.
  RefTensor batched = run1("matmul", {t({2, 1, 2}, {1, 0, 0, 1}), t({2, 2}, {1, 2, 3, 4})});
  EXPECT_EQ(batched.shape, (Shape{2, 1, 2}));
  EXPECT_THAT(batched.data, ElementsAre(1, 2, 3, 4));

  EXPECT_THROW(run1("matmul", {a, a}), InputError);  // inner dims 3 vs 2
}

TEST(ReferenceOpTest, Linear) {
  const RefTensor x = t({1, 2, 2}, {1, 2, 3, 4});
  const RefTensor w = t({2, 3}, {1, 0, 1, 0, 1, 1});
  RefTensor y = run1("linear", {x, w, t({3}, {0.5, 0, -1})});
  EXPECT_EQ(y.shape, (Shape{1, 2, 3}));
  EXPECT_THAT(y.data, ElementsAre(1.5, 2, 2, 3.5, 4, 6));
  EXPECT_THAT(run1("linear", {x, w}).data, ElementsAre(1, 2, 3, 3, 4, 7));
}

TEST(ReferenceOpTest, Softmax) {
  EXPECT_THAT(
      run1("softmax", {t({3}, {1, 2, 3})}),
      Near(std::vector<double>{0.09003057317038046, 0.24472847105479767, 0.6652409557748219}));
  // Along axis 0 of [[0, 1], [0, 3]]: columns normalize separately.
  const double e2 = std::exp(2.0);
  EXPECT_THAT(run1("softmax", {t({2, 2}, {0, 1, 0, 3})}, {{"axis", int64_t{0}}}),
              Near(std::vector<double>{0.5, 1 / (1 + e2), 0.5, e2 / (1 + e2)}));
  // Large inputs do not overflow (max is subtracted first).
  EXPECT_THAT(run1("softmax", {t({2}, {1000, 1000})}), Near(std::vector<double>{0.5, 0.5}));
}

TEST(ReferenceOpTest, LayernormAndRmsnorm) {
  // mean 2, biased var 2/3.
  const double z = 1 / std::sqrt(2.0 / 3.0);
  EXPECT_THAT(run1("layernorm", {t({1, 3}, {1, 2, 3}), t({3}, {1, 1, 1}), t({3}, {0, 0, 0})},
                   {{"eps", 0.0}}),
              Near(std::vector<double>{-z, 0, z}));
  EXPECT_THAT(
      run1("layernorm", {t({3}, {1, 2, 3}), t({3}, {2, 2, 2}), t({3}, {1, 1, 1})}, {{"eps", 0.0}}),
      Near(std::vector<double>{1 - 2 * z, 1, 1 + 2 * z}));
  // rms of (3, 4) = sqrt(12.5).
  const double rms = std::sqrt(12.5);
  EXPECT_THAT(run1("rmsnorm", {t({2}, {3, 4}), t({2}, {1, 2})}, {{"eps", 0.0}}),
              Near(std::vector<double>{3 / rms, 8 / rms}));
  // Default eps is 1e-5 and is added under the root.
  EXPECT_THAT(run1("rmsnorm", {t({2}, {3, 4}), t({2}, {1, 1})}),
              Near(std::vector<double>{3 / std::sqrt(12.5 + 1e-5), 4 / std::sqrt(12.5 + 1e-5)}));
}

TEST(ReferenceOpTest, RopeRotatesHalves) {
  // x [B=1, S=2, H=1, Dh=4]; at pos 0 the first token is unchanged.
  const RefTensor x = t({1, 2, 1, 4}, {1, 2, 3, 4, 1, 2, 3, 4});
  RefTensor at0 = run1("rope", {x, pos(0)});
  EXPECT_THAT(std::vector<double>(at0.data.begin(), at0.data.begin() + 4), ElementsAre(1, 2, 3, 4));

  // Token s at absolute position 5 + s; pair i uses theta = p * 10000^(-2i/4).
  RefTensor at5 = run1("rope", {x, pos(5)});
  for (int s = 0; s < 2; ++s) {
    const double p = 5 + s;
    const double t0 = p, t1 = p / 100.0;
    const double* out = at5.data.data() + 4 * s;
    EXPECT_NEAR(out[0], 1 * std::cos(t0) - 3 * std::sin(t0), 1e-12);
    EXPECT_NEAR(out[2], 3 * std::cos(t0) + 1 * std::sin(t0), 1e-12);
    EXPECT_NEAR(out[1], 2 * std::cos(t1) - 4 * std::sin(t1), 1e-12);
    EXPECT_NEAR(out[3], 4 * std::cos(t1) + 2 * std::sin(t1), 1e-12);
  }
  // base is honored: base 1 makes every pair rotate by p.
  RefTensor base1 = run1("rope", {t({1, 1, 1, 2}, {1, 0}), pos(2)}, {{"base", 1.0}});
  EXPECT_THAT(base1, Near(std::vector<double>{std::cos(2.0), std::sin(2.0)}));
}

TEST(ReferenceOpTest, AttentionIsCausalOverTheCache) {
  // One head, Dh=2, cache of 3 positions; slot 2 holds junk that must stay
  // invisible to queries at positions 0 and 1.
  const RefTensor k = t({1, 1, 3, 2}, {1, 0, 0, 1, 50, 50});
  const RefTensor v = t({1, 1, 3, 2}, {10, 20, 30, 40, 1e6, 1e6});
  const RefTensor q = t({1, 1, 1, 2}, {1, 0});

  // At pos 0 only key 0 is visible: the output is v[0].
  EXPECT_THAT(run1("attention", {q, k, v, pos(0)}), Near(std::vector<double>{10, 20}));

  // Prefill of two queries at pos 0: query 1 sees keys 0 and 1 with scores
  // q.k * scale = (0, 1/sqrt(2)) for q = (0, 1).
  RefTensor prefill = run1("attention", {t({1, 1, 2, 2}, {1, 0, 0, 1}), k, v, pos(0)});
  const double w1 = 1 / (1 + std::exp(-1 / std::sqrt(2.0)));  // weight of key 1
  EXPECT_THAT(prefill,
              Near(std::vector<double>{10, 20, 10 * (1 - w1) + 30 * w1, 20 * (1 - w1) + 40 * w1}));

  // Explicit scale 0 would mean the default; any positive value is used as is.
  RefTensor scaled = run1("attention", {t({1, 1, 1, 2}, {0, 1}), k, v, pos(1)}, {{"scale", 2.0}});
  const double w = 1 / (1 + std::exp(-2.0));
  EXPECT_THAT(scaled, Near(std::vector<double>{10 * (1 - w) + 30 * w, 20 * (1 - w) + 40 * w}));

  try {
    run1("attention", {t({1, 1, 2, 2}, {1, 0, 0, 1}), k, v, pos(2)});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("exceeds the cache length 3"));
  }
}

TEST(ReferenceOpTest, KvCacheUpdateWritesPositions) {
  const RefTensor cache = t({1, 2, 3, 1}, {0, 0, 0, 0, 0, 0});
  const RefTensor fresh = t({1, 2, 2, 1}, {1, 2, 3, 4});
  RefTensor updated = run1("kv_cache_update", {cache, fresh, pos(1)});
  EXPECT_EQ(updated.shape, (Shape{1, 2, 3, 1}));
  EXPECT_THAT(updated.data, ElementsAre(0, 1, 2, 0, 3, 4));
  EXPECT_THAT(cache.data, ElementsAre(0, 0, 0, 0, 0, 0));  // input untouched
  EXPECT_THROW(run1("kv_cache_update", {cache, fresh, pos(2)}), InputError);
}

// Rows of a batch, each at its own position (pos [B]), equal each row run
// alone at that position (pos [1]).
RefTensor batch_row(const RefTensor& x, int64_t row) {
  const int64_t size = static_cast<int64_t>(x.data.size()) / x.shape[0];
  Shape shape = x.shape;
  shape[0] = 1;
  return t(shape, {x.data.begin() + row * size, x.data.begin() + (row + 1) * size});
}

RefTensor seeded(Shape shape, double seed) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  std::vector<double> data(static_cast<std::size_t>(count));
  // Non-zero values with no two rows alike.
  for (int64_t i = 0; i < count; ++i) data[i] = std::sin(seed + 0.7 * static_cast<double>(i)) + 0.1;
  return t(std::move(shape), std::move(data));
}

// [B, Hkv, T, Dh] with each head repeated `group` times: [B, Hkv·group, T, Dh].
RefTensor repeat_heads(const RefTensor& x, int64_t group) {
  const int64_t plane = x.shape[2] * x.shape[3];
  std::vector<double> data;
  for (int64_t bh = 0; bh < x.shape[0] * x.shape[1]; ++bh) {
    for (int64_t g = 0; g < group; ++g) {
      data.insert(data.end(), x.data.begin() + bh * plane, x.data.begin() + (bh + 1) * plane);
    }
  }
  return t({x.shape[0], x.shape[1] * group, x.shape[2], x.shape[3]}, std::move(data));
}

// Grouped-query attention (caches of Hkv heads) equals plain attention over
// the caches with each head repeated for its H / Hkv query heads (Hugging
// Face's repeat_kv), for every ratio, with pos [1] and [B].
TEST(ReferenceOpTest, GroupedAttentionEqualsAttentionOverRepeatedHeads) {
  const RefTensor q = seeded({2, 8, 3, 4}, 6);  // [B, H, S, Dh]
  for (int64_t kv_heads : {8, 4, 2, 1}) {
    SCOPED_TRACE("kv heads " + std::to_string(kv_heads));
    const RefTensor k = seeded({2, kv_heads, 7, 4}, 7);
    const RefTensor v = seeded({2, kv_heads, 7, 4}, 8);
    const int64_t group = 8 / kv_heads;
    for (const RefTensor& p : {pos(2), t({2}, {4, 0}, DType::i64)}) {
      const RefTensor grouped = run1("attention", {q, k, v, p});
      EXPECT_EQ(grouped.shape, q.shape);
      EXPECT_THAT(
          grouped,
          Near(run1("attention", {q, repeat_heads(k, group), repeat_heads(v, group), p}).data));
    }
  }
  // The query heads of one group read one cache head: different queries,
  // different results (the grouping is not a broadcast of one head's output).
  const RefTensor one =
      run1("attention", {q, seeded({2, 1, 7, 4}, 7), seeded({2, 1, 7, 4}, 8), pos(2)});
  EXPECT_NE(batch_row(one, 0).data[0], batch_row(one, 0).data[3 * 4]);
}

TEST(ReferenceOpTest, PositionPerBatchRowEqualsEachRowAlone) {
  const std::vector<int64_t> positions = {4, 0, 2};
  const RefTensor pos3 = t({3}, {4, 0, 2}, DType::i64);
  const RefTensor x = seeded({3, 2, 2, 4}, 1);  // rope [B, S, H, Dh]
  const RefTensor q = seeded({3, 2, 1, 4}, 2);  // attention [B, H, S, Dh]
  const RefTensor k = seeded({3, 2, 6, 4}, 3);  // caches [B, H, T, Dh]
  const RefTensor v = seeded({3, 2, 6, 4}, 4);
  const RefTensor fresh = seeded({3, 2, 2, 4}, 5);  // kv_cache_update's new steps
  const RefTensor rope = run1("rope", {x, pos3});
  const RefTensor attention = run1("attention", {q, k, v, pos3});
  const RefTensor updated = run1("kv_cache_update", {k, fresh, pos3});
  for (int64_t b = 0; b < 3; ++b) {
    SCOPED_TRACE("batch row " + std::to_string(b));
    const RefTensor p = pos(positions[b]);
    EXPECT_THAT(batch_row(rope, b), Near(run1("rope", {batch_row(x, b), p}).data));
    EXPECT_THAT(
        batch_row(attention, b),
        Near(run1("attention", {batch_row(q, b), batch_row(k, b), batch_row(v, b), p}).data));
    EXPECT_THAT(batch_row(updated, b),
                Near(run1("kv_cache_update", {batch_row(k, b), batch_row(fresh, b), p}).data));
  }
  // The rows differ (each row's own position is used, not row 0's).
  EXPECT_NE(batch_row(rope, 1).data, run1("rope", {batch_row(x, 1), pos(4)}).data);

  // A position that leaves no room names the batch row.
  try {
    run1("kv_cache_update", {k, fresh, t({3}, {0, 5, 1}, DType::i64)});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("batch row 1 at pos 5 + 2 new positions exceeds the cache length 6"));
  }
  EXPECT_THROW(run1("rope", {x, t({3}, {0, -1, 1}, DType::i64)}), InputError);
}

TEST(ReferenceOpTest, Embedding) {
  const RefTensor table = t({3, 2}, {0, 1, 10, 11, 20, 21});
  RefTensor rows = run1("embedding", {table, t({2, 2}, {2, 0, 1, 1}, DType::i64)});
  EXPECT_EQ(rows.shape, (Shape{2, 2, 2}));
  EXPECT_THAT(rows.data, ElementsAre(20, 21, 0, 1, 10, 11, 10, 11));
  try {
    run1("embedding", {table, t({1}, {3}, DType::i32)});
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("id 3"));
  }
}

TEST(ReferenceOpTest, ReshapeAndTranspose) {
  std::vector<double> values(24);
  for (int i = 0; i < 24; ++i) values[i] = i;
  RefTensor r = run1("reshape", {t({2, 3, 4}, values)}, {{"shape", std::vector<int64_t>{0, -1}}});
  EXPECT_EQ(r.shape, (Shape{2, 12}));
  EXPECT_EQ(r.data, values);

  RefTensor tr =
      run1("transpose", {t({2, 3}, {1, 2, 3, 4, 5, 6})}, {{"perm", std::vector<int64_t>{1, 0}}});
  EXPECT_EQ(tr.shape, (Shape{3, 2}));
  EXPECT_THAT(tr.data, ElementsAre(1, 4, 2, 5, 3, 6));

  // [2,3,4] -> perm (2,0,1): out[k][i][j] = x[i][j][k].
  RefTensor t3 =
      run1("transpose", {t({2, 3, 4}, values)}, {{"perm", std::vector<int64_t>{2, 0, 1}}});
  EXPECT_EQ(t3.shape, (Shape{4, 2, 3}));
  EXPECT_EQ(t3.data[1 * 6 + 1 * 3 + 2], values[1 * 12 + 2 * 4 + 1]);
  EXPECT_EQ(t3.data[3 * 6 + 0 * 3 + 1], values[0 * 12 + 1 * 4 + 3]);
}

TEST(ReferenceOpTest, ConcatAndSlice) {
  RefTensor c =
      run1("concat", {t({2, 1}, {1, 2}), t({2, 2}, {3, 4, 5, 6})}, {{"axis", int64_t{1}}});
  EXPECT_EQ(c.shape, (Shape{2, 3}));
  EXPECT_THAT(c.data, ElementsAre(1, 3, 4, 2, 5, 6));

  const RefTensor x = t({5}, {0, 1, 2, 3, 4});
  auto slice = [&](int64_t start, int64_t end) {
    return run1("slice", {x}, {{"axis", int64_t{0}}, {"start", start}, {"end", end}}).data;
  };
  EXPECT_THAT(slice(1, -1), ElementsAre(1, 2, 3));  // negative end counts from the end
  EXPECT_THAT(slice(3, 100), ElementsAre(3, 4));    // end clamped to the dim
  EXPECT_THAT(slice(4, 2), ElementsAre());          // empty, not an error

  RefTensor rows = run1("slice", {t({3, 2}, {1, 2, 3, 4, 5, 6})},
                        {{"axis", int64_t{-2}}, {"start", int64_t{1}}, {"end", int64_t{3}}});
  EXPECT_EQ(rows.shape, (Shape{2, 2}));
  EXPECT_THAT(rows.data, ElementsAre(3, 4, 5, 6));
}

TEST(ReferenceOpTest, ArgmaxTakesFirstOnTies) {
  RefTensor a = run1("argmax", {t({2, 4}, {1, 3, 3, 2, 5, 5, 5, 5})});
  EXPECT_EQ(a.dtype, DType::i64);
  EXPECT_EQ(a.shape, (Shape{2}));
  EXPECT_THAT(a.data, ElementsAre(1, 0));
  EXPECT_THAT(run1("argmax", {t({2, 2}, {1, 9, 4, 0})}, {{"axis", int64_t{0}}}).data,
              ElementsAre(1, 0));
}

TEST(ReferenceOpTest, RejectsUnknownOpsAndBadArity) {
  EXPECT_THROW(run_op("conv", {t({1}, {1})}, {}), InputError);
  EXPECT_THROW(run_op("relu", {}, {}), InputError);
  EXPECT_THROW(run_op("relu", {t({2}, {1})}, {}), InputError);  // 1 value for 2 elements
}

TEST(ReferenceTest, Closeness) {
  Tensor actual = Tensor::from_bytes(DType::f32, {2}, std::vector<float>{1.0f, 2.1f}.data());
  EXPECT_EQ(closeness(actual, t({2}, {1.0, 2.1f}), 0.0, 0.0), 0.0);
  // |2.1 - 2| / (0.05 + 0 * 2) = 2.
  EXPECT_NEAR(closeness(actual, t({2}, {1.0, 2.0}), 0.05, 0.0), 2.0, 1e-5);
  EXPECT_NEAR(closeness(actual, t({2}, {1.0, 2.0}), 0.0, 0.1), 0.5, 1e-5);
  EXPECT_EQ(closeness(actual, t({1, 2}, {1.0, 2.1}), 1, 1),
            std::numeric_limits<double>::infinity());
  EXPECT_EQ(closeness(actual, t({2}, {1.0, NAN}), 1, 1), std::numeric_limits<double>::infinity());
}

Weight seeded_weight(std::string name, DType dtype, SymShape shape) {
  Weight w;
  w.info = ValueInfo{std::move(name), {dtype, std::move(shape)}, {}};
  w.init.seed = 3;
  w.init.scale = 0.3;
  return w;
}

TEST(ReferenceGraphTest, F16WeightsAreSeenRoundedToHalf) {
  Graph g;
  g.name = "half";
  g.inputs.push_back(ValueInfo{"x", {DType::f16, {Dim::fixed(64)}}, {}});
  g.weights.push_back(seeded_weight("w", DType::f16, {Dim::fixed(64)}));
  g.nodes.push_back(Node{"sum", "add", {"x", "w"}, {"y"}, {}, {}});
  g.outputs = {"y"};
  validate(g);
  std::map<std::string, RefTensor> states;
  const auto outputs =
      run_graph(g, {{"x", t({64}, std::vector<double>(64, 0.0), DType::f16)}}, states);
  const RefTensor& y = outputs.at("y");
  ASSERT_EQ(y.data.size(), 64u);
  int nonzero = 0;
  for (double v : y.data) {
    // Every value the reference saw is exactly representable in half.
    EXPECT_EQ(static_cast<double>(half_to_float(float_to_half(static_cast<float>(v)))), v);
    nonzero += v != 0.0;
  }
  EXPECT_GT(nonzero, 60);
  Weight as_f32 = g.weights[0];
  as_f32.info.type.dtype = DType::f32;
  EXPECT_NE(materialize_weight(as_f32).to_doubles(), y.data);  // rounding did happen
}

TEST(ReferenceGraphTest, StatesPersistAcrossRuns) {
  // counter <- counter + step, output the new value.
  Graph g;
  g.name = "counter";
  g.inputs.push_back(ValueInfo{"step", {DType::f32, {Dim::fixed(2)}}, {}});
  g.states.push_back(StateBuffer{ValueInfo{"counter", {DType::f32, {Dim::fixed(2)}}, {}}, "next"});
  g.nodes.push_back(Node{"inc", "add", {"counter", "step"}, {"next"}, {}, {}});
  g.outputs = {"next"};
  validate(g);
  std::map<std::string, RefTensor> states;  // counter starts zeroed
  const std::map<std::string, RefTensor> inputs = {{"step", t({2}, {1, 10})}};
  run_graph(g, inputs, states);
  const auto second = run_graph(g, inputs, states);
  EXPECT_THAT(second.at("next").data, ElementsAre(2, 20));
  EXPECT_THAT(states.at("counter").data, ElementsAre(2, 20));

  EXPECT_THROW(run_graph(g, {}, states), InputError);                             // missing input
  EXPECT_THROW(run_graph(g, {{"step", t({3}, {1, 2, 3})}}, states), InputError);  // bad shape
}

// The decoder's cache step: write K at pos, then attend over the cache.
TEST(ReferenceGraphTest, KvCacheStepAcrossDecodeCalls) {
  Graph g;
  g.name = "kv";
  g.symbols["seq"] = {1, 1, 4};
  g.inputs.push_back(ValueInfo{
      "k", {DType::f32, {Dim::fixed(1), Dim::fixed(1), Dim::named("seq"), Dim::fixed(2)}}, {}});
  g.inputs.push_back(ValueInfo{"pos", {DType::i64, {Dim::fixed(1)}}, {}});
  g.states.push_back(StateBuffer{
      ValueInfo{
          "cache", {DType::f32, {Dim::fixed(1), Dim::fixed(1), Dim::fixed(4), Dim::fixed(2)}}, {}},
      "cache_next"});
  g.nodes.push_back(
      Node{"store", "kv_cache_update", {"cache", "k", "pos"}, {"cache_next"}, {}, {}});
  g.nodes.push_back(
      Node{"attn", "attention", {"k", "cache_next", "cache_next", "pos"}, {"o"}, {}, {}});
  g.outputs = {"o"};
  validate(g);
  std::map<std::string, RefTensor> states;
  const RefTensor prompt = t({1, 1, 2, 2}, {1, 2, 3, 4});
  run_graph(g, {{"k", prompt}, {"pos", pos(0)}}, states);
  const auto step = run_graph(g, {{"k", t({1, 1, 1, 2}, {5, 6})}, {"pos", pos(2)}}, states);
  EXPECT_THAT(states.at("cache").data, ElementsAre(1, 2, 3, 4, 5, 6, 0, 0));
  EXPECT_EQ(step.at("o").shape, (Shape{1, 1, 1, 2}));
  // Query (5, 6) attends to keys 0..2 = (1, 2), (3, 4), (5, 6), with v = k.
  const double scores[] = {17 / std::sqrt(2.0), 39 / std::sqrt(2.0), 61 / std::sqrt(2.0)};
  double weights[3], total = 0;
  for (int j = 0; j < 3; ++j) total += (weights[j] = std::exp(scores[j] - scores[2]));
  const double expected0 = (1 * weights[0] + 3 * weights[1] + 5 * weights[2]) / total;
  const double expected1 = (2 * weights[0] + 4 * weights[1] + 6 * weights[2]) / total;
  EXPECT_THAT(step.at("o"), Near(std::vector<double>{expected0, expected1}));
}

}  // namespace
}  // namespace rtscope::reference
