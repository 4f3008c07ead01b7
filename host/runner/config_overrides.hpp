// `--set a.b.0.c=value`: edits of the config's YAML tree made before it is
// parsed, so an override goes through exactly the same validation as the
// file itself.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <vector>

namespace rtscope::runner {

struct ConfigOverride {
  std::string path;   // dot-separated; list items by index ("run.0.warmup")
  std::string value;  // parsed as YAML, so "[cpu, vulkan]" is a list
  std::string text() const { return path + "=" + value; }
};

// Splits "a.b=value". Throws InputError when there is no '=' or the path
// has an empty component.
ConfigOverride parse_override(const std::string& text);

// Applies `overrides` in order to `root`. A missing map key is created (the
// parser then rejects it if it is not a valid key, naming the path). A list
// index out of range, or a path through a scalar, throws InputError naming
// the override and prefixed with "file:line:col: " of the node it failed on.
// Returns path -> override text ("path=value") for every path set; a later
// override of the same path wins.
std::map<std::string, std::string> apply_overrides(YAML::Node& root,
                                                   const std::vector<ConfigOverride>& overrides,
                                                   const std::string& file_name);

}  // namespace rtscope::runner
