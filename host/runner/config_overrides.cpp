#include "config_overrides.hpp"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>

#include <charconv>

#include "rtscope/error.hpp"
#include "yaml_util.hpp"

namespace rtscope::runner {
namespace {

using yaml::has_mark;
using yaml::location_prefix;

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

bool parse_index(const std::string& text, std::size_t& index) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), index);
  return error == std::errc() && end == text.data() + text.size();
}

YAML::Node parse_value(const ConfigOverride& override) {
  try {
    return YAML::Load(override.value);
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp words this "bad file".
    throw InputError(fmt::format(
        "--set {}: the value is nested too deeply (deeper than the parser's limit of {} nested "
        "nodes)",
        override.path, e.depth()));
  } catch (const YAML::Exception& e) {
    throw InputError(
        fmt::format("--set {}: the value is not valid YAML: {}", override.text(), e.msg));
  }
}

}  // namespace

ConfigOverride parse_override(const std::string& text) {
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos) {
    throw InputError(fmt::format("--set '{}': expected key.path=value", text));
  }
  ConfigOverride override{text.substr(0, equals), text.substr(equals + 1)};
  for (const std::string& part : split_path(override.path)) {
    if (part.empty()) {
      throw InputError(fmt::format(
          "--set '{}': the key path '{}' has an empty component; write e.g. run.0.warmup=2", text,
          override.path));
    }
  }
  return override;
}

std::map<std::string, std::string> apply_overrides(YAML::Node& root,
                                                   const std::vector<ConfigOverride>& overrides,
                                                   const std::string& file_name) {
  std::map<std::string, std::string> set_paths;
  for (const ConfigOverride& override : overrides) {
    const std::vector<std::string> parts = split_path(override.path);
    // YAML::Node has reference semantics: assigning through `node` edits
    // the tree, while `node.reset(child)` re-points the handle.
    YAML::Node node;
    node.reset(root);
    YAML::Mark last_mark = root.Mark();
    std::string walked;
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const std::string& part = parts[i];
      const bool last = i + 1 == parts.size();
      if (has_mark(node)) last_mark = node.Mark();
      const std::string where = walked.empty() ? "the top level" : "'" + walked + "'";
      YAML::Node child;
      if (node.IsSequence()) {
        std::size_t index = 0;
        if (!parse_index(part, index)) {
          throw InputError(fmt::format("{}--set {}: {} is a list; '{}' is not an item index",
                                       location_prefix(file_name, last_mark), override.text(),
                                       where, part));
        }
        if (index >= node.size()) {
          throw InputError(fmt::format("{}--set {}: index {} is out of range; {} has {} item(s)",
                                       location_prefix(file_name, last_mark), override.text(),
                                       index, where, node.size()));
        }
        child.reset(node[index]);
      } else if (node.IsMap() || node.IsNull() || !node.IsDefined()) {
        // A null (or absent) node becomes a map, so `--set report.json=x`
        // works on a config that has no `report` block.
        child.reset(node[part]);
      } else {
        throw InputError(fmt::format("{}--set {}: {} is a scalar, it has no key '{}'",
                                     location_prefix(file_name, last_mark), override.text(), where,
                                     part));
      }
      walked += (walked.empty() ? "" : ".") + part;
      if (last) {
        child = parse_value(override);
      } else {
        node.reset(child);
      }
    }
    set_paths[override.path] = override.text();
  }
  return set_paths;
}

}  // namespace rtscope::runner
