// validate(): checks a Graph, sorts its nodes topologically and infers the
// type of every value. Every error starts with the location of the thing at
// fault so YAML authors can jump to it.
#include <functional>
#include <map>
#include <queue>
#include <stdexcept>
#include <string>
#include <vector>

#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"
#include "rtscope/graph.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope {
namespace {

// Where a named value was defined, for duplicate and dangling messages.
struct Definition {
  std::string kind;  // "graph input", "weight", "state", "output of node 'n'"
  SourceLocation loc;
  int producer = -1;  // index of the producing node, or -1
};

class Validator {
 public:
  explicit Validator(Graph& graph) : graph_(graph) {}

  void run() {
    graph_.values.clear();
    check_symbols();
    collect_definitions();
    check_nodes();
    sort_nodes();
    infer_types();
    check_states_and_outputs();
  }

 private:
  // The location to report: the thing's own, else the graph's, else a name.
  std::string where(const SourceLocation& loc) const {
    if (std::string text = loc.str(); !text.empty()) return text;
    if (std::string text = graph_.loc.str(); !text.empty()) return text;
    return "graph '" + graph_.name + "'";
  }

  std::string node_prefix(const Node& node) const {
    return where(node.loc) + ": node '" + node.name + "' (" + node.op + "): ";
  }

  [[noreturn]] void fail_at(const SourceLocation& loc, const std::string& message) const {
    throw InputError(where(loc) + ": " + message);
  }

  void check_symbols() {
    for (const auto& [symbol, range] : graph_.symbols) {
      if (!(0 <= range.min && range.min <= range.opt && range.opt <= range.max)) {
        fail_at(graph_.loc, "symbol '" + symbol + "' has range min " + std::to_string(range.min) +
                                " opt " + std::to_string(range.opt) + " max " +
                                std::to_string(range.max) +
                                "; it must satisfy 0 <= min <= opt <= max");
      }
    }
  }

  void check_declared_type(const ValueInfo& info, const std::string& kind, bool needs_static) {
    for (const Dim& dim : info.type.shape) {
      if (dim.is_static() && dim.value < 0) {
        fail_at(info.loc, kind + " '" + info.name + "' has an invalid dim " + dim.str() + " in " +
                              info.type.str() + "; use a symbol name for a dynamic dim");
      }
      if (needs_static && !dim.is_static()) {
        fail_at(info.loc, kind + " '" + info.name + "' must have a static shape, got " +
                              info.type.str() + " (" + kind + "s are allocated once)");
      }
    }
    if (needs_static) {
      // Its storage is allocated from this shape: a size that wraps around
      // would allocate a few bytes and write far past them.
      Shape shape;
      for (const Dim& dim : info.type.shape) shape.push_back(dim.value);
      const auto elements = checked::product<int64_t>(shape);
      if (!elements ||
          !checked::mul<uint64_t>(static_cast<uint64_t>(*elements), dtype_size(info.type.dtype))) {
        fail_at(info.loc, kind + " '" + info.name + "' " + info.type.str() +
                              " needs more than 2^64 bytes (the size overflows); check the shape");
      }
    }
  }

  void define(const std::string& name, Definition definition) {
    if (name.empty()) fail_at(definition.loc, definition.kind + " has an empty name");
    auto [it, inserted] = definitions_.emplace(name, definition);
    if (!inserted) {
      fail_at(definition.loc, "duplicate name '" + name + "': defined as " + definition.kind +
                                  " here and already as " + it->second.kind + " at " +
                                  where(it->second.loc) + "; rename one of them");
    }
  }

  void collect_definitions() {
    for (const ValueInfo& input : graph_.inputs) {
      check_declared_type(input, "graph input", false);
      define(input.name, {"graph input", input.loc});
    }
    for (const Weight& weight : graph_.weights) {
      check_declared_type(weight.info, "weight", true);
      define(weight.info.name, {"weight", weight.info.loc});
    }
    for (const StateBuffer& state : graph_.states) {
      check_declared_type(state.info, "state", true);
      define(state.info.name, {"state", state.info.loc});
    }
    std::map<std::string, SourceLocation> node_names;
    for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
      const Node& node = graph_.nodes[i];
      if (node.name.empty()) fail_at(node.loc, "a node of op '" + node.op + "' has an empty name");
      auto [it, inserted] = node_names.emplace(node.name, node.loc);
      if (!inserted) {
        fail_at(node.loc, "duplicate name '" + node.name + "': a node of that name is already at " +
                              where(it->second) + "; rename one of them");
      }
      for (const std::string& output : node.outputs) {
        define(output, {"output of node '" + node.name + "'", node.loc, static_cast<int>(i)});
      }
    }
  }

  static std::string join(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
    return text;
  }

  void check_nodes() {
    for (Node& node : graph_.nodes) {
      const OpSchema* schema = find_op(node.op);
      if (schema == nullptr) {
        fail_at(node.loc, "node '" + node.name + "': unknown op '" + node.op +
                              "'; valid ops: " + join(op_names()));
      }
      const std::string count_error =
          schema::check_input_count(*schema, static_cast<int>(node.inputs.size()));
      if (!count_error.empty()) throw InputError(node_prefix(node) + count_error);
      if (static_cast<int>(node.outputs.size()) != schema->num_outputs) {
        throw InputError(node_prefix(node) + "has " + std::to_string(node.outputs.size()) +
                         " outputs; op '" + node.op + "' produces " +
                         std::to_string(schema->num_outputs));
      }
      try {
        // Stored resolved so later stages read defaults with attr_*().
        node.attrs = resolve_attrs(*schema, node.attrs);
      } catch (const InputError& e) {
        throw InputError(node_prefix(node) + e.what());
      }
      for (const std::string& input : node.inputs) {
        if (!definitions_.count(input)) {
          throw InputError(node_prefix(node) + "dangling tensor '" + input +
                           "': no graph input, weight, state or node output has that name");
        }
      }
    }
  }

  // Kahn's algorithm, always taking the ready node that came first in the
  // file so a graph already in order keeps its order.
  void sort_nodes() {
    const std::size_t count = graph_.nodes.size();
    std::vector<std::vector<std::size_t>> consumers(count);
    std::vector<int> pending(count, 0);
    for (std::size_t i = 0; i < count; ++i) {
      for (const std::string& input : graph_.nodes[i].inputs) {
        const int producer = definitions_.at(input).producer;
        if (producer < 0) continue;
        consumers[producer].push_back(i);
        ++pending[i];
      }
    }
    std::priority_queue<std::size_t, std::vector<std::size_t>, std::greater<>> ready;
    for (std::size_t i = 0; i < count; ++i) {
      if (pending[i] == 0) ready.push(i);
    }
    std::vector<std::size_t> order;
    while (!ready.empty()) {
      const std::size_t next = ready.top();
      ready.pop();
      order.push_back(next);
      for (std::size_t consumer : consumers[next]) {
        if (--pending[consumer] == 0) ready.push(consumer);
      }
    }
    if (order.size() != count) report_cycle(pending);

    std::vector<Node> sorted;
    sorted.reserve(count);
    for (std::size_t index : order) sorted.push_back(std::move(graph_.nodes[index]));
    graph_.nodes = std::move(sorted);
  }

  // Every node left unsorted waits on another unsorted node, so walking
  // producers from any of them must revisit a node: that loop is a cycle.
  [[noreturn]] void report_cycle(const std::vector<int>& pending) const {
    std::size_t current = 0;
    while (pending[current] == 0) ++current;
    std::vector<std::size_t> path;
    std::vector<int> seen_at(graph_.nodes.size(), -1);
    while (seen_at[current] < 0) {
      seen_at[current] = static_cast<int>(path.size());
      path.push_back(current);
      for (const std::string& input : graph_.nodes[current].inputs) {
        const int producer = definitions_.at(input).producer;
        if (producer >= 0 && pending[producer] > 0) {
          current = static_cast<std::size_t>(producer);
          break;
        }
      }
    }
    // path[seen_at[current]..] walks against the data flow; print it along.
    std::vector<std::size_t> cycle(path.begin() + seen_at[current], path.end());
    std::string chain;
    for (auto it = cycle.rbegin(); it != cycle.rend(); ++it) {
      chain += "'" + graph_.nodes[*it].name + "' -> ";
    }
    chain += "'" + graph_.nodes[cycle.back()].name + "'";
    const Node& node = graph_.nodes[cycle.back()];
    throw InputError(node_prefix(node) + "is part of a cycle: " + chain +
                     "; a node cannot depend on its own output (use a state buffer to carry "
                     "values across executes)");
  }

  void infer_types() {
    for (const ValueInfo& input : graph_.inputs) graph_.values[input.name] = input.type;
    for (const Weight& weight : graph_.weights) graph_.values[weight.info.name] = weight.info.type;
    for (const StateBuffer& state : graph_.states) {
      graph_.values[state.info.name] = state.info.type;
    }
    for (const Node& node : graph_.nodes) {
      const OpSchema& schema = *find_op(node.op);
      std::vector<ValueType> inputs;
      for (const std::string& input : node.inputs) inputs.push_back(graph_.values.at(input));
      std::vector<ValueType> outputs;
      try {
        outputs = schema.infer(inputs, node.attrs);
      } catch (const std::invalid_argument& e) {
        throw InputError(node_prefix(node) + e.what());
      } catch (const InputError& e) {
        throw InputError(node_prefix(node) + e.what());
      }
      if (outputs.size() != node.outputs.size()) {
        throw InputError(node_prefix(node) + "type inference returned " +
                         std::to_string(outputs.size()) + " types for " +
                         std::to_string(node.outputs.size()) + " outputs (a bug in op '" + node.op +
                         "')");
      }
      for (std::size_t i = 0; i < outputs.size(); ++i) {
        SymShape& shape = outputs[i].shape;
        for (std::size_t d = 0; d < shape.size(); ++d) {
          if (schema::is_fresh(shape[d])) {
            shape[d] = Dim::named(node.outputs[i] + "_d" + std::to_string(d));
          } else if (schema::is_data_dependent(shape[d])) {
            const int64_t bound = shape[d].value;
            shape[d] = Dim::named(node.outputs[i] + "_n");
            if (bound >= 0) graph_.symbols[shape[d].symbol] = SymbolRange{0, bound, bound};
          }
        }
        graph_.values[node.outputs[i]] = outputs[i];
      }
    }
  }

  void check_states_and_outputs() {
    for (const StateBuffer& state : graph_.states) {
      const std::string what = "state '" + state.info.name + "'";
      auto it = graph_.values.find(state.update_from);
      if (state.update_from.empty() || it == graph_.values.end()) {
        fail_at(state.info.loc, what + " is updated from '" + state.update_from +
                                    "', which is not a value of the graph; set update_from "
                                    "to a node output");
      }
      if (!(it->second == state.info.type)) {
        fail_at(state.info.loc, what + " has type " + state.info.type.str() +
                                    " but its update_from '" + state.update_from + "' has type " +
                                    it->second.str());
      }
    }
    for (const std::string& output : graph_.outputs) {
      if (!graph_.values.count(output)) {
        fail_at(graph_.loc,
                "graph output '" + output + "' is not a graph input, weight, state or node output");
      }
    }
  }

  Graph& graph_;
  std::map<std::string, Definition> definitions_;
};

}  // namespace

void validate(Graph& graph) { Validator(graph).run(); }

}  // namespace rtscope
