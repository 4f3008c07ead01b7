#include <map>
#include <set>

#include "abi_graph.hpp"
#include "rtscope/error.hpp"
#include "rtscope/log.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"

namespace rtscope {
namespace {

struct Answer {
  bool supported = false;
  bool needs_output_allocation = false;
  std::string detail;
};

Answer ask(const Plugin& plugin, const AbiNode& node) {
  const rts_support support = plugin.query_node(0, node.node(), node.inputs(), node.outputs());
  return {support.supported != 0, support.needs_output_allocation != 0,
          support.detail ? support.detail : ""};
}

// Fills inputs/outputs of each partition from the values its nodes read and
// write.
void connect(const Graph& graph, std::vector<Partition>& partitions) {
  std::set<std::string> weights;
  for (const auto& w : graph.weights) weights.insert(w.info.name);
  std::set<std::string> escaping(graph.outputs.begin(), graph.outputs.end());
  for (const auto& s : graph.states) escaping.insert(s.update_from);

  std::map<std::string, std::size_t> producer;  // value -> partition index
  for (std::size_t p = 0; p < partitions.size(); ++p) {
    for (std::size_t n : partitions[p].nodes) {
      for (const auto& out : graph.nodes[n].outputs) producer[out] = p;
    }
  }
  std::vector<std::set<std::string>> needed_outputs(partitions.size());
  for (std::size_t p = 0; p < partitions.size(); ++p) {
    std::set<std::string> seen;
    for (std::size_t n : partitions[p].nodes) {
      for (const auto& in : graph.nodes[n].inputs) {
        if (weights.count(in)) continue;
        auto it = producer.find(in);
        if (it != producer.end() && it->second == p) continue;
        if (seen.insert(in).second) partitions[p].inputs.push_back(in);
        if (it != producer.end()) needed_outputs[it->second].insert(in);
      }
    }
  }
  for (std::size_t p = 0; p < partitions.size(); ++p) {
    for (std::size_t n : partitions[p].nodes) {
      for (const auto& out : graph.nodes[n].outputs) {
        if (escaping.count(out) || needed_outputs[p].count(out)) {
          partitions[p].outputs.push_back(out);
        }
      }
    }
  }
}

}  // namespace

std::vector<Partition> partition_graph(const Graph& graph, PluginRegistry& registry,
                                       const CompileOptions& options,
                                       std::vector<NodePlacement>* placements) {
  if (options.fallback_data_dependent_ops && options.require_full_compilation) {
    throw InputError(
        "compile options fallback_data_dependent_ops and require_full_compilation conflict: "
        "falling back moves nodes off the first backend, which full compilation forbids; "
        "enable at most one");
  }
  std::vector<std::shared_ptr<Plugin>> backends;
  for (const auto& id : options.backends) backends.push_back(registry.get(id));
  if (backends.empty()) throw InputError("no backends given for the model: set `backends:`");

  std::vector<Partition> partitions;
  std::vector<std::string> rejected_by_first;
  for (std::size_t n = 0; n < graph.nodes.size(); ++n) {
    const Node& node = graph.nodes[n];
    AbiNode abi(node, graph);
    std::string chosen;
    std::string reason;
    std::string refusals;
    std::string declines;  // the same, on one line, for the placement reason
    const auto decline = [&](const std::string& plugin, const std::string& why) {
      refusals += "\n  " + plugin + ": " + why;
      declines += (declines.empty() ? "" : "; ") + plugin + ": " + why;
    };
    for (std::size_t b = 0; b < backends.size(); ++b) {
      const Answer answer = ask(*backends[b], abi);
      if (!answer.supported) {
        decline(backends[b]->id(), answer.detail.empty() ? "unsupported" : answer.detail);
        continue;
      }
      const bool last = b + 1 == backends.size();
      if (options.fallback_data_dependent_ops && answer.needs_output_allocation && !last) {
        decline(backends[b]->id(),
                "kernel needs a data-dependent output allocation (fallback_data_dependent_ops)");
        continue;
      }
      chosen = backends[b]->id();
      reason =
          b == 0 ? "first backend supports it" : "earlier backends declined [" + declines + "]";
      if (!answer.detail.empty()) reason += " (" + answer.detail + ")";
      if (b != 0) rejected_by_first.push_back(node.name + " (" + node.op + ")");
      break;
    }
    if (chosen.empty()) {
      throw InputError(node.loc.str() + ": node '" + node.name + "' (" + node.op +
                       ") is supported by no backend:" + refusals);
    }
    log().debug("node '{}' ({}) -> {}: {}", node.name, node.op, chosen, reason);
    if (placements) placements->push_back({node.name, node.op, chosen, reason});
    if (partitions.empty() || partitions.back().plugin != chosen) {
      partitions.push_back(Partition{chosen, {}, {}, {}});
    }
    partitions.back().nodes.push_back(n);
  }
  if (options.require_full_compilation && !rejected_by_first.empty()) {
    std::string list;
    for (const auto& r : rejected_by_first) list += "\n  " + r;
    throw InputError("require_full_compilation: backend '" + options.backends[0] +
                     "' cannot take these nodes:" + list);
  }
  connect(graph, partitions);
  return partitions;
}

}  // namespace rtscope
