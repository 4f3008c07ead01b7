// Bridges from the C ABI's types (rtscope/plugin_abi.h) to the op schema's,
// for plugins: dtypes share one numbering, attributes and dims convert
// field by field. Header-only, so the schema library itself does not
// depend on the ABI header.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "rtscope/op_schema.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::schema {

static_assert(RTS_DTYPE_F32 == static_cast<int>(DType::f32) &&
                  RTS_DTYPE_F16 == static_cast<int>(DType::f16) &&
                  RTS_DTYPE_I32 == static_cast<int>(DType::i32) &&
                  RTS_DTYPE_I64 == static_cast<int>(DType::i64) &&
                  RTS_DTYPE_BOOL == static_cast<int>(DType::boolean),
              "rts_dtype and DType number the dtypes alike");

inline DType dtype_from_abi(rts_dtype dtype) { return static_cast<DType>(dtype); }
inline rts_dtype dtype_to_abi(DType dtype) { return static_cast<rts_dtype>(dtype); }

// An attribute as the ABI carries it: a type tag and one field per kind.
template <typename Attr>  // has .name, .type, .i, .f, .s, .ints
AttrMap attrs_from_abi(std::span<const Attr> attrs) {
  AttrMap map;
  for (const Attr& attr : attrs) {
    switch (attr.type) {
      case RTS_ATTR_INT:
        map[attr.name] = attr.i;
        break;
      case RTS_ATTR_FLOAT:
        map[attr.name] = attr.f;
        break;
      case RTS_ATTR_STRING:
        map[attr.name] = std::string(attr.s);
        break;
      case RTS_ATTR_INTS:
        map[attr.name] = std::vector<int64_t>(attr.ints.begin(), attr.ints.end());
        break;
    }
  }
  return map;
}

// ABI dims (-1 where dynamic) as a shape; a dynamic dim becomes the symbol
// "?", as the plugins print it.
inline SymShape shape_from_abi(std::span<const int64_t> dims) {
  SymShape shape;
  shape.reserve(dims.size());
  for (int64_t dim : dims) shape.push_back(dim < 0 ? Dim::named("?") : Dim::fixed(dim));
  return shape;
}

}  // namespace rtscope::schema
