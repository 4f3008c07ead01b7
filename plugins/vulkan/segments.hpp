// Segments: how an engine with data-dependent nodes (nonzero without
// max_count, masked_select) runs. The graph is cut after each such node;
// every piece is an ordinary engine with static shapes per execute. A
// segment ends with its data-dependent node, whose output the kernel writes
// into a buffer sized for the worst case: after the segment's submit
// completes (the sync point), the host counts the selected elements,
// trims that output to the count, and the next segment is planned for the
// real shapes. The engine's outputs are allocated at their exact size
// through the host's allocator once the last segment ran.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kit_names.hpp"

namespace rtscope::vulkan {

class Engine;
class VulkanPlugin;

struct Segment {
  Segment();
  Segment(Segment&&) noexcept;
  Segment& operator=(Segment&&) noexcept;
  ~Segment();

  std::unique_ptr<Engine> engine;
  // Value names bound to the segment engine's inputs and outputs, in order.
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  // The data-dependent node the segment ends with: its output (cut to the
  // count after the run) and the value whose nonzero elements decide the
  // count (nonzero's x, masked_select's mask). Empty for the last segment
  // when the graph ends without a data-dependent node.
  std::string selected;
  std::string selector;
  std::string node_label;
};

// The node ranges [begin, end) of the segments: each ends after a
// data-dependent node, the last one at the end of the graph.
std::vector<std::pair<size_t, size_t>> segment_ranges(const std::vector<uint8_t>& data_dependent);

// Builds the segment engine for nodes [begin, end) of `graph`.
Segment build_segment(VulkanPlugin& plugin, uint32_t device, const GraphDesc& graph, size_t begin,
                      size_t end, bool ends_data_dependent, size_t index);

}  // namespace rtscope::vulkan
