// The IR's value types: dims that are fixed or symbolic, shapes, typed
// values and node attributes. Shared by the host's graph IR (graph.hpp) and
// the op schema (op_schema.hpp), which plugins link without the host.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "rtscope/dtype.hpp"

namespace rtscope {

// One dimension: a fixed size or a named symbol (e.g. "seq").
struct Dim {
  int64_t value = -1;  // >= 0 when static
  std::string symbol;  // non-empty when symbolic

  static Dim fixed(int64_t v) { return Dim{v, {}}; }
  static Dim named(std::string s) { return Dim{-1, std::move(s)}; }
  bool is_static() const { return symbol.empty(); }
  bool operator==(const Dim&) const = default;
  std::string str() const;
};

using SymShape = std::vector<Dim>;
std::string shape_to_string(const SymShape& shape);

struct ValueType {
  DType dtype = DType::f32;
  SymShape shape;
  bool operator==(const ValueType&) const = default;
  std::string str() const;  // "f32[batch,seq,256]"
};

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>>;
using AttrMap = std::map<std::string, AttrValue>;

}  // namespace rtscope
