// Grouped-query attention over in-place KV caches, the check every backend
// runs: a graph that writes a step's K/V rows into caches of Hkv heads
// (kv_cache_update) and attends to them with H query heads, streamed for a
// few steps on seeded random inputs. Each step's output and both caches
// must match the float64 reference; the caches keep their Hkv heads (the
// memory of a grouped cache, never a repeat) and are updated in place.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope::testing {

struct GroupedCase {
  int64_t heads = 8;
  int64_t kv_heads = 2;
  DType dtype = DType::f32;
  bool capture = false;      // whole-graph capture: record, then replay
  bool per_row_pos = false;  // pos [B] (batch row b at its own position) or [1]
  int64_t batch = 2;
  int64_t seq = 2;  // new positions per step
  int64_t cache_len = 16;
  int64_t head_dim = 16;
  int64_t steps = 3;
};

inline void PrintTo(const GroupedCase& c, std::ostream* out) {
  *out << "H" << c.heads << " Hkv" << c.kv_heads << " " << to_string(c.dtype)
       << (c.capture ? " captured" : " eager") << (c.per_row_pos ? " pos[B]" : " pos[1]") << " B"
       << c.batch << " S" << c.seq << " T" << c.cache_len << " Dh" << c.head_dim;
}

inline std::string grouped_case_name(const ::testing::TestParamInfo<GroupedCase>& info) {
  const GroupedCase& c = info.param;
  return "H" + std::to_string(c.heads) + "_Hkv" + std::to_string(c.kv_heads) + "_" +
         std::string(to_string(c.dtype)) + (c.capture ? "_Captured" : "_Eager") +
         (c.per_row_pos ? "_PosPerRow" : "_PosShared") + "_T" + std::to_string(c.cache_len) +
         "_Dh" + std::to_string(c.head_dim);
}

// Every ratio H / Hkv of 1, 2, 4 and 8 with 8 query heads, f32 and f16,
// eager and captured, with one position for all batch rows and one each;
// then head dim 64. `half` keeps half of the combinations (for slower
// backends), every pair of two factors' values still met.
inline std::vector<GroupedCase> grouped_cases(bool half = false) {
  std::vector<GroupedCase> cases;
  bool odd_ratio = false;
  for (int64_t kv_heads : {8, 4, 2, 1}) {
    odd_ratio = !odd_ratio;
    for (DType dtype : {DType::f32, DType::f16}) {
      for (bool capture : {false, true}) {
        for (bool per_row : {false, true}) {
          if (half && capture != (per_row != (odd_ratio != (dtype == DType::f16)))) continue;
          GroupedCase c;
          c.kv_heads = kv_heads;
          c.dtype = dtype;
          c.capture = capture;
          c.per_row_pos = per_row;
          cases.push_back(c);
        }
      }
    }
  }
  GroupedCase wide;  // a head dim the kernels specialize on (64)
  wide.head_dim = 64;
  cases.push_back(wide);
  return cases;
}

// q [B, H, S, Dh], k and v [B, Hkv, S, Dh] new rows, pos [1] or [B];
// states k_cache and v_cache [B, Hkv, T, Dh]; output ctx [B, H, S, Dh].
inline Graph grouped_attention_graph(const GroupedCase& c) {
  const Shape kv_rows{c.batch, c.kv_heads, c.seq, c.head_dim};
  const Shape cache{c.batch, c.kv_heads, c.cache_len, c.head_dim};
  return GraphBuilder("grouped_attention")
      .input("q", c.dtype, {c.batch, c.heads, c.seq, c.head_dim})
      .input("k", c.dtype, kv_rows)
      .input("v", c.dtype, kv_rows)
      .input("pos", DType::i64, {c.per_row_pos ? c.batch : 1})
      .state("k_cache", c.dtype, cache, "k_next")
      .state("v_cache", c.dtype, cache, "v_next")
      .node("k_write", "kv_cache_update", {"k_cache", "k", "pos"}, "k_next")
      .node("v_write", "kv_cache_update", {"v_cache", "v", "pos"}, "v_next")
      .node("sdpa", "attention", {"q", "k_next", "v_next", "pos"}, "ctx")
      .outputs({"ctx"})
      .build();
}

// Batch row b's first position: rows apart (b·3, wrapped into what the
// steps leave room for) with pos [B], else 0 for every row.
inline Tensor grouped_positions(const GroupedCase& c, int64_t step) {
  const int64_t count = c.per_row_pos ? c.batch : 1;
  const int64_t room = c.cache_len - c.steps * c.seq;  // the latest first position that fits
  Tensor pos = Tensor::empty(DType::i64, {count});
  for (int64_t b = 0; b < count; ++b) {
    pos.data_as<int64_t>()[b] = (b * 3) % (room + 1) + step * c.seq;
  }
  return pos;
}

inline uint64_t module_counter(const Model& model, const std::string& name) {
  const auto counters = model.modules().at(0)->stats().plugin_counters;
  const auto found = counters.find(name);
  return found == counters.end() ? 0 : found->second;
}

// Streams c.steps steps through `model` (built from
// grouped_attention_graph(c) on one backend) and checks them.
inline void expect_grouped_stream_matches_reference(Model& model, const GroupedCase& c) {
  const double tol = c.dtype == DType::f16 ? 2e-2 : 1e-4;
  for (const char* name : {"k_cache", "v_cache"}) {
    EXPECT_EQ(model.state().at(name).shape(), (Shape{c.batch, c.kv_heads, c.cache_len, c.head_dim}))
        << name << ": a grouped cache holds Hkv heads";
  }
  std::optional<RuntimeConfigScope> capture;
  if (c.capture) capture.emplace(graph_capture(model));
  std::map<std::string, reference::RefTensor> states;
  for (int64_t step = 0; step < c.steps; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const uint64_t seed = 100 + static_cast<uint64_t>(step) * 3;
    // q scaled down: scores of order one, a softmax neither flat nor one-hot.
    const std::map<std::string, Tensor> inputs = {
        {"q", Tensor::random(c.dtype, {c.batch, c.heads, c.seq, c.head_dim}, seed, 0.5)},
        {"k", Tensor::random(c.dtype, {c.batch, c.kv_heads, c.seq, c.head_dim}, seed + 1)},
        {"v", Tensor::random(c.dtype, {c.batch, c.kv_heads, c.seq, c.head_dim}, seed + 2)},
        {"pos", grouped_positions(c, step)}};
    const auto expected = reference_outputs(model.graph(), inputs, states);
    const auto out = model.run(inputs);
    EXPECT_LE(reference::closeness(out.at("ctx"), expected.at("ctx"), tol, tol), 1.0);
    for (const char* name : {"k_cache", "v_cache"}) {
      EXPECT_LE(reference::closeness(model.state().at(name), states.at(name), tol, tol), 1.0)
          << name;
    }
  }
  EXPECT_EQ(module_counter(model, "in_place_updates"), 2u * static_cast<uint64_t>(c.steps))
      << "both caches written in place at every step";
  if (c.capture) {
    const uint64_t records = module_counter(model, "records");
    EXPECT_GE(records, 1u);
    EXPECT_EQ(records + module_counter(model, "replays"), static_cast<uint64_t>(c.steps))
        << "one recording, then replays";
  }
}

}  // namespace rtscope::testing
