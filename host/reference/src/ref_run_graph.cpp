// run_graph(): executes a validated graph node by node in float64.
#include <map>
#include <string>

#include "rtscope/error.hpp"
#include "rtscope/reference/reference.hpp"

namespace rtscope::reference {
namespace {

std::string where(const SourceLocation& loc) {
  const std::string text = loc.str();
  return text.empty() ? "" : text + ": ";
}

// Checks a given tensor against its declared type; symbols must take one
// value across all inputs.
void check_against(const RefTensor& tensor, const ValueInfo& info, const std::string& kind,
                   std::map<std::string, int64_t>& symbols) {
  const std::string what = "reference: " + kind + " '" + info.name + "' declared " +
                           info.type.str() + " was given " + std::string(to_string(tensor.dtype)) +
                           shape_to_string(tensor.shape);
  bool matches = tensor.dtype == info.type.dtype && tensor.shape.size() == info.type.shape.size() &&
                 static_cast<int64_t>(tensor.data.size()) == element_count(tensor.shape);
  for (std::size_t d = 0; matches && d < tensor.shape.size(); ++d) {
    const Dim& dim = info.type.shape[d];
    if (dim.is_static()) {
      matches = dim.value == tensor.shape[d];
    } else if (auto [it, inserted] = symbols.emplace(dim.symbol, tensor.shape[d]); !inserted) {
      if (it->second != tensor.shape[d]) {
        throw InputError(what + ": symbol '" + dim.symbol + "' is " +
                         std::to_string(tensor.shape[d]) + " here but " +
                         std::to_string(it->second) + " in another input");
      }
    }
  }
  if (!matches) throw InputError(what);
}

RefTensor zeros_of(const ValueInfo& info) {
  RefTensor tensor{info.type.dtype, {}, {}};
  for (const Dim& dim : info.type.shape) tensor.shape.push_back(dim.value);
  tensor.data.assign(static_cast<std::size_t>(element_count(tensor.shape)), 0.0);
  return tensor;
}

}  // namespace

std::map<std::string, RefTensor> run_graph(const Graph& graph,
                                           const std::map<std::string, RefTensor>& inputs,
                                           std::map<std::string, RefTensor>& states) {
  if (graph.values.empty() && !graph.nodes.empty()) {
    throw InputError("reference: graph '" + graph.name +
                     "' has not been validated; call "
                     "validate(graph) first (it also orders the nodes)");
  }
  std::map<std::string, RefTensor> env;
  std::map<std::string, int64_t> symbols;
  for (const ValueInfo& info : graph.inputs) {
    auto it = inputs.find(info.name);
    if (it == inputs.end()) {
      throw InputError("reference: graph '" + graph.name + "' input '" + info.name + "' (" +
                       info.type.str() + ") was not given");
    }
    check_against(it->second, info, "input", symbols);
    env[info.name] = it->second;
  }
  for (const Weight& weight : graph.weights) {
    // materialize_weight stores the weight's dtype, so f16 weights reach the
    // reference already rounded to half, exactly as backends see them.
    env[weight.info.name] = RefTensor::from(materialize_weight(weight));
  }
  for (const StateBuffer& state : graph.states) {
    auto it = states.find(state.info.name);
    if (it == states.end()) {
      env[state.info.name] = zeros_of(state.info);
    } else {
      check_against(it->second, state.info, "state", symbols);
      env[state.info.name] = it->second;
    }
  }

  for (const Node& node : graph.nodes) {
    std::vector<RefTensor> args;
    for (const std::string& input : node.inputs) args.push_back(env.at(input));
    std::vector<RefTensor> results;
    try {
      results = run_op(node.op, args, node.attrs);
    } catch (const InputError& e) {
      throw InputError(where(node.loc) + "node '" + node.name + "' (" + node.op + "): " + e.what());
    }
    for (std::size_t i = 0; i < results.size() && i < node.outputs.size(); ++i) {
      env[node.outputs[i]] = std::move(results[i]);
    }
  }

  // Read every update before writing any, so a state updated from another
  // state sees the value from this execute's start.
  std::map<std::string, RefTensor> updated;
  for (const StateBuffer& state : graph.states)
    updated[state.info.name] = env.at(state.update_from);
  for (auto& [name, value] : updated) states[name] = std::move(value);

  std::map<std::string, RefTensor> outputs;
  for (const std::string& name : graph.outputs) outputs[name] = env.at(name);
  return outputs;
}

}  // namespace rtscope::reference
