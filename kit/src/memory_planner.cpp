#include "rtscope/kit/memory_planner.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>

namespace rtscope::kit {
namespace {

[[noreturn]] void malformed(const std::string& what) {
  throw std::invalid_argument("memory plan: " + what);
}

// One contiguous arena of free and used blocks. Allocation takes the
// smallest free block that fits (best fit keeps large blocks for large
// values); without one it places the value at the top, and the arena grows.
// Released blocks merge with free neighbours, and a free block at the top
// lowers the top, so the next value that fits nowhere starts there.
class Arena {
 public:
  size_t allocate(size_t bytes) {
    if (bytes == 0) return 0;
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= bytes && (best == free_.end() || it->second < best->second)) best = it;
    }
    if (best != free_.end()) {
      const size_t offset = best->first;
      const size_t rest = best->second - bytes;
      free_.erase(best);
      if (rest > 0) free_.emplace(offset + bytes, rest);
      return offset;
    }
    const size_t offset = top_;
    top_ += bytes;
    peak_ = std::max(peak_, top_);
    return offset;
  }

  void release(size_t offset, size_t bytes) {
    if (bytes == 0) return;
    auto next = free_.lower_bound(offset);
    if (next != free_.end() && offset + bytes == next->first) {
      bytes += next->second;
      next = free_.erase(next);
    }
    if (next != free_.begin()) {
      auto previous = std::prev(next);
      if (previous->first + previous->second == offset) {
        offset = previous->first;
        bytes += previous->second;
        free_.erase(previous);
      }
    }
    if (offset + bytes == top_) {
      top_ = offset;
    } else {
      free_.emplace(offset, bytes);
    }
  }

  size_t peak() const { return peak_; }

 private:
  std::map<size_t, size_t> free_;  // offset -> bytes, below top_
  size_t top_ = 0;
  size_t peak_ = 0;
};

size_t round_up(size_t bytes, size_t alignment) {
  return (bytes + alignment - 1) / alignment * alignment;
}

// What the description says about each value, checked.
struct Lifetimes {
  std::vector<int> written_at;  // step writing the value; -1: none
  std::vector<int> last_read;   // last step reading it (alias sources count); -1: none
};

Lifetimes check_and_measure(std::span<const PlanValue> values, std::span<const PlanStep> steps) {
  Lifetimes life{std::vector<int>(values.size(), -1), std::vector<int>(values.size(), -1)};
  auto check_id = [&](uint32_t id, size_t step, const char* role) {
    if (id >= values.size()) {
      malformed("step " + std::to_string(step) + " " + role + " value " + std::to_string(id) +
                " of " + std::to_string(values.size()));
    }
  };
  auto read = [&](uint32_t id, size_t step, const char* role) {
    check_id(id, step, role);
    if (!values[id].external && life.written_at[id] < 0) {
      malformed("step " + std::to_string(step) + " reads value " + std::to_string(id) +
                " before any step writes it");
    }
    life.last_read[id] = static_cast<int>(step);
  };
  for (size_t s = 0; s < steps.size(); ++s) {
    const PlanStep& step = steps[s];
    for (uint32_t id : step.reads) read(id, s, "reads");
    for (const PlanAlias& alias : step.aliases) read(alias.source, s, "aliases");
    for (uint32_t id : step.writes) {
      check_id(id, s, "writes");
      if (life.written_at[id] >= 0) {
        malformed("value " + std::to_string(id) + " is written by steps " +
                  std::to_string(life.written_at[id]) + " and " + std::to_string(s));
      }
      life.written_at[id] = static_cast<int>(s);
    }
    for (const PlanAlias& alias : step.aliases) {
      check_id(alias.value, s, "aliases");
      if (life.written_at[alias.value] != static_cast<int>(s)) {
        malformed("step " + std::to_string(s) + " aliases value " + std::to_string(alias.value) +
                  ", which it does not write");
      }
      if (alias.kind == AliasKind::kShared && values[alias.value].external) {
        malformed("step " + std::to_string(s) + ": external value " + std::to_string(alias.value) +
                  " cannot share another value's storage");
      }
    }
  }
  return life;
}

// Resolves which storage each value lives in, step by step. `last_use`
// ends up holding, per storage owner, the last step at which anything
// living in that storage is written or read.
// `shared` marks values that live in another's storage by the op's
// definition (kShared), as opposed to by the planner's choice.
void resolve_storage(std::span<const PlanValue> values, std::span<const PlanStep> steps,
                     const Lifetimes& life, std::vector<uint32_t>& storage,
                     std::vector<int>& last_use, std::vector<uint8_t>& shared) {
  for (uint32_t id = 0; id < values.size(); ++id) {
    storage[id] = id;
    last_use[id] = std::max(life.written_at[id], life.last_read[id]);
  }
  std::vector<uint32_t> claimed;  // storage owners taken by this step's aliases
  for (size_t s = 0; s < steps.size(); ++s) {
    const PlanStep& step = steps[s];
    claimed.clear();
    auto join = [&](uint32_t value, uint32_t owner) {
      storage[value] = owner;
      last_use[owner] = std::max(last_use[owner], last_use[value]);
      claimed.push_back(owner);
    };
    // Shared storage is what the op requires; settle it before optional
    // in-place updates ask for the same storage.
    for (const PlanAlias& alias : step.aliases) {
      if (alias.kind != AliasKind::kShared) continue;
      join(alias.value, storage[alias.source]);
      shared[alias.value] = 1;
    }
    for (const PlanAlias& alias : step.aliases) {
      if (alias.kind != AliasKind::kInPlaceIfDead || values[alias.value].external) continue;
      const uint32_t owner = storage[alias.source];
      // Inputs and bindings are not the plan's to overwrite; storage that is
      // read after this step still holds a value someone needs.
      if (values[owner].external || last_use[owner] > static_cast<int>(s)) continue;
      if (std::find(claimed.begin(), claimed.end(), owner) != claimed.end()) continue;
      // The step must read that storage only as the source itself, once:
      // the kernel may not read one argument while writing it as another.
      int reads_of_owner = 0;
      bool other_value = false;
      for (uint32_t id : step.reads) {
        if (storage[id] != owner) continue;
        ++reads_of_owner;
        other_value = other_value || id != alias.source;
      }
      if (reads_of_owner > 1 || other_value) continue;
      join(alias.value, owner);
    }
  }
}

}  // namespace

MemoryPlan plan_memory(std::span<const PlanValue> values, std::span<const PlanStep> steps,
                       size_t alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
    malformed("alignment " + std::to_string(alignment) + " is not a power of two");
  }
  const Lifetimes life = check_and_measure(values, steps);
  MemoryPlan plan;
  plan.storage.resize(values.size());
  plan.offset.assign(values.size(), MemoryPlan::kNoOffset);
  plan.released_after.assign(values.size(), -1);
  std::vector<int> last_use(values.size(), -1);
  std::vector<uint8_t> shared(values.size(), 0);
  resolve_storage(values, steps, life, plan.storage, last_use, shared);

  // Storage owned in the arena: placed when its owner is written, released
  // after the last step that touches anything living in it.
  auto owns_arena_storage = [&](uint32_t id) {
    return plan.storage[id] == id && !values[id].external && life.written_at[id] >= 0;
  };
  std::vector<std::vector<uint32_t>> release_after(steps.size());
  for (uint32_t id = 0; id < values.size(); ++id) {
    if (owns_arena_storage(id)) release_after[last_use[id]].push_back(id);
    // Without reuse every result has bytes of its own, in-place updates
    // included; views and mutated arguments never do.
    const bool in_arena = !values[id].external && !values[plan.storage[id]].external;
    if (in_arena && !shared[id] && life.written_at[id] >= 0) {
      plan.naive_bytes += round_up(values[id].bytes, alignment);
    }
  }
  Arena arena;
  for (size_t s = 0; s < steps.size(); ++s) {
    for (uint32_t id : steps[s].writes) {
      if (owns_arena_storage(id)) {
        plan.offset[id] = arena.allocate(round_up(values[id].bytes, alignment));
      }
    }
    for (uint32_t id : release_after[s]) {
      arena.release(plan.offset[id], round_up(values[id].bytes, alignment));
      plan.released_after[id] = static_cast<int>(s);
    }
  }
  for (uint32_t id = 0; id < values.size(); ++id) {
    const uint32_t owner = plan.storage[id];
    if (owner != id && owns_arena_storage(owner)) plan.offset[id] = plan.offset[owner];
  }
  plan.peak_bytes = arena.peak();
  return plan;
}

}  // namespace rtscope::kit
