// An owned copy of an rts_graph. The ABI only lends graph pointers for the
// duration of build_engine, and engine blobs must round-trip the same data,
// so the plugin keeps this form and both build and deserialize produce it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "rtscope/plugin_abi.h"

namespace rtscope_testing {

using Dims = std::array<int64_t, RTS_MAX_RANK>;

struct ValueDef {
  std::string name;
  rts_dtype dtype = RTS_DTYPE_F32;
  uint32_t rank = 0;
  Dims dims{};
  Dims min_dims{};
  Dims max_dims{};
};

struct AttrDef {
  std::string name;
  rts_attr_type type = RTS_ATTR_INT;
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<int64_t> ints;
};

struct NodeDef {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<AttrDef> attrs;
};

struct ConstantDef {
  ValueDef value;
  std::vector<uint8_t> bytes;
};

struct GraphDef {
  std::string name;
  std::vector<ValueDef> inputs;
  std::vector<ValueDef> outputs;
  std::vector<ConstantDef> constants;
  std::vector<ValueDef> values;
  std::vector<NodeDef> nodes;
};

// Copies everything `graph` points to; fails with RTS_ERROR_INVALID_ARGUMENT
// on NULL names or arrays, a rank above RTS_MAX_RANK, or a struct too small.
GraphDef copy_graph(const rts_graph& graph);
ValueDef copy_value(const rts_value& value);

// A view of `value` whose name points into it (so it lives as long as it).
rts_value to_abi(const ValueDef& value);

// "f32", "f16", ... for messages.
std::string dtype_name(rts_dtype dtype);

}  // namespace rtscope_testing
