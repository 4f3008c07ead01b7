#include "run_config.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string_view>

#include "duration.hpp"
#include "rtscope/error.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/runtime_settings.hpp"
#include "yaml_util.hpp"

namespace rtscope::runner {
namespace {

using yaml::has_mark;
using yaml::location_prefix;

using Keys = std::vector<std::string_view>;

// A node being parsed with what error messages need: its key path, the
// closest location in the file, and the --set that produced it, if any.
struct Item {
  YAML::Node node;
  std::string path;
  YAML::Mark mark;
  std::string set_by;  // "path=value" of the override covering this node

  bool present() const { return node.IsDefined() && !node.IsNull(); }
};

class Reader {
 public:
  Reader(std::string file, std::map<std::string, std::string> overrides)
      : file_(std::move(file)), overrides_(std::move(overrides)) {}

  Item root(const YAML::Node& node) const {
    Item item{node, "", node.Mark(), ""};
    if (!has_mark(node)) item.mark = YAML::Mark();  // line 0 col 0 -> "file:1:1"
    return item;
  }

  // The value of `key` in the map `parent` (undefined when absent).
  Item child(const Item& parent, const std::string& key) const {
    const YAML::Node& map = parent.node;
    return make_child(parent, map.IsMap() ? map[key] : YAML::Node(YAML::NodeType::Undefined), key,
                      YAML::Mark::null_mark());
  }

  Item element(const Item& parent, std::size_t index) const {
    return make_child(parent, parent.node[index], std::to_string(index), YAML::Mark::null_mark());
  }

  [[noreturn]] void fail(const Item& at, std::string_view message) const {
    std::string text = location_prefix(file_, at.mark);
    if (!at.path.empty()) text += at.path + ": ";
    text += message;
    if (!at.set_by.empty()) text += fmt::format(" (set by --set {})", at.set_by);
    throw InputError(text);
  }

  // "file:line:col: " of an item, for errors raised after parsing.
  std::string where(const Item& at) const {
    std::string text = location_prefix(file_, at.mark);
    if (!at.path.empty()) text += at.path + ": ";
    return text;
  }

  // Requires a map (or null: an empty map) whose keys are unique scalars
  // from `valid` (any key when null); returns (key, value item) in file order.
  std::vector<std::pair<std::string, Item>> entries(const Item& map, const Keys* valid) const {
    std::vector<std::pair<std::string, Item>> result;
    if (!map.present()) return result;
    if (!map.node.IsMap()) fail(map, fmt::format("expected a map, got {}", describe(map.node)));
    std::set<std::string> seen;
    for (const auto& pair : map.node) {
      const YAML::Node& key_node = pair.first;
      const std::string key = key_node.IsScalar() ? key_node.Scalar() : "";
      // Errors about a value point at the value; errors about the key itself
      // point at the key.
      Item item = make_child(map, pair.second, key, YAML::Mark::null_mark());
      const Item at_key = make_child(map, pair.second, key, key_node.Mark());
      if (!key_node.IsScalar()) fail(at_key, "map keys must be plain names");
      if (!seen.insert(key).second) fail(at_key, fmt::format("duplicate key '{}'", key));
      if (valid && std::find(valid->begin(), valid->end(), key) == valid->end()) {
        fail(at_key, yaml::unknown_key(key, "", {valid->begin(), valid->end()}));
      }
      result.emplace_back(key, std::move(item));
    }
    return result;
  }

  std::string string(const Item& item) const {
    if (!item.node.IsScalar() || item.node.IsNull()) {
      fail(item, fmt::format("expected a string, got {}", describe(item.node)));
    }
    return item.node.Scalar();
  }

  int64_t integer(const Item& item, int64_t min) const {
    const std::string text = item.node.IsScalar() ? item.node.Scalar() : "";
    int64_t value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
      fail(item, fmt::format("expected an integer, got {}", describe(item.node)));
    }
    if (value < min) fail(item, fmt::format("must be at least {}, got {}", min, value));
    return value;
  }

  double number(const Item& item) const {
    const std::string text = item.node.IsScalar() ? item.node.Scalar() : "";
    double value = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
      fail(item, fmt::format("expected a number, got {}", describe(item.node)));
    }
    return value;
  }

  bool boolean(const Item& item) const {
    bool value = false;
    if (!item.node.IsScalar() || !YAML::convert<bool>::decode(item.node, value)) {
      fail(item, fmt::format("expected true or false, got {}", describe(item.node)));
    }
    return value;
  }

  std::vector<Item> list(const Item& item) const {
    std::vector<Item> items;
    if (!item.present()) return items;
    if (!item.node.IsSequence()) {
      fail(item, fmt::format("expected a list, got {}", describe(item.node)));
    }
    for (std::size_t i = 0; i < item.node.size(); ++i) items.push_back(element(item, i));
    return items;
  }

  static std::string describe(const YAML::Node& node) {
    if (!node.IsDefined() || node.IsNull()) return "nothing";
    if (node.IsSequence()) return "a list";
    if (node.IsMap()) return "a map";
    return "'" + node.Scalar() + "'";
  }

 private:
  Item make_child(const Item& parent, const YAML::Node& node, const std::string& key,
                  const YAML::Mark& key_mark) const {
    Item item{node, parent.path.empty() ? key : parent.path + "." + key, parent.mark,
              parent.set_by};
    if (auto it = overrides_.find(item.path); it != overrides_.end()) {
      item.set_by = it->second;
    } else if (item.set_by.empty() && key_mark.line < 0 && !has_mark(node)) {
      // A map created on the way to a deeper --set path ("foo" of foo.bar=1).
      const auto deeper = overrides_.lower_bound(item.path + ".");
      if (deeper != overrides_.end() && deeper->first.starts_with(item.path + ".")) {
        item.set_by = deeper->second;
      }
    }
    // A node that came from --set carries a mark inside the override's
    // value text, not the file; keep the parent's file location instead.
    if (item.set_by.empty()) {
      if (key_mark.line >= 0) {
        item.mark = key_mark;
      } else if (has_mark(node)) {
        item.mark = node.Mark();
      }
    }
    return item;
  }

  std::string file_;
  std::map<std::string, std::string> overrides_;
};

std::string expand_home(const std::string& path) {
  if (path == "~" || path.starts_with("~/")) {
    if (const char* home = std::getenv("HOME"); home && *home) return home + path.substr(1);
  }
  return path;
}

// `runtime:` block -> RuntimeSettings::merge overrides. Values are checked
// here so a typo is reported at its line, not when the model is built.
// `remote`, for the top-level block only, receives `cache_remote`.
std::map<std::string, std::string> parse_runtime(const Reader& reader, const Item& block,
                                                 std::string* remote = nullptr) {
  static const Keys kKeys = {"kernel_specialization", "graph_capture", "cache", "cache_remote"};
  std::map<std::string, std::string> overrides;
  for (const auto& [key, item] : reader.entries(block, &kKeys)) {
    if (key == "cache_remote") {
      if (remote == nullptr) {
        reader.fail(item,
                    "cache_remote is set once for every model, in the top-level 'runtime' block");
      }
      if (!item.present()) continue;
      *remote = reader.string(item);
      try {
        RuntimeCache::check_remote(*remote);
      } catch (const InputError& e) {
        reader.fail(item, e.what());
      }
      continue;
    }
    if (key == "cache") {
      overrides["runtime_cache"] = item.present() ? expand_home(reader.string(item)) : "none";
      continue;
    }
    const std::string value = reader.string(item);
    try {
      if (key == "kernel_specialization") kernel_specialization_from_string(value);
      if (key == "graph_capture") graph_capture_from_string(value);
    } catch (const InputError& e) {
      reader.fail(item, e.what());
    }
    overrides[key] = value;
  }
  return overrides;
}

PluginConfig parse_plugin(const Reader& reader, const Item& item) {
  PluginConfig plugin;
  plugin.where = reader.where(item);
  if (item.node.IsScalar()) {  // "- cpu" is short for "- name: cpu"
    plugin.name = reader.string(item);
    return plugin;
  }
  static const Keys kKeys = {"name", "path", "optional"};
  for (const auto& [key, value] : reader.entries(item, &kKeys)) {
    if (key == "name") plugin.name = reader.string(value);
    if (key == "path") plugin.path = reader.string(value);
    if (key == "optional") plugin.optional = reader.boolean(value);
  }
  if (plugin.name.empty() == plugin.path.empty()) {
    reader.fail(item, "a plugin needs exactly one of 'name' (searched for) or 'path' (a file)");
  }
  return plugin;
}

ModelConfig parse_model(const Reader& reader, const std::string& name, const Item& item) {
  static const Keys kKeys = {"builtin", "params", "weights",  "graph",   "onnx",   "shapes",
                             "alias",   "fuse",   "backends", "compile", "runtime"};
  ModelConfig model;
  model.name = name;
  model.where = reader.where(item);
  model.backends = {"cpu"};
  const Item* params = nullptr;
  const Item* weights = nullptr;
  const Item* shapes = nullptr;
  const Item* alias = nullptr;
  const Item* fuse = nullptr;
  if (!item.present()) reader.fail(item, "a model needs 'builtin', 'graph' or 'onnx'");
  const auto fields = reader.entries(item, &kKeys);
  for (const auto& [key, value] : fields) {
    if (key == "builtin") model.builtin = reader.string(value);
    if (key == "graph") model.graph = reader.string(value);
    if (key == "weights") {
      model.weights = reader.string(value);
      weights = &value;
    }
    if (key == "onnx") model.onnx = reader.string(value);
    if (key == "shapes") {
      shapes = &value;
      for (const auto& [input, dims] : reader.entries(value, nullptr)) {
        std::vector<int64_t>& shape = model.shapes[input];
        for (const Item& dim : reader.list(dims)) {
          shape.push_back(reader.integer(dim, 0));
        }
      }
    }
    if (key == "fuse") {
      fuse = &value;
      model.fuse = reader.boolean(value);
    }
    if (key == "alias") {
      alias = &value;
      for (const auto& [present, past] : reader.entries(value, nullptr)) {
        model.alias[present] = reader.string(past);
      }
    }
    if (key == "params") {
      params = &value;
      for (const auto& [param, param_value] : reader.entries(value, nullptr)) {
        model.params[param] = reader.string(param_value);
      }
    }
    if (key == "backends") {
      model.backends.clear();
      for (const Item& backend : reader.list(value)) {
        model.backends.push_back(reader.string(backend));
      }
      if (model.backends.empty()) reader.fail(value, "list at least one plugin id");
    }
    if (key == "compile") {
      static const Keys kCompileKeys = {"fallback_data_dependent_ops", "require_full_compilation"};
      for (const auto& [option, option_value] : reader.entries(value, &kCompileKeys)) {
        if (option == "fallback_data_dependent_ops") {
          model.fallback_data_dependent_ops = reader.boolean(option_value);
        } else {
          model.require_full_compilation = reader.boolean(option_value);
        }
      }
      if (model.fallback_data_dependent_ops && model.require_full_compilation) {
        reader.fail(value,
                    "fallback_data_dependent_ops moves nodes off the first backend, which "
                    "require_full_compilation forbids; set at most one of them");
      }
    }
    if (key == "runtime") model.runtime = parse_runtime(reader, value);
  }
  const int sources = !model.builtin.empty() + !model.graph.empty() + !model.onnx.empty();
  if (sources != 1) {
    reader.fail(item,
                "a model needs exactly one of 'builtin' (a template name), 'graph' (a graph "
                "file) or 'onnx' (an ONNX model file)");
  }
  if (shapes && model.onnx.empty()) {
    reader.fail(*shapes, "'shapes' belongs to 'onnx' models (input name: [dims])");
  }
  if (alias && model.onnx.empty()) {
    reader.fail(*alias, "'alias' belongs to 'onnx' models (present output: past input)");
  }
  if (fuse && model.onnx.empty()) {
    reader.fail(*fuse, "'fuse' belongs to 'onnx' models (true or false)");
  }
  if (params && !model.graph.empty()) {
    reader.fail(*params, "'params' belongs to 'builtin' models; a graph file has its own values");
  }
  if (weights && model.builtin != "decoder") {
    reader.fail(*weights,
                "'weights' (a Hugging Face Llama checkpoint folder) belongs to 'builtin: decoder'");
  }
  return model;
}

WorkloadConfig parse_workload(const Reader& reader, const Item& item, const RunConfig& config) {
  static const Keys kKinds = {"stream", "batch"};
  static const Keys kStreamKeys = {"kind", "prompt", "tokens", "batch", "seed", "prefill"};
  static const Keys kBatchKeys = {"kind", "batch", "seed"};
  WorkloadConfig workload;
  if (!item.present()) reader.fail(item, "missing; e.g. {kind: stream, prompt: 16, tokens: 64}");
  if (!item.node.IsMap()) {
    reader.fail(item, fmt::format("expected a map, got {}", Reader::describe(item.node)));
  }
  const Item kind = reader.child(item, "kind");
  if (!kind.present()) reader.fail(item, "missing 'kind'; valid kinds: stream, batch");
  const std::string kind_name = reader.string(kind);
  if (kind_name == "stream") {
    workload.kind = WorkloadConfig::Kind::stream;
  } else if (kind_name == "batch") {
    workload.kind = WorkloadConfig::Kind::batch;
  } else {
    reader.fail(kind, fmt::format("unknown workload kind '{}'; valid kinds: {}", kind_name,
                                  fmt::join(kKinds, ", ")));
  }
  const Keys& keys = workload.kind == WorkloadConfig::Kind::stream ? kStreamKeys : kBatchKeys;
  if (workload.kind == WorkloadConfig::Kind::stream) workload.batch = 0;  // the model's
  for (const auto& [key, value] : reader.entries(item, &keys)) {
    if (key == "prompt") workload.prompt = reader.integer(value, 1);
    if (key == "tokens") workload.tokens = reader.integer(value, 1);
    if (key == "batch") workload.batch = reader.integer(value, 1);
    if (key == "seed") workload.seed = static_cast<uint64_t>(reader.integer(value, 0));
    if (key == "prefill" && value.present()) {
      workload.prefill = reader.string(value);
      if (!config.find_model(workload.prefill)) {
        std::vector<std::string> names;
        for (const ModelConfig& m : config.models) names.push_back(m.name);
        reader.fail(value, fmt::format("unknown prefill model '{}'; models in this config: {}",
                                       workload.prefill, fmt::join(names, ", ")));
      }
    }
  }
  return workload;
}

RunEntry parse_run(const Reader& reader, const Item& item, const RunConfig& config) {
  static const Keys kKeys = {"name", "model", "workload", "warmup", "iterations", "duration"};
  RunEntry run;
  run.where = reader.where(item);
  if (!item.node.IsMap()) reader.fail(item, "expected a map with 'model' and 'workload'");
  const auto fields = reader.entries(item, &kKeys);
  const Item model = reader.child(item, "model");
  if (!model.present()) reader.fail(item, "missing 'model'");
  run.model = reader.string(model);
  if (!config.find_model(run.model)) {
    std::vector<std::string> names;
    for (const ModelConfig& m : config.models) names.push_back(m.name);
    reader.fail(model, fmt::format("unknown model '{}'; models in this config: {}", run.model,
                                   fmt::join(names, ", ")));
  }
  run.name = run.model;
  run.workload = parse_workload(reader, reader.child(item, "workload"), config);
  for (const auto& [key, value] : fields) {
    if (key == "name") run.name = reader.string(value);
    if (key == "warmup") run.warmup = reader.integer(value, 0);
    if (key == "iterations") run.iterations = reader.integer(value, 1);
    if (key == "duration" && value.present()) {
      const std::string text = reader.string(value);
      try {
        run.duration = parse_duration(text);
      } catch (const InputError& e) {
        reader.fail(value, e.what());
      }
    }
  }
  return run;
}

ReportConfig parse_report(const Reader& reader, const Item& item) {
  static const Keys kKeys = {"json", "percentiles", "trace"};
  ReportConfig report;
  for (const auto& [key, value] : reader.entries(item, &kKeys)) {
    if (key == "json" && value.present()) report.json = reader.string(value);
    if (key == "percentiles") {
      report.percentiles.clear();
      for (const Item& p : reader.list(value)) {
        const double percentile = reader.number(p);
        if (!(percentile >= 0 && percentile <= 100)) reader.fail(p, "a percentile is in [0, 100]");
        report.percentiles.push_back(percentile);
      }
    }
    if (key == "trace" && value.present()) report.trace = reader.string(value);
  }
  return report;
}

RunConfig parse_tree(const YAML::Node& tree, const std::filesystem::path& file,
                     const std::map<std::string, std::string>& set_paths) {
  static const Keys kKeys = {"plugins", "models", "runtime", "run", "report"};
  const Reader reader(file.string(), set_paths);
  const Item root = reader.root(tree);
  if (!root.node.IsMap()) reader.fail(root, "a config is a map with 'models' and 'run'");
  RunConfig config;
  config.file = file;
  const auto sections = reader.entries(root, &kKeys);
  for (const auto& [key, section] : sections) {
    if (key == "plugins") {
      config.has_plugins_list = true;
      for (const Item& item : reader.list(section)) {
        config.plugins.push_back(parse_plugin(reader, item));
      }
    }
    if (key == "models") {
      for (const auto& [name, item] : reader.entries(section, nullptr)) {
        config.models.push_back(parse_model(reader, name, item));
      }
    }
    if (key == "runtime") {
      config.runtime = parse_runtime(reader, section, &config.cache_remote);
      const auto cache = config.runtime.find("runtime_cache");
      if (!config.cache_remote.empty() &&
          (cache == config.runtime.end() || cache->second == "none")) {
        reader.fail(section,
                    "cache_remote needs 'cache' (a file): the node-local file tier stays primary "
                    "and the remote tier sits behind it");
      }
    }
    if (key == "report") config.report = parse_report(reader, section);
  }
  if (config.models.empty()) reader.fail(root, "'models' is missing or empty");
  const Item runs = reader.child(root, "run");
  std::map<std::string, std::string> run_names;
  for (const Item& item : reader.list(runs)) {
    RunEntry run = parse_run(reader, item, config);
    if (auto [it, fresh] = run_names.emplace(run.name, item.path); !fresh) {
      reader.fail(item, fmt::format("run name '{}' is already used by {}; give one of them a "
                                    "'name:' (runs are keyed by name in reports)",
                                    run.name, it->second));
    }
    config.runs.push_back(std::move(run));
  }
  if (config.runs.empty()) {
    if (runs.node.IsDefined()) reader.fail(runs, "expected a non-empty list of runs");
    reader.fail(root, "'run' is missing; list at least one run");
  }
  return config;
}

YAML::Node runtime_to_yaml(const std::map<std::string, std::string>& runtime) {
  YAML::Node node(YAML::NodeType::Map);
  for (const auto& [key, value] : runtime) {
    node[key == "runtime_cache" ? "cache" : key] = value;
  }
  return node;
}

}  // namespace

const ModelConfig* RunConfig::find_model(const std::string& name) const {
  for (const ModelConfig& model : models) {
    if (model.name == name) return &model;
  }
  return nullptr;
}

std::string_view to_string(WorkloadConfig::Kind kind) {
  return kind == WorkloadConfig::Kind::stream ? "stream" : "batch";
}

RunConfig parse_run_config(const std::string& text, const std::filesystem::path& file_name,
                           const std::vector<ConfigOverride>& overrides) {
  // The host's YAML layer: malformed or too deeply nested text fails at
  // file:line:col, the same way as in graph files.
  YAML::Node tree = yaml::Source(file_name.string()).parse(text);
  const auto set_paths = apply_overrides(tree, overrides, file_name.string());
  return parse_tree(tree, file_name, set_paths);
}

RunConfig load_run_config(const std::filesystem::path& file,
                          const std::vector<ConfigOverride>& overrides) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw InputError(fmt::format("{}: cannot open the config file: {}", file.string(),
                                 std::error_code(errno, std::generic_category()).message()));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parse_run_config(text.str(), file, overrides);
}

YAML::Node to_yaml(const RunConfig& config) {
  YAML::Node root(YAML::NodeType::Map);
  if (config.has_plugins_list) {
    root["plugins"] = YAML::Node(YAML::NodeType::Sequence);
    for (const PluginConfig& plugin : config.plugins) {
      YAML::Node node;
      if (!plugin.name.empty()) node["name"] = plugin.name;
      if (!plugin.path.empty()) node["path"] = plugin.path.string();
      node["optional"] = plugin.optional;
      root["plugins"].push_back(node);
    }
  }
  for (const ModelConfig& model : config.models) {
    YAML::Node node;
    if (!model.builtin.empty()) {
      node["builtin"] = model.builtin;
      node["params"] = YAML::Node(YAML::NodeType::Map);
      for (const auto& [key, value] : model.params) node["params"][key] = value;
      if (!model.weights.empty()) node["weights"] = model.weights.string();
    } else if (!model.onnx.empty()) {
      node["onnx"] = model.onnx.string();
      if (!model.shapes.empty()) {
        node["shapes"] = YAML::Node(YAML::NodeType::Map);
        for (const auto& [input, dims] : model.shapes) {
          YAML::Node list(YAML::NodeType::Sequence);
          for (int64_t d : dims) list.push_back(d);
          list.SetStyle(YAML::EmitterStyle::Flow);
          node["shapes"][input] = list;
        }
      }
      for (const auto& [present, past] : model.alias) node["alias"][present] = past;
      if (!model.fuse) node["fuse"] = false;
    } else {
      node["graph"] = model.graph.string();
    }
    node["backends"] = model.backends;
    node["compile"]["fallback_data_dependent_ops"] = model.fallback_data_dependent_ops;
    node["compile"]["require_full_compilation"] = model.require_full_compilation;
    if (!model.runtime.empty()) node["runtime"] = runtime_to_yaml(model.runtime);
    root["models"][model.name] = node;
  }
  root["runtime"] = runtime_to_yaml(config.runtime);
  if (!config.cache_remote.empty()) root["runtime"]["cache_remote"] = config.cache_remote;
  for (const RunEntry& run : config.runs) {
    YAML::Node node;
    node["name"] = run.name;
    node["model"] = run.model;
    node["workload"]["kind"] = std::string(to_string(run.workload.kind));
    if (run.workload.kind == WorkloadConfig::Kind::stream) {
      node["workload"]["prompt"] = run.workload.prompt;
      node["workload"]["tokens"] = run.workload.tokens;
      if (run.workload.batch > 0) node["workload"]["batch"] = run.workload.batch;
      if (!run.workload.prefill.empty()) node["workload"]["prefill"] = run.workload.prefill;
    } else {
      node["workload"]["batch"] = run.workload.batch;
    }
    node["workload"]["seed"] = run.workload.seed;
    node["warmup"] = run.warmup;
    node["iterations"] = run.iterations;
    node["duration"] = format_duration(run.duration);
    root["run"].push_back(node);
  }
  root["report"]["json"] = config.report.json ? YAML::Node(config.report.json->string())
                                              : YAML::Node(YAML::NodeType::Null);
  root["report"]["trace"] = config.report.trace ? YAML::Node(config.report.trace->string())
                                                : YAML::Node(YAML::NodeType::Null);
  root["report"]["percentiles"] = config.report.percentiles;
  return root;
}

std::filesystem::path resolve_config_path(const std::filesystem::path& path,
                                          const std::filesystem::path& config_file) {
  if (path.is_absolute() || std::filesystem::exists(path)) return path;
  const std::filesystem::path beside_config = config_file.parent_path() / path;
  return std::filesystem::exists(beside_config) ? beside_config : path;
}

}  // namespace rtscope::runner
