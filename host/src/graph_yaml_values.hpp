// Readers for the pieces of a graph YAML file: dtypes, shapes, symbol
// ranges and node attributes. Used by graph_yaml.cpp; every failure is an
// InputError located at the offending YAML node.
#pragma once

#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

#include "rtscope/graph.hpp"
#include "rtscope/op_registry.hpp"
#include "yaml_util.hpp"

namespace rtscope::graph_yaml {

// `map` holds key `dtype`; fails listing the valid dtype names.
DType read_dtype(const yaml::Map& map);

// `map` holds key `shape`: a list of non-negative integers and names of
// declared symbols.
SymShape read_shape(const yaml::Map& map, const std::map<std::string, SymbolRange>& symbols);

// The `symbols:` map: name -> {min, opt, max}.
std::map<std::string, SymbolRange> read_symbols(const yaml::Source& source, const yaml::Map& root);

// A node's `attrs:` map, checked against the op's schema: unknown names and
// values of the wrong kind fail at the attribute. Integers given for real
// attributes become doubles.
AttrMap read_attrs(const yaml::Map& node_map, const OpSchema& schema, const std::string& node_what);

}  // namespace rtscope::graph_yaml
