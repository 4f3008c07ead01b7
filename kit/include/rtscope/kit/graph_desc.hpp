// An owned copy of an rts_graph. build_engine copies the host's graph into
// one of these (the host's pointers are valid only during the call), the
// engine blob stores one, and the engine is built from one either way.
// Constant bytes are the exception: when the host promises they outlive the
// engine (rts_graph::constants_outlive_engine) they are viewed, not copied,
// so a memory-mapped checkpoint reaches the plugin without a host copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

using Dims = std::vector<int64_t>;

struct ValueDesc {
  std::string name;
  rts_dtype dtype = RTS_DTYPE_F32;
  Dims dims;  // -1 where dynamic
  Dims min_dims;
  Dims max_dims;

  bool is_static() const;
  // "f32[?,256]"
  std::string type_str() const;
};

struct AttrDesc {
  std::string name;
  rts_attr_type type = RTS_ATTR_INT;
  int64_t i = 0;
  double f = 0.0;
  std::string s;
  std::vector<int64_t> ints;
};

struct NodeDesc {
  std::string name;
  std::string op;
  std::vector<std::string> inputs;
  std::vector<std::string> outputs;
  std::vector<AttrDesc> attrs;

  const AttrDesc* find_attr(const std::string& attr_name) const;
  // Typed access with a default for optional attributes; a missing
  // required one or a wrong type throws naming the node. An INT is
  // accepted where a real is expected.
  int64_t attr_int(const std::string& attr_name, std::optional<int64_t> fallback = {}) const;
  double attr_real(const std::string& attr_name, std::optional<double> fallback = {}) const;
  const std::vector<int64_t>& attr_ints(const std::string& attr_name) const;

  // "node 'layer0.attn.q' (matmul)": the prefix of every error about it.
  std::string label() const;
};

struct ConstantDesc {
  ValueDesc value;
  // The values: in `owner` (a copy) or in the host's memory when the host
  // keeps them alive for the engine's lifetime (`owner` null). Copies of a
  // ConstantDesc share the owner, so the view stays valid in each.
  std::span<const std::byte> bytes;
  std::shared_ptr<const void> owner;

  // Replaces the bytes with an owned copy of `data`.
  void assign_copy(const void* data, size_t size);
  // True when the bytes are the host's, not a copy.
  bool borrowed() const { return owner == nullptr && !bytes.empty(); }
};

struct GraphDesc {
  std::string name;
  std::vector<ValueDesc> inputs;
  std::vector<ValueDesc> outputs;
  std::vector<ConstantDesc> constants;
  std::vector<ValueDesc> values;
  std::vector<NodeDesc> nodes;
  std::vector<rts_alias> aliases;
};

ValueDesc copy_value(const rts_value& value, const char* role);
NodeDesc copy_node(const rts_node& node);
// Copies every array of `graph`; checks counts, names and ranks but not
// semantics (Engine does that). Constant bytes are viewed instead of copied
// when the graph says they outlive the engine.
GraphDesc copy_graph(const rts_graph& graph);

// Number of elements; 0 for an empty dim, 1 for a scalar.
int64_t element_count(std::span<const int64_t> dims);

}  // namespace rtscope::kit
