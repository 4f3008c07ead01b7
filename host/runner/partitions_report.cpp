#include "partitions_report.hpp"

#include <fmt/format.h>

namespace rtscope::runner {

std::string format_partitions(const std::vector<ModelPlacements>& models) {
  std::string text;
  for (const ModelPlacements& model : models) {
    std::size_t partitions = 0;
    for (std::size_t i = 0; i < model.nodes.size(); ++i) {
      if (i == 0 || model.nodes[i].plugin != model.nodes[i - 1].plugin) ++partitions;
    }
    text += fmt::format("model '{}': {} nodes in {} partition{}\n", model.model, model.nodes.size(),
                        partitions, partitions == 1 ? "" : "s");
    for (const NodePlacement& node : model.nodes) {
      text += fmt::format("  {} ({}) -> {}: {}\n", node.node, node.op, node.plugin, node.reason);
    }
  }
  return text;
}

}  // namespace rtscope::runner
