// Source locations of YAML nodes, as "file:line:col: " message prefixes.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

namespace rtscope::runner {

// False for nodes built in memory (yaml-cpp gives them a null mark).
inline bool has_mark(const YAML::Node& node) {
  return node.IsDefined() && node.Mark().line >= 0 && node.Mark().column >= 0;
}

// "file:line:col: " with 1-based line and column (yaml-cpp's are 0-based);
// "file: " when the mark is unknown.
inline std::string location_prefix(const std::string& file, const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return file + ": ";
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
}

}  // namespace rtscope::runner
