// An execution plan: everything about an execute that depends only on the
// concrete input shapes. It holds the shape of every value, where each
// value lives (intermediates at offsets in one arena, laid out by the
// alias-aware memory planner), and which kernel runs each node. Contexts
// cache plans per input-shape signature.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "fusion.hpp"
#include "kernels/op_spec.hpp"
#include "kit_names.hpp"
#include "rtscope/kit/settings.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

class Engine;

// The settings a context was created with (rts_runtime_settings, copied).
using kit::ContextSettings;

enum class Storage : uint8_t {
  kInput,     // the input binding `index`
  kConstant,  // engine constant `index`
  kArena,     // the context's arena at `offset`
  kView,      // the bytes of value `index` (never itself a view)
  kOutput,    // the output binding `index` (or the context's stand-in for it)
  kUnused,    // between the members of a fused group: never stored
};

struct Placement {
  Storage storage = Storage::kArena;
  uint32_t index = 0;  // input, constant, output or (kView) root value
  size_t offset = 0;   // kArena only
};

struct ExecutionPlan {
  uint64_t id = 0;                   // unique within its context
  std::vector<Dims> dims;            // per value id
  std::vector<Placement> placement;  // per value id
  // Intermediates live in one arena; values whose lifetimes do not overlap
  // share bytes, and an in-place kv_cache_update shares its cache's.
  size_t arena_bytes = 0;
  size_t naive_bytes = 0;          // every intermediate in a buffer of its own
  std::vector<uint8_t> skip_node;  // 1: the node's output is a view, nothing runs
  // Fusion (fusion.hpp): the groups, in the order they run, and per node
  // the group it belongs to (-1: none). A group runs in place of its last
  // member; its other members run nothing.
  std::vector<FusedGroup> groups;
  std::vector<int32_t> group_of;
  size_t run_nodes = 0;  // kernels one execute runs: nodes not skipped, a group counting once
  // Per node: the kernel that runs. Generic when the plan is built;
  // specialization.cpp installs the measured choice of every tunable node
  // at once (`specialized`), between executes.
  std::vector<KernelFn> kernels;
  // Per node; meaningful once specialized. Holds what variants prepared
  // (packed weights), so the plan owns them.
  std::vector<KernelTuning> tuning;
  size_t prepared_bytes = 0;         // held by the prepared states in `tuning`
  std::vector<const char*> variant;  // per node: the chosen variant's name, or nullptr
  std::vector<uint8_t> tunable;      // per node: the op offers specialized variants
  size_t tunable_nodes = 0;
  bool specialized = false;
  size_t conversion_bytes = 0;  // f16 <-> f32 scratch of the largest node
  // Nodes from the engine's first data-dependent node on are dynamic: their
  // output shapes depend on input values. `dims` holds their worst case
  // (every element selected), which the arena reserves, and the context
  // resolves the real dims on every execute. Dynamic engine outputs live in
  // the arena and are copied into a binding sized after the run. Dynamic
  // nodes always run their generic kernel.
  size_t first_dynamic_node = 0;       // nodes.size(): none
  std::vector<uint8_t> dynamic_value;  // per value id: produced by a dynamic node
  std::vector<size_t> planned_bytes;   // per value id: bytes at `dims`

  // Whether nothing runs at `node`: a view, or a fused member other than
  // its group's last.
  bool runs_nothing(size_t node) const {
    return skip_node[node] != 0 || (group_of[node] >= 0 && !runs_group(node));
  }
  // Whether `node` is the last member of a group: the group runs there.
  bool runs_group(size_t node) const {
    return group_of[node] >= 0 && groups[group_of[node]].nodes.back() == node;
  }

  // What a node's kernel gets as tuning: nullptr keeps generic defaults.
  const KernelTuning* tuning_for(size_t node) const {
    return specialized && tunable[node] ? &tuning[node] : nullptr;
  }
};

// Infers every shape from `input_dims` (one per engine input, in order),
// checks them against the graph's declarations, and assigns storage with
// alias-aware reuse (memory_planner.hpp): a buffer is released as soon as
// nothing live aliases it. Throws Error naming the node and shapes on a
// mismatch. With `fuse`, elementwise chains fuse into the kernels around
// them (fusion.hpp).
ExecutionPlan build_plan(const Engine& engine, std::span<const Dims> input_dims,
                         const ContextSettings& settings, bool fuse = false);

// A node's row in RTSCOPE_CPU_PROFILE: its name, the kernel `plan` runs
// it with (the tuned variant and grain once specialized) and its first
// output's shape.
std::string node_profile_label(const Engine& engine, const ExecutionPlan& plan, size_t node);
// The row of fused group `group`: its members, the product's kernel (or
// what the group runs) and the output shape.
std::string group_profile_label(const Engine& engine, const ExecutionPlan& plan, size_t group);

// Bytes of f32 scratch one converted tensor takes, rounded up so that every
// scratch tensor stays aligned.
size_t conversion_slot_bytes(int64_t elements);

}  // namespace rtscope::cpu
