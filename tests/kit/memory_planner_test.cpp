// The backend kit's alias-aware memory planner (rtscope/kit/memory_planner)
// on hand-built plans whose lifetimes are known: reuse, best fit, results
// released as soon as they are dead, mutated arguments and views keeping
// their storage alive. The cpu plugin's use of it is in
// tests/cpu/planned_engine_test.cpp.
#include "rtscope/kit/memory_planner.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <stdexcept>
#include <utility>
#include <vector>

namespace rtscope::kit {
namespace {

constexpr size_t kAlign = 64;
constexpr uint32_t kInput = 0;  // value 0 is an external input in every plan below

std::vector<PlanValue> arena_values(std::vector<size_t> bytes) {
  std::vector<PlanValue> values{{.bytes = 0, .external = true}};
  for (size_t b : bytes) values.push_back({.bytes = b, .external = false});
  return values;
}

PlanStep step(std::vector<uint32_t> reads, std::vector<uint32_t> writes,
              std::vector<PlanAlias> aliases = {}) {
  return PlanStep{std::move(reads), std::move(writes), std::move(aliases)};
}

// `value` lives in `source`'s storage (a view or a mutated argument).
PlanAlias shares(uint32_t value, uint32_t source) { return {value, source, AliasKind::kShared}; }

// `value` may take over `source`'s storage (an in-place update).
PlanAlias in_place(uint32_t value, uint32_t source) {
  return {value, source, AliasKind::kInPlaceIfDead};
}

// [begin, end) of a value's bytes in the arena.
struct Range {
  size_t begin, end;
};

Range range(const MemoryPlan& plan, const std::vector<PlanValue>& values, uint32_t id) {
  return {plan.offset[id], plan.offset[id] + values[id].bytes};
}

bool overlap(Range a, Range b) { return a.begin < b.end && b.begin < a.end; }

TEST(MemoryPlanner, ChainReusesReleasedBuffers) {
  // in -> t1 -> t2 -> t3 -> t4, each 256 bytes: at most two live at once.
  const std::vector<PlanValue> values = arena_values({256, 256, 256, 256});
  const std::vector<PlanStep> steps = {
      step({kInput}, {1}), step({1}, {2}), step({2}, {3}), step({3}, {4}), step({4}, {}),
  };
  const MemoryPlan plan = plan_memory(values, steps, kAlign);
  EXPECT_EQ(plan.peak_bytes, 2 * 256u);
  EXPECT_EQ(plan.naive_bytes, 4 * 256u);
  EXPECT_EQ(plan.offset[3], plan.offset[1]) << "t3 takes t1's released bytes";
  EXPECT_EQ(plan.offset[4], plan.offset[2]);
  EXPECT_NE(plan.offset[1], plan.offset[2]) << "a step's output never overlaps its input";
  EXPECT_EQ(plan.offset[kInput], MemoryPlan::kNoOffset);
  EXPECT_EQ(plan.released_after[1], 1);
  EXPECT_EQ(plan.released_after[4], 4);
}

TEST(MemoryPlanner, BestFitTakesTheSmallestHoleThatFits) {
  // Step 0 places A (512), B (64), C (256), E (64) back to back; A and C die
  // at step 1, leaving holes of 512 and 256 between B and E, which stay
  // live. D (256) fits both holes and must take C's; F (512) then A's.
  const std::vector<PlanValue> values = arena_values({512, 64, 256, 256, 64, 512});
  const uint32_t A = 1, B = 2, C = 3, D = 4, E = 5, F = 6;
  const std::vector<PlanStep> steps = {
      step({kInput}, {A, B, C, E}), step({A, C}, {}), step({B}, {D}), step({D}, {F}),
      step({B, E, F}, {}),
  };
  const MemoryPlan plan = plan_memory(values, steps, kAlign);
  EXPECT_EQ(plan.offset[D], plan.offset[C]);
  EXPECT_EQ(plan.offset[F], plan.offset[A]);
  EXPECT_EQ(plan.peak_bytes, 512u + 64 + 256 + 64) << "nothing new past the first step's top";
  EXPECT_EQ(plan.naive_bytes, 512u + 64 + 256 + 256 + 64 + 512);
}

TEST(MemoryPlanner, SizesRoundUpToTheAlignment) {
  const std::vector<PlanValue> values = arena_values({1, 65, 3});
  const std::vector<PlanStep> steps = {
      step({kInput}, {1, 2, 3}),
      step({1, 2, 3}, {}),
  };
  const MemoryPlan plan = plan_memory(values, steps, kAlign);
  for (uint32_t id : {1u, 2u, 3u}) EXPECT_EQ(plan.offset[id] % kAlign, 0u) << id;
  EXPECT_EQ(plan.peak_bytes, 64u + 128 + 64);
  EXPECT_EQ(plan.naive_bytes, plan.peak_bytes);
}

TEST(MemoryPlanner, AResultIsReleasedAsSoonAsItIsDead) {
  // Step 0 writes `dead` (never read) next to `live`; its bytes are free
  // right after step 0, so step 1's `next` takes them without growing.
  const std::vector<PlanValue> values = arena_values({128, 128, 128});
  const uint32_t live = 1, dead = 2, next = 3;
  const std::vector<PlanStep> steps = {
      step({kInput}, {live, dead}),
      step({live}, {next}),
      step({live, next}, {}),
  };
  const MemoryPlan plan = plan_memory(values, steps, kAlign);
  EXPECT_EQ(plan.released_after[dead], 0);
  EXPECT_EQ(plan.released_after[live], 2);
  EXPECT_EQ(plan.offset[next], plan.offset[dead]);
  EXPECT_EQ(plan.peak_bytes, 256u);
}

TEST(MemoryPlanner, MutatedArgumentOfAMultiOutputOpStaysAliveWhileItsAliasLives) {
  // Step 1 is an op with two outputs: `state_out` is its argument `state`
  // updated in place, `y` a fresh result. `state` itself is never read
  // again, but its bytes hold `state_out` until step 4 reads it.
  const std::vector<PlanValue> values = arena_values({512, 512, 256, 256, 256, 64});
  const uint32_t state = 1, state_out = 2, y = 3, t2 = 4, t3 = 5, t4 = 6;
  const std::vector<PlanStep> steps = {
      step({kInput}, {state}),
      step({state, kInput}, {state_out, y}, {shares(state_out, state)}),
      step({y}, {t2}),
      step({t2}, {t3}),
      step({state_out, t3}, {t4}),
  };
  const MemoryPlan plan = plan_memory(values, steps, kAlign);
  EXPECT_EQ(plan.storage[state_out], state);
  EXPECT_EQ(plan.offset[state_out], plan.offset[state]);
  EXPECT_EQ(plan.released_after[state], 4);
  EXPECT_EQ(plan.released_after[state_out], -1) << "it owns no storage of its own";
  EXPECT_EQ(plan.released_after[y], 2);
  const Range kept = range(plan, values, state);
  for (uint32_t id : {y, t2, t3, t4}) {
    EXPECT_FALSE(overlap(kept, range(plan, values, id))) << "value " << id;
  }
  // y dies at step 2 and t3 reuses it; the state's 512 stay throughout.
  EXPECT_EQ(plan.offset[t3], plan.offset[y]);
  EXPECT_EQ(plan.peak_bytes, 512u + 256 + 256);
  EXPECT_EQ(plan.naive_bytes, 512u + 256 + 256 + 256 + 64);
}

TEST(MemoryPlanner, ViewsKeepTheirSourceAlive) {
  // v2 views v1 views t; t is last read directly at step 1, v2 at step 4.
  const std::vector<PlanValue> values = arena_values({256, 256, 256, 256, 256});
  const uint32_t t = 1, v1 = 2, v2 = 3, a = 4, b = 5;
  const std::vector<PlanStep> steps = {
      step({kInput}, {t}),
      step({t}, {v1}, {shares(v1, t)}),
      step({v1}, {v2}, {shares(v2, v1)}),
      step({kInput}, {a}),
      step({a, v2}, {b}),
  };
  const MemoryPlan plan = plan_memory(values, steps, kAlign);
  EXPECT_EQ(plan.storage[v1], t);
  EXPECT_EQ(plan.storage[v2], t);
  EXPECT_EQ(plan.offset[v2], plan.offset[t]);
  EXPECT_EQ(plan.released_after[t], 4);
  EXPECT_FALSE(overlap(range(plan, values, t), range(plan, values, a)));
  EXPECT_FALSE(overlap(range(plan, values, t), range(plan, values, b)));
  EXPECT_EQ(plan.naive_bytes, 3 * 256u) << "views own no storage";
  EXPECT_EQ(plan.peak_bytes, 3 * 256u);
}

TEST(MemoryPlanner, ViewOfAnExternalValueStaysOutsideTheArena) {
  const std::vector<PlanValue> values = arena_values({256, 256});
  const std::vector<PlanStep> steps = {
      step({kInput}, {1}, {shares(1, kInput)}),
      step({1}, {2}),
  };
  const MemoryPlan plan = plan_memory(values, steps, kAlign);
  EXPECT_EQ(plan.offset[1], MemoryPlan::kNoOffset);
  EXPECT_EQ(plan.storage[1], kInput);
  EXPECT_EQ(plan.peak_bytes, 256u);
}

// cache (intermediate) -> update(cache) -> next, as kv_cache_update.
std::vector<PlanStep> update_steps(bool read_cache_after) {
  const uint32_t cache = 1, next = 2, after = 3;
  std::vector<PlanStep> steps = {
      step({kInput}, {cache}),
      step({cache, kInput}, {next}, {in_place(next, cache)}),
      step({next}, {after}),
  };
  if (read_cache_after) steps.push_back(step({cache, after}, {}));
  return steps;
}

TEST(MemoryPlanner, InPlaceUpdateTakesOverADeadCache) {
  const std::vector<PlanValue> values = arena_values({1024, 1024, 64});
  const MemoryPlan plan = plan_memory(values, update_steps(false), kAlign);
  EXPECT_EQ(plan.storage[2], 1u);
  EXPECT_EQ(plan.offset[2], plan.offset[1]);
  EXPECT_EQ(plan.released_after[1], 2) << "the cache lives on as `next`";
  EXPECT_EQ(plan.peak_bytes, 1024u + 64);
  EXPECT_EQ(plan.naive_bytes, 1024u + 1024 + 64);
}

TEST(MemoryPlanner, InPlaceUpdateCopiesACacheReadLater) {
  const std::vector<PlanValue> values = arena_values({1024, 1024, 64});
  const MemoryPlan plan = plan_memory(values, update_steps(true), kAlign);
  EXPECT_EQ(plan.storage[2], 2u) << "the old cache is still needed: the update gets its own bytes";
  EXPECT_FALSE(overlap(range(plan, values, 1), range(plan, values, 2)));
  EXPECT_EQ(plan.released_after[1], 3);
}

TEST(MemoryPlanner, InPlaceUpdateNeverWritesExternalStorage) {
  const std::vector<PlanValue> values = arena_values({1024});
  const std::vector<PlanStep> steps = {
      step({kInput}, {1}, {in_place(1, kInput)}),
      step({1}, {}),
  };
  const MemoryPlan plan = plan_memory(values, steps, kAlign);
  EXPECT_EQ(plan.storage[1], 1u);
  EXPECT_NE(plan.offset[1], MemoryPlan::kNoOffset);
}

TEST(MemoryPlanner, InPlaceUpdateRefusedWhenTheStepReadsTheStorageTwice) {
  // The update's other argument is a view of the same cache: writing in
  // place would overwrite what it copies from.
  const std::vector<PlanValue> values = arena_values({1024, 1024, 1024});
  const uint32_t cache = 1, view = 2, next = 3;
  const std::vector<PlanStep> steps = {
      step({kInput}, {cache}),
      step({cache}, {view}, {shares(view, cache)}),
      step({cache, view}, {next}, {in_place(next, cache)}),
      step({next}, {}),
  };
  const MemoryPlan plan = plan_memory(values, steps, kAlign);
  EXPECT_EQ(plan.storage[next], next);
  EXPECT_FALSE(overlap(range(plan, values, cache), range(plan, values, next)));
}

TEST(MemoryPlanner, RejectsMalformedPlans) {
  const std::vector<PlanValue> values = arena_values({64, 64});
  EXPECT_THROW(plan_memory(values, std::vector<PlanStep>{step({1}, {2})}, kAlign),
               std::invalid_argument)
      << "read before written";
  EXPECT_THROW(
      plan_memory(values, std::vector<PlanStep>{step({kInput}, {1}), step({kInput}, {1})}, kAlign),
      std::invalid_argument)
      << "written twice";
  EXPECT_THROW(plan_memory(values, std::vector<PlanStep>{step({kInput}, {7})}, kAlign),
               std::invalid_argument)
      << "out of range";
  EXPECT_THROW(
      plan_memory(values, std::vector<PlanStep>{step({kInput}, {1}, {shares(2, kInput)})}, kAlign),
      std::invalid_argument)
      << "alias of a value the step does not write";
  EXPECT_THROW(plan_memory(values, std::vector<PlanStep>{}, 3), std::invalid_argument);
}

}  // namespace
}  // namespace rtscope::kit
