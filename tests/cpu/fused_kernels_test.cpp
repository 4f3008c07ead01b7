// The CPU plugin's fused kernels on their own, against float64 written
// here, on seeded random inputs: rope into the heads layout and into KV
// cache rows with one position per batch row (pos [B]) or one for all
// (pos [1]), from the angle table and beyond it; the product epilogues
// (residual add, silu·mul) on column blocks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "kernels/fused_elementwise.hpp"
#include "kernels/fused_rope.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

std::vector<float> random_floats(size_t count, uint32_t seed) {
  std::mt19937 engine(seed);
  std::uniform_real_distribution<float> uniform(-2.0f, 2.0f);
  std::vector<float> values(count);
  for (float& v : values) {
    do {
      v = uniform(engine);
    } while (v == 0.0f);
  }
  return values;
}

struct RopeCase {
  int64_t batch, seq, heads, head_dim;
  std::vector<int64_t> pos;  // 1 or batch entries
  bool into_cache;
  int64_t cache_len;       // into the cache
  int64_t table_capacity;  // positions the table holds
};

// The arguments every case sets alike: x, the positions and the shape from
// the case, and out_seq from where the rows go.
FusedRopeArgs rope_args(const RopeCase& c, const float* x, float* out, RopeTable& table,
                        ThreadPool& pool) {
  FusedRopeArgs args;
  args.x = x;
  args.pos = c.pos.data();
  args.pos_count = static_cast<int64_t>(c.pos.size());
  args.out = out;
  args.batch = c.batch;
  args.seq = c.seq;
  args.heads = c.heads;
  args.head_dim = c.head_dim;
  args.out_seq = c.into_cache ? c.cache_len : c.seq;
  args.into_cache = c.into_cache;
  args.table = &table;
  args.pool = &pool;
  return args;
}

// x [B,S,H,D] rotated at position pos_b + s, written at [b, h, s] (heads)
// or [b, h, pos_b + s] (cache) of an [B, H, out_seq, D] tensor that starts
// as `start`.
std::vector<double> reference_rope(const RopeCase& c, const std::vector<float>& x,
                                   const std::vector<float>& start, double base) {
  std::vector<double> out(start.begin(), start.end());
  const int64_t half = c.head_dim / 2;
  const int64_t out_seq = c.into_cache ? c.cache_len : c.seq;
  for (int64_t b = 0; b < c.batch; ++b) {
    const int64_t pos = c.pos[c.pos.size() == 1 ? 0 : b];
    for (int64_t s = 0; s < c.seq; ++s) {
      for (int64_t h = 0; h < c.heads; ++h) {
        const float* src = x.data() + ((b * c.seq + s) * c.heads + h) * c.head_dim;
        double* dst =
            out.data() + ((b * c.heads + h) * out_seq + (c.into_cache ? pos : 0) + s) * c.head_dim;
        for (int64_t i = 0; i < half; ++i) {
          const double theta = static_cast<double>(pos + s) *
                               std::pow(base, -2.0 * static_cast<double>(i) / c.head_dim);
          dst[i] = src[i] * std::cos(theta) - src[i + half] * std::sin(theta);
          dst[i + half] = src[i + half] * std::cos(theta) + src[i] * std::sin(theta);
        }
      }
    }
  }
  return out;
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::abs(want[i]))) << what << " at " << i;
  }
}

NodeDesc update_node() {
  NodeDesc node;
  node.name = "k_write";
  node.op = "kv_cache_update";
  return node;
}

TEST(FusedRope, MatchesFloat64PerBatchRowPositions) {
  ThreadPool pool(2);
  const double base = 10000.0;
  const RopeCase cases[] = {
      // heads layout, separate output; positions inside and beyond the table
      {3, 2, 2, 8, {0, 5, 11}, false, 0, 8},
      {2, 3, 4, 16, {4}, false, 0, 0},
      // into the cache, table as long as the cache
      {3, 1, 2, 8, {9, 0, 4}, true, 10, 10},
      {2, 4, 3, 32, {2}, true, 6, 6},
      // a large batch that the pool splits
      {64, 1, 4, 64, {}, true, 40, 40},
  };
  for (RopeCase c : cases) {
    if (c.pos.empty()) {
      for (int64_t b = 0; b < c.batch; ++b) c.pos.push_back((b * 7) % 39);
    }
    const std::string what = "batch " + std::to_string(c.batch) + " seq " + std::to_string(c.seq) +
                             (c.into_cache ? " into cache" : " to heads");
    const int64_t out_seq = c.into_cache ? c.cache_len : c.seq;
    const std::vector<float> x =
        random_floats(static_cast<size_t>(c.batch * c.seq * c.heads * c.head_dim), 7);
    const size_t out_count = static_cast<size_t>(c.batch * c.heads * out_seq * c.head_dim);
    const std::vector<float> cache = random_floats(out_count, 8);
    std::vector<float> out(out_count, 0.0f);
    RopeTable table(base, c.head_dim, c.table_capacity);
    const NodeDesc node = update_node();
    FusedRopeArgs args = rope_args(c, x.data(), out.data(), table, pool);
    args.cache = cache.data();
    args.cache_bytes = cache.size() * sizeof(float);
    args.node = &node;
    // Twice: the second run reads the rows the first one filled.
    for (int run = 0; run < 2; ++run) {
      run_fused_rope(args);
      expect_close(out, reference_rope(c, x, c.into_cache ? cache : out, base), 1e-6, what);
    }
    if (c.into_cache) {
      // In place: the output is the cache; rows not written keep their values.
      std::vector<float> in_place = cache;
      args.out = in_place.data();
      args.cache = in_place.data();
      run_fused_rope(args);
      expect_close(in_place, reference_rope(c, x, cache, base), 1e-6, what + " in place");
    }
  }
}

// A decode step's heads layout is x's own: rope rotates in place.
TEST(FusedRope, RotatesInPlaceWhenSeqIsOne) {
  ThreadPool pool(1);
  const RopeCase c{2, 1, 4, 16, {3, 12}, false, 0, 16};
  std::vector<float> x = random_floats(2 * 4 * 16, 9);
  const std::vector<double> want = reference_rope(c, x, std::vector<float>(x.size()), 500.0);
  RopeTable table(500.0, 16, 16);
  run_fused_rope(rope_args(c, x.data(), x.data(), table, pool));
  expect_close(x, want, 1e-6, "in place");
}

TEST(FusedRope, PositionOutsideTheCacheNamesTheNode) {
  ThreadPool pool(1);
  std::vector<float> x(2 * 2 * 2 * 8, 1.0f);
  std::vector<float> cache(2 * 2 * 4 * 8, 0.0f);
  const RopeCase c{2, 2, 2, 8, {1, 3}, true, 4, 4};  // row 1: 3 + 2 steps > 4
  RopeTable table(10000.0, 8, 4);
  const NodeDesc node = update_node();
  FusedRopeArgs args = rope_args(c, x.data(), cache.data(), table, pool);
  args.cache = cache.data();
  args.node = &node;
  try {
    run_fused_rope(args);
    FAIL() << "pos 3 + 2 steps does not fit 4 rows";
  } catch (const std::exception& error) {
    const std::string text = error.what();
    EXPECT_NE(text.find("k_write"), std::string::npos) << text;
    EXPECT_NE(text.find("pos[1] = 3 + 2 steps exceeds cache length 4"), std::string::npos) << text;
  }
}

TEST(LinearEpilogue, ColumnBlocksMatchFloat64) {
  const int64_t rows = 3, n = 37;
  const std::vector<float> operand = random_floats(rows * n, 11);
  const std::vector<float> product = random_floats(rows * n, 12);
  for (const auto kind : {LinearEpilogue::Kind::kResidualAdd, LinearEpilogue::Kind::kSiluGateMul}) {
    std::vector<float> out = product;
    const LinearEpilogue epilogue{kind, operand.data()};
    // Uneven blocks, as a column split over the pool makes them.
    for (const auto& [begin, end] : {std::pair<int64_t, int64_t>{0, 16}, {16, 32}, {32, 37}}) {
      apply_epilogue(epilogue, out.data(), rows, n, begin, end);
    }
    std::vector<double> want(product.size());
    for (size_t i = 0; i < want.size(); ++i) {
      const double o = operand[i];
      want[i] = kind == LinearEpilogue::Kind::kResidualAdd ? o + product[i]
                                                           : o / (1.0 + std::exp(-o)) * product[i];
    }
    expect_close(out, want, 1e-6, kind == LinearEpilogue::Kind::kResidualAdd ? "add" : "silu*mul");
  }
  // A residual that is the output was accumulated by the product itself.
  std::vector<float> out = product;
  apply_epilogue({LinearEpilogue::Kind::kResidualAdd, out.data()}, out.data(), rows, n, 0, n);
  EXPECT_EQ(out, product);
}

}  // namespace
}  // namespace rtscope::cpu
