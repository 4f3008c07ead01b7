// Elementwise chains in a whole-graph capture: consecutive f32 nodes of
// add, sub, mul, scale and relu over one small shape, each reading the
// value the one before it wrote and nothing else reading that value, are
// recorded as one replay step. The step keeps the running value in
// registers, 16 elements at a time, and stores only the last node's
// output; the values between the nodes are never written. Node by node, a
// replay of such a chain waits at every node for the store of the one
// before it to reach the load of the next (a few ns per node however small
// the tensor): that is the cost this step removes.
//
// The arithmetic is the nodes' own, in their order (x + y, x * factor,
// x > 0 ? x : 0, ...), one IEEE f32 operation per node and element, so a
// chained replay gives the floats the unchained kernels give.
//
// Only tensors that every node would have run inline (at most their grain
// of elements: no pool) are chained, and not under RTSCOPE_CPU_PROFILE,
// whose rows are per node.
#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "execution_plan.hpp"
#include "kernels/step_list.hpp"

namespace rtscope::cpu {

class Engine;

// Per value id: how many node inputs read it, plus 2 for an engine output
// (which a chain never absorbs).
std::vector<int> count_readers(const Engine& engine);

// Records the chain starting at node `first` into `steps` when there is
// one of at least two nodes; returns how many nodes it covers (0: none,
// record `first` on its own). `storage` is where each value lives in the
// capture (per value id).
size_t record_elementwise_chain(const Engine& engine, const ExecutionPlan& plan,
                                std::span<void* const> storage, std::span<const int> readers,
                                size_t first, StepList& steps);

}  // namespace rtscope::cpu
