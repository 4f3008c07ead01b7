// The op set: arity, attributes and type inference of every op the IR
// knows. They are defined once in the op schema (rtscope/op_schema.hpp,
// shared with the plugins); this header names them in namespace rtscope.
// Semantics of each op are written in docs/ops.md.
#pragma once

#include "rtscope/graph.hpp"
#include "rtscope/op_schema.hpp"

namespace rtscope {

using schema::AttrKind;
using schema::AttrSpec;
using schema::OpSchema;

using schema::find_op;
using schema::op_names;
using schema::resolve_attrs;

using schema::attr_int;
using schema::attr_ints;
using schema::attr_real;
using schema::attr_string;

}  // namespace rtscope
