// Alias-aware memory planning over one execution plan.
//
// The planner sees values with sizes and an ordered list of steps, each
// naming the values it reads and writes and which written values share
// storage with another value (a view, an argument the op mutates, an
// in-place update). A storage stays allocated while any value living in it
// can still be read; once nothing live aliases it, its bytes return to the
// arena and later values reuse them (best fit by size). The result is one
// byte offset per value in a single arena and that arena's size.
//
// Pure: no plugin types, so any backend that places its intermediates in
// one arena can use it, and it is tested on hand-built plans
// (tests/kit/memory_planner_test.cpp). The cpu plugin plans its host
// arena with it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace rtscope::kit {

struct PlanValue {
  size_t bytes = 0;
  // Lives outside the arena (an engine input, constant or output binding):
  // never placed. A value sharing an external value's storage is external
  // too.
  bool external = false;
};

enum class AliasKind : uint8_t {
  // The written value always lives in the source's storage: a view
  // (reshape) or an argument the op updates in place.
  kShared,
  // The written value takes over the source's storage when nothing reads
  // that storage after this step (kv_cache_update on an intermediate
  // cache); otherwise it gets storage of its own and the kernel copies.
  kInPlaceIfDead,
};

struct PlanAlias {
  uint32_t value = 0;   // written by the step
  uint32_t source = 0;  // read by the step
  AliasKind kind = AliasKind::kShared;
};

struct PlanStep {
  std::vector<uint32_t> reads;
  std::vector<uint32_t> writes;
  std::vector<PlanAlias> aliases;  // each `value` is one of `writes`
};

struct MemoryPlan {
  static constexpr size_t kNoOffset = SIZE_MAX;

  // Per value: the value that owns the storage it lives in (itself when it
  // has storage of its own).
  std::vector<uint32_t> storage;
  // Per value: byte offset in the arena; kNoOffset for external values.
  std::vector<size_t> offset;
  // Per value owning arena storage: the step after which that storage is
  // free again; -1 for every other value.
  std::vector<int> released_after;
  // Size of the arena: the peak of bytes in use at once, plus whatever
  // fragmentation the placement left.
  size_t peak_bytes = 0;
  // The footprint without reuse: every written arena value in a buffer of
  // its own, in-place updates included. Values that share storage by the
  // op's definition (kShared: views, mutated arguments) add nothing.
  size_t naive_bytes = 0;
};

// Sizes are rounded up to `alignment` (a power of two, or 1), so every
// offset is aligned. Steps run in order, and a step's written values are
// placed before what it read is released: a kernel never writes over its
// own inputs. Throws std::invalid_argument on a malformed description (a
// value out of range, written twice, read before it is written, or an
// alias of a value the step does not write).
MemoryPlan plan_memory(std::span<const PlanValue> values, std::span<const PlanStep> steps,
                       size_t alignment);

}  // namespace rtscope::kit
