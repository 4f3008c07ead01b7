// The op set: arity, attributes and type inference of every op the IR knows.
// Semantics of each op are written in docs/ops.md.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "rtscope/graph.hpp"

namespace rtscope {

enum class AttrKind { integer, real, string, ints };

struct AttrSpec {
  std::string name;
  AttrKind kind;
  bool required = false;
  AttrValue default_value = int64_t{0};
};

struct OpSchema {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;  // -1: variadic
  int num_outputs = 1;
  std::vector<AttrSpec> attrs;
  // Output types from input types and attributes (defaults already filled
  // in). Throws std::invalid_argument with a message describing the
  // mismatch (the caller adds the location).
  std::function<std::vector<ValueType>(const std::vector<ValueType>& inputs, const AttrMap& attrs)>
      infer;
  // Index of the input the output 0 may share storage with (in-place ops);
  // -1 when none.
  int aliases_input = -1;
};

// nullptr when unknown.
const OpSchema* find_op(std::string_view name);

// Sorted names of every op, for "valid ops are ..." messages.
std::vector<std::string> op_names();

// Typed attribute access with schema defaults applied.
int64_t attr_int(const AttrMap& attrs, const std::string& name);
double attr_real(const AttrMap& attrs, const std::string& name);
const std::string& attr_string(const AttrMap& attrs, const std::string& name);
const std::vector<int64_t>& attr_ints(const AttrMap& attrs, const std::string& name);

// Returns attrs with defaults of `schema` filled in; throws InputError for
// unknown or ill-typed attributes (message lists the valid ones).
AttrMap resolve_attrs(const OpSchema& schema, const AttrMap& attrs);

}  // namespace rtscope
