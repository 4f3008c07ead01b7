// kv_cache_update(cache, transpose(rope?(reshape(linear(n, w)))), pos), n
// optionally an rmsnorm of x: where the transpose to heads is a view (one
// step, or one head) and the update runs in place, the projection writes
// its rows into the cache at each batch row's position itself (one
// dispatch); the updated cache matches the float64 reference fused or not,
// rows off the new positions untouched.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "support/batched_stream_check.hpp"
#include "support/env_guard.hpp"
#include "support/small_models.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/fusion_check.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using testing::seeded_init;

constexpr int64_t kInner = 64;
constexpr int64_t kCacheLen = 32;

struct CacheWriteCase {
  DType dtype;
  int64_t batch;
  int64_t seq;  // steps written per batch row
  int64_t heads;
  int64_t head_dim;
  std::vector<int64_t> positions;  // one for every row, or one per batch row
  bool rope;
  bool norm;
  bool old_cache_read_after;  // read after the update: it cannot run in place
  uint64_t fused;             // cache writes run inside the projection, per execute
  uint64_t dispatches;        // per execute
  const char* skinny = "";    // RTSCOPE_VULKAN_SKINNY ("coop": tensor cores where present)
};

void PrintTo(const CacheWriteCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16 " : "f32 ") << c.batch << "x" << c.seq << " rows, "
       << c.heads << " heads of " << c.head_dim << (c.rope ? ", rope" : "")
       << (c.norm ? ", normed" : "") << (c.old_cache_read_after ? ", old cache read after" : "")
       << (*c.skinny != '\0' ? ", skinny " : "") << c.skinny;
}

Graph cache_write_graph(const CacheWriteCase& c) {
  const int64_t width = c.heads * c.head_dim;
  testing::GraphBuilder g("cache_write_projection");
  g.input("x", c.dtype, {c.batch, c.seq, kInner})
      .input("pos", DType::i64, {static_cast<int64_t>(c.positions.size())})
      .input("cache", c.dtype, {c.batch, c.heads, kCacheLen, c.head_dim})
      .weight("w", c.dtype, {kInner, width}, seeded_init(91, 0.5));
  const std::string n = optional_rmsnorm(g, c.norm, c.dtype, kInner, 92);
  g.node("proj", "linear", {n, "w"}, "p")
      .node("split", "reshape", {"p"}, "heads",
            {{"shape", std::vector<int64_t>{0, 0, c.heads, c.head_dim}}});
  std::string heads = "heads";
  if (c.rope) {
    g.node("rot", "rope", {"heads", "pos"}, "rotated", {{"base", 500.0}});
    heads = "rotated";
  }
  g.node("to_heads", "transpose", {heads}, "bhsd", {{"perm", std::vector<int64_t>{0, 2, 1, 3}}})
      .node("write", "kv_cache_update", {"cache", "bhsd", "pos"}, "updated")
      .outputs({"updated"});
  if (c.old_cache_read_after) {
    g.node("old", "scale", {"cache"}, "old_scaled", {{"factor", 2.0}}).outputs({"old_scaled"});
  }
  return g.build();
}

class VulkanCacheWriteFusion : public VulkanCaseTest<CacheWriteCase> {
 protected:
  void SetUp() override {
    const testing::EnvGuard skinny("RTSCOPE_VULKAN_SKINNY", GetParam().skinny);
    VulkanCaseTest<CacheWriteCase>::SetUp();
  }
};

TEST_P(VulkanCacheWriteFusion, MatchesTheReferenceFusedOrNot) {
  const CacheWriteCase c = GetParam();
  auto model = build(cache_write_graph(c));
  // The cache's rows off the new positions hold seeded values: a write to
  // a wrong row changes them.
  expect_fused_or_not(
      registry_, *model,
      {{"x", Tensor::random(c.dtype, {c.batch, c.seq, kInner}, 81)},
       {"pos", testing::positions_tensor(c.positions)},
       {"cache", Tensor::random(c.dtype, {c.batch, c.heads, kCacheLen, c.head_dim}, 82)}},
      c.dtype == DType::f16 ? 2e-2 : 1e-4, c.fused > 0,
      {{"fused_cache_writes", c.fused}, {"dispatches", c.dispatches}});
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanCacheWriteFusion,
    ::testing::Values(
        // A decode step: k with its rope and the fused norm, v without.
        CacheWriteCase{DType::f32, 1, 1, 2, 16, {5}, true, true, false, 1, 1},
        CacheWriteCase{DType::f16, 1, 1, 2, 16, {0}, false, false, false, 1, 1},
        // Batched streams, each at its own position, the last at the
        // cache's end; on the split-K path.
        CacheWriteCase{DType::f16, 3, 1, 2, 16, {2, 9, kCacheLen - 1}, true, true, false, 1, 1},
        CacheWriteCase{DType::f32, 4, 1, 2, 16, {7}, false, true, false, 1, 1},
        // One head: several steps per row are still a view.
        CacheWriteCase{DType::f32, 2, 3, 1, 16, {4, 20}, true, false, false, 1, 1},
        // Several steps of several heads: the transpose copies, nothing
        // fuses (projection with its rope, transpose, update).
        CacheWriteCase{DType::f32, 1, 3, 2, 16, {4}, true, false, false, 0, 3},
        // The old cache is read after the update: a copy, not in place
        // (projection, update, scale).
        CacheWriteCase{DType::f32, 1, 1, 2, 16, {4}, false, false, true, 0, 3},
        // 9 rows on tensor cores where the device has them (skinny_coop).
        CacheWriteCase{
            DType::f16, 9, 1, 2, 32, {1, 2, 3, 4, 5, 6, 7, 8, 30}, true, true, false, 1, 1, "coop"},
        CacheWriteCase{DType::f16, 9, 1, 2, 32, {3}, false, false, false, 1, 1, "coop"}));

}  // namespace
}  // namespace rtscope::vulkan_testing
