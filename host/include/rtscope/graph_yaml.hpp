// Loads a Graph from YAML. The format is documented in docs/graph-format.md.
#pragma once

#include <filesystem>
#include <string>

#include "rtscope/graph.hpp"

namespace rtscope {

// Parses and validates; every error message starts with "file:line:col:".
Graph load_graph_yaml(const std::filesystem::path& path);
Graph parse_graph_yaml(const std::string& text, const std::string& file_name);

}  // namespace rtscope
