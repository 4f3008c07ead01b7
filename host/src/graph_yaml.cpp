// Graph YAML loader; the format is documented in docs/graph-format.md.
//
// The loader checks what only the file knows precisely (keys, scalar types,
// dtypes, shapes, names, op and attribute names) and points at the exact
// key or list entry; validate() then checks arity, types and cycles using
// the locations stored on every node and value.
#include "rtscope/graph_yaml.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>

#include "graph_yaml_values.hpp"
#include "regular_file.hpp"
#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_registry.hpp"
#include "yaml_util.hpp"

namespace rtscope {
namespace {

namespace fs = std::filesystem;
using graph_yaml::read_dtype;
using graph_yaml::read_shape;

// A name used before it is known to be defined, checked once all
// definitions are read.
struct Use {
  std::string name;
  YAML::Mark mark;
  std::string what;  // "input 'h' of node 'fc2'"
};

// Where a value name was defined, for duplicate-name messages.
struct Definition {
  std::string kind;  // "input", "weight", "state", "output of node 'fc1'"
  SourceLocation loc;
};

// Levenshtein distance, for "did you mean" hints on misspelled names.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// "list[i]" or "kind 'name'" when the entry has a readable name.
std::string entry_label(std::string_view kind, std::string_view list, std::size_t index,
                        const YAML::Node& entry) {
  if (entry.IsMap()) {
    const YAML::Node& const_entry = entry;
    YAML::Node name = const_entry["name"];
    if (name && name.IsScalar() && !name.Scalar().empty()) {
      return fmt::format("{} '{}'", kind, name.Scalar());
    }
  }
  return fmt::format("{}[{}]", list, index);
}

class Loader {
 public:
  Loader(const yaml::Source& source, fs::path base_dir)
      : source_(source), base_dir_(std::move(base_dir)) {}

  Graph load(const YAML::Node& root);

 private:
  YAML::Node list_or_empty(const yaml::Map& map, const std::string& key) const;
  void define(const std::string& name, std::string kind, const YAML::Mark& mark);
  void check_defined(const Use& use) const;
  ValueInfo read_value(const yaml::Map& map) const;
  void require_static(const ValueInfo& info, const yaml::Map& map) const;
  void read_inputs(const yaml::Map& root);
  void read_weights(const yaml::Map& root);
  WeightInit read_init(const yaml::Map& weight, const ValueInfo& info) const;
  void read_states(const yaml::Map& root);
  void read_nodes(const yaml::Map& root);
  void read_outputs(const yaml::Map& root);

  const yaml::Source& source_;
  fs::path base_dir_;
  Graph graph_;
  std::map<std::string, Definition> defined_;
  std::vector<Use> uses_;
};

Graph Loader::load(const YAML::Node& root) {
  YAML::Mark start;  // 0:0, where an empty document is reported
  start.line = 0;
  start.column = 0;
  yaml::Map map(source_, root, start, "the graph",
                {"name", "symbols", "inputs", "weights", "states", "nodes", "outputs"},
                {"name", "inputs", "nodes", "outputs"});
  graph_.name = map.string("name");
  graph_.loc = source_.at(map.mark());
  graph_.symbols = graph_yaml::read_symbols(source_, map);
  read_inputs(map);
  read_weights(map);
  read_states(map);
  read_nodes(map);
  read_outputs(map);
  for (const Use& use : uses_) check_defined(use);
  validate(graph_);
  return std::move(graph_);
}

YAML::Node Loader::list_or_empty(const yaml::Map& map, const std::string& key) const {
  if (!map.has(key) || map.get(key).IsNull()) return YAML::Node(YAML::NodeType::Sequence);
  return map.list(key);
}

void Loader::define(const std::string& name, std::string kind, const YAML::Mark& mark) {
  auto [it, inserted] = defined_.try_emplace(name, Definition{std::move(kind), source_.at(mark)});
  if (!inserted) {
    const Definition& first = it->second;
    source_.fail(mark, fmt::format("'{}' is already defined as {} at line {}, column {}; inputs, "
                                   "weights, states and node outputs share one namespace",
                                   name, first.kind, first.loc.line, first.loc.column));
  }
}

void Loader::check_defined(const Use& use) const {
  if (defined_.count(use.name)) return;
  std::string hint;
  // Suggest only names within two edits that keep part of the original.
  std::size_t best = std::min<std::size_t>(3, use.name.size());
  for (const auto& [name, def] : defined_) {
    std::size_t d = edit_distance(use.name, name);
    if (d < best) {
      best = d;
      hint = fmt::format(" (did you mean '{}'?)", name);
    }
  }
  source_.fail(use.mark, fmt::format("dangling tensor: {} is not defined; it must name a graph "
                                     "input, weight, state or node output{}",
                                     use.what, hint));
}

ValueInfo Loader::read_value(const yaml::Map& map) const {
  ValueInfo info;
  info.name = map.string("name");
  info.type.dtype = read_dtype(map);
  info.type.shape = read_shape(map, graph_.symbols);
  info.loc = source_.at(map.mark());
  return info;
}

void Loader::require_static(const ValueInfo& info, const yaml::Map& map) const {
  for (const Dim& d : info.type.shape) {
    if (!d.is_static()) {
      source_.fail(map.mark("shape"),
                   fmt::format("{} must have a static shape (its storage is allocated once); "
                               "'{}' is a symbol",
                               map.what(), d.symbol));
    }
  }
}

void Loader::read_inputs(const yaml::Map& root) {
  YAML::Node list = list_or_empty(root, "inputs");
  for (std::size_t i = 0; i < list.size(); ++i) {
    yaml::Map map(source_, list[i], root.mark("inputs"), entry_label("input", "inputs", i, list[i]),
                  {"name", "dtype", "shape"}, {"name", "dtype", "shape"});
    ValueInfo info = read_value(map);
    define(info.name, "an input", map.mark());
    graph_.inputs.push_back(std::move(info));
  }
}

void Loader::read_weights(const yaml::Map& root) {
  YAML::Node list = list_or_empty(root, "weights");
  for (std::size_t i = 0; i < list.size(); ++i) {
    yaml::Map map(source_, list[i], root.mark("weights"),
                  entry_label("weight", "weights", i, list[i]), {"name", "dtype", "shape", "init"},
                  {"name", "dtype", "shape"});
    Weight weight;
    weight.info = read_value(map);
    require_static(weight.info, map);
    weight.init = read_init(map, weight.info);
    define(weight.info.name, "a weight", map.mark());
    graph_.weights.push_back(std::move(weight));
  }
}

WeightInit Loader::read_init(const yaml::Map& weight, const ValueInfo& info) const {
  WeightInit init;
  if (!weight.has("init")) return init;
  yaml::Map map(source_, weight.get("init"), weight.mark("init"),
                fmt::format("init of {}", weight.what()), {"seed", "scale", "offset", "file"}, {});
  if (!map.has("file")) {
    if (map.has("seed")) init.seed = map.unsigned_integer("seed");
    if (map.has("scale")) init.scale = map.real("scale");
    if (map.has("offset")) init.offset = map.real("offset");
    return init;
  }
  if (map.has("seed") || map.has("scale") || map.has("offset")) {
    source_.fail(map.mark(), fmt::format("{} takes either 'file' or 'seed'/'scale'/'offset', "
                                         "not both",
                                         map.what()));
  }
  init.kind = WeightInit::Kind::file;
  fs::path path = base_dir_ / fs::path(map.string("file"));
  path = path.lexically_normal();
  init.path = path.string();
  // Checked here so a wrong path is reported at the line that names it
  // rather than when the weight is first materialized.
  const RegularFile file(path);
  if (file.missing()) {
    source_.fail(map.mark("file"), fmt::format("{}: weight file '{}' not found (relative paths "
                                               "are resolved against the graph file's directory)",
                                               map.what(), init.path));
  }
  if (!file.is_open()) {
    source_.fail(map.mark("file"),
                 fmt::format("{}: weight file '{}' is {}; give a file of raw little-endian values",
                             map.what(), init.path, file.problem()));
  }
  Shape shape;
  for (const Dim& d : info.type.shape) shape.push_back(d.value);
  const auto elements = checked::product<int64_t>(shape);
  const auto expected = elements ? checked::mul<uint64_t>(static_cast<uint64_t>(*elements),
                                                          dtype_size(info.type.dtype))
                                 : std::nullopt;
  if (!expected) {
    source_.fail(map.mark("file"), fmt::format("{}: {} needs more than 2^64 bytes (the size "
                                               "overflows); check the shape",
                                               map.what(), info.type.str()));
  }
  if (file.size() != *expected) {
    source_.fail(map.mark("file"),
                 fmt::format("{}: weight file '{}' holds {} bytes; {} needs {} (raw little-endian "
                             "values, row-major)",
                             map.what(), init.path, file.size(), info.type.str(), *expected));
  }
  return init;
}

void Loader::read_states(const yaml::Map& root) {
  YAML::Node list = list_or_empty(root, "states");
  for (std::size_t i = 0; i < list.size(); ++i) {
    yaml::Map map(source_, list[i], root.mark("states"), entry_label("state", "states", i, list[i]),
                  {"name", "dtype", "shape", "update"}, {"name", "dtype", "shape", "update"});
    StateBuffer state;
    state.info = read_value(map);
    require_static(state.info, map);
    state.update_from = map.string("update");
    uses_.push_back(Use{state.update_from, map.mark("update"),
                        fmt::format("update '{}' of {}", state.update_from, map.what())});
    define(state.info.name, "a state", map.mark());
    graph_.states.push_back(std::move(state));
  }
}

void Loader::read_nodes(const yaml::Map& root) {
  YAML::Node list = list_or_empty(root, "nodes");
  std::map<std::string, SourceLocation> node_names;
  for (std::size_t i = 0; i < list.size(); ++i) {
    yaml::Map map(source_, list[i], root.mark("nodes"), entry_label("node", "nodes", i, list[i]),
                  {"name", "op", "inputs", "outputs", "attrs"},
                  {"name", "op", "inputs", "outputs"});
    Node node;
    node.name = map.string("name");
    node.loc = source_.at(map.mark());
    auto [it, inserted] = node_names.try_emplace(node.name, node.loc);
    if (!inserted) {
      source_.fail(map.mark(), fmt::format("node name '{}' is already used at line {}, column {}",
                                           node.name, it->second.line, it->second.column));
    }
    node.op = map.string("op");
    const OpSchema* schema = find_op(node.op);
    if (schema == nullptr) {
      source_.fail(map.mark("op"), fmt::format("unknown op '{}' in {}; valid ops: {}", node.op,
                                               map.what(), yaml::join(op_names())));
    }
    YAML::Node inputs = map.list("inputs");
    for (std::size_t j = 0; j < inputs.size(); ++j) {
      YAML::Mark mark = yaml::mark_of(inputs[j], map.mark("inputs"));
      node.inputs.push_back(yaml::read_string(source_, inputs[j], mark,
                                              fmt::format("input {} of {}", j, map.what())));
      uses_.push_back(Use{node.inputs.back(), mark,
                          fmt::format("input '{}' of {}", node.inputs.back(), map.what())});
    }
    YAML::Node outputs = map.list("outputs");
    for (std::size_t j = 0; j < outputs.size(); ++j) {
      YAML::Mark mark = yaml::mark_of(outputs[j], map.mark("outputs"));
      node.outputs.push_back(yaml::read_string(source_, outputs[j], mark,
                                               fmt::format("output {} of {}", j, map.what())));
      define(node.outputs.back(), fmt::format("an output of {}", map.what()), mark);
    }
    node.attrs = graph_yaml::read_attrs(map, *schema, map.what());
    graph_.nodes.push_back(std::move(node));
  }
}

void Loader::read_outputs(const yaml::Map& root) {
  YAML::Node list = root.list("outputs");
  for (std::size_t i = 0; i < list.size(); ++i) {
    YAML::Mark mark = yaml::mark_of(list[i], root.mark("outputs"));
    std::string name = yaml::read_string(source_, list[i], mark, fmt::format("outputs[{}]", i));
    for (const std::string& earlier : graph_.outputs) {
      if (earlier == name)
        source_.fail(mark, fmt::format("graph output '{}' is listed twice", name));
    }
    uses_.push_back(Use{name, mark, fmt::format("graph output '{}'", name)});
    graph_.outputs.push_back(std::move(name));
  }
}

}  // namespace

Graph parse_graph_yaml(const std::string& text, const std::string& file_name) {
  yaml::Source source(file_name);
  YAML::Node root = source.parse(text);
  return Loader(source, fs::path(file_name).parent_path()).load(root);
}

Graph load_graph_yaml(const std::filesystem::path& path) {
  // Opened without blocking and checked to be a regular file first: a FIFO
  // would wait for a writer and /dev/zero would never end.
  const RegularFile file(path);
  if (!file.is_open()) {
    if (file.missing()) throw InputError(fmt::format("{}: graph file not found", path.string()));
    if (!file.kind().empty()) {
      throw InputError(fmt::format("{}: is {}, not a graph file", path.string(), file.kind()));
    }
    throw InputError(fmt::format("{}: graph file {}", path.string(), file.problem()));
  }
  std::string text(file.size(), '\0');
  if (!file.read_all(text.data(), text.size())) {
    throw InputError(
        fmt::format("{}: cannot read graph file: {}", path.string(), std::strerror(errno)));
  }
  return parse_graph_yaml(text, path.string());
}

}  // namespace rtscope
