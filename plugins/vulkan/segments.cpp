#include "segments.hpp"

#include <set>

#include "engine.hpp"
#include "error.hpp"
#include "kernels/op_spec.hpp"

namespace rtscope::vulkan {
namespace {

// The declared type of `name` in `graph` (an input, a listed value or an
// output); throws when the graph leaves it undeclared.
const ValueDesc& declared_value(const GraphDesc& graph, const std::string& name) {
  for (const auto* list : {&graph.inputs, &graph.values, &graph.outputs}) {
    for (const ValueDesc& value : *list) {
      if (value.name == name) return value;
    }
  }
  fail_invalid("graph '", graph.name, "': value '", name,
               "' crosses a data-dependent segment boundary but has no declared type; declare it "
               "among the graph's values");
}

const ConstantDesc* find_constant(const GraphDesc& graph, const std::string& name) {
  for (const ConstantDesc& constant : graph.constants) {
    if (constant.value.name == name) return &constant;
  }
  return nullptr;
}

}  // namespace

Segment::Segment() = default;
Segment::Segment(Segment&&) noexcept = default;
Segment& Segment::operator=(Segment&&) noexcept = default;
Segment::~Segment() = default;

std::vector<std::pair<size_t, size_t>> segment_ranges(const std::vector<uint8_t>& data_dependent) {
  std::vector<std::pair<size_t, size_t>> ranges;
  size_t begin = 0;
  for (size_t n = 0; n < data_dependent.size(); ++n) {
    if (!data_dependent[n]) continue;
    ranges.emplace_back(begin, n + 1);
    begin = n + 1;
  }
  if (begin < data_dependent.size()) ranges.emplace_back(begin, data_dependent.size());
  return ranges;
}

Segment build_segment(VulkanPlugin& plugin, uint32_t device, const GraphDesc& graph, size_t begin,
                      size_t end, bool ends_data_dependent, size_t index) {
  Segment segment;
  GraphDesc piece;
  piece.name = str_cat(graph.name, ".segment", index);

  std::set<std::string> produced_here;
  for (size_t n = begin; n < end; ++n) {
    for (const std::string& name : graph.nodes[n].outputs) produced_here.insert(name);
  }
  // Inputs: what the nodes read from outside the piece; constants stay
  // constants of the piece.
  std::set<std::string> seen;
  for (size_t n = begin; n < end; ++n) {
    const NodeDesc& node = graph.nodes[n];
    piece.nodes.push_back(node);
    for (const std::string& name : node.inputs) {
      if (produced_here.count(name) || !seen.insert(name).second) continue;
      if (const ConstantDesc* constant = find_constant(graph, name)) {
        piece.constants.push_back(*constant);
        continue;
      }
      piece.inputs.push_back(declared_value(graph, name));
      segment.inputs.push_back(name);
    }
  }
  // Outputs: what the graph returns or a later node reads, plus the
  // data-dependent node's output and the selector the host counts.
  std::set<std::string> needed;
  for (const ValueDesc& output : graph.outputs) needed.insert(output.name);
  for (size_t n = end; n < graph.nodes.size(); ++n) {
    for (const std::string& name : graph.nodes[n].inputs) needed.insert(name);
  }
  if (ends_data_dependent) {
    const NodeDesc& node = graph.nodes[end - 1];
    segment.selected = node.outputs[0];
    segment.selector = node.op == "masked_select" ? node.inputs[1] : node.inputs[0];
    segment.node_label = node.label();
    needed.insert(segment.selected);
    needed.insert(segment.selector);
  }
  for (size_t n = begin; n < end; ++n) {
    for (const std::string& name : graph.nodes[n].outputs) {
      if (!needed.count(name)) continue;
      piece.outputs.push_back(declared_value(graph, name));
      segment.outputs.push_back(name);
    }
  }
  // Intermediate declarations the piece's nodes produce.
  for (const ValueDesc& value : graph.values) {
    if (produced_here.count(value.name)) piece.values.push_back(value);
  }
  segment.engine = std::make_unique<Engine>(plugin, device, std::move(piece), Engine::kSegment);
  return segment;
}

}  // namespace rtscope::vulkan
