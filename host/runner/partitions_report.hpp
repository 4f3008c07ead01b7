// Text of `rtscope-run --show-partitions`: each node of each model with the
// plugin the partitioner chose and its reason.
#pragma once

#include <string>
#include <vector>

#include "runner.hpp"

namespace rtscope::runner {

// One block per model:
//   model 'NAME': N nodes in P partitions
//     NODE (OP) -> PLUGIN: REASON
// Partitions are counted as runs of consecutive nodes on one plugin, the
// way the partitioner forms them.
std::string format_partitions(const std::vector<ModelPlacements>& models);

}  // namespace rtscope::runner
