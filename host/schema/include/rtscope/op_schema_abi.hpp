// Bridges from the C ABI's types (rtscope/plugin_abi.h) to the op schema's,
// for plugins: dtypes share one numbering, attributes and dims convert
// field by field. Header-only, so the schema library itself does not
// depend on the ABI header.
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "rtscope/error.hpp"
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

// Whether a kernel reads input `index` as float data: the input is float by
// the op's rule, or the kernel takes the op's any-dtype inputs as floats
// (`float_data_only`, e.g. an argmax kernel computing in f32).
inline bool reads_float_data(const OpSchema& op, std::size_t index, bool float_data_only) {
  if (is_float_input(op, index)) return true;
  const InputDtype rule = input_spec(op, index).dtype;
  return float_data_only && (rule == InputDtype::any || rule == InputDtype::same_as_first);
}

// Empty when the input count and dtypes suit the op, else the reason in the
// host's words. `dims` (optional, -1 where dynamic) show the input shapes in
// the message.
inline std::string check_abi_inputs(const OpSchema& op, std::span<const rts_dtype> dtypes,
                                    std::span<const std::vector<int64_t>> dims = {}) {
  std::string reason = check_input_count(op, static_cast<int>(dtypes.size()));
  if (!reason.empty()) return reason;
  std::vector<ValueType> types(dtypes.size());
  for (std::size_t i = 0; i < dtypes.size(); ++i) {
    types[i].dtype = dtype_from_abi(dtypes[i]);
    if (i < dims.size()) types[i].shape = shape_from_abi(dims[i]);
  }
  try {
    check_input_dtypes(op, types);
  } catch (const std::invalid_argument& error) {
    return error.what();
  }
  return {};
}

// Empty when the attributes are known, of the right kind and every
// required one is present, else the reason in the host's words.
template <typename Attr>
std::string check_abi_attrs(const OpSchema& op, std::span<const Attr> attrs) {
  try {
    resolve_attrs(op, attrs_from_abi(attrs));
  } catch (const InputError& error) {
    return error.what();
  }
  return {};
}

inline rts_dtype abi_output_dtype(const OpSchema& op, std::span<const rts_dtype> inputs) {
  std::vector<DType> dtypes;
  for (rts_dtype dtype : inputs) dtypes.push_back(dtype_from_abi(dtype));
  return dtype_to_abi(output_dtype(op, dtypes));
}

// The concrete inference over ABI types. Throws std::invalid_argument in
// the host's words (attribute errors included); an output of more than
// RTS_MAX_RANK dims, which the ABI cannot carry, is one too.
template <typename Attr>
std::vector<ConcreteOutput> infer_abi(const OpSchema& op, std::span<const rts_dtype> dtypes,
                                      std::span<const std::vector<int64_t>* const> dims,
                                      std::span<const Attr> attrs) {
  std::vector<TensorType> types(dims.size());
  for (std::size_t i = 0; i < dims.size(); ++i) types[i] = {dtype_from_abi(dtypes[i]), *dims[i]};
  AttrMap resolved;
  try {
    resolved = resolve_attrs(op, attrs_from_abi(attrs));
  } catch (const InputError& error) {
    throw std::invalid_argument(error.what());
  }
  std::vector<ConcreteOutput> outputs = infer(op, types, resolved);
  for (const ConcreteOutput& output : outputs) {
    if (output.dims.size() > RTS_MAX_RANK) {
      throw std::invalid_argument("output rank " + std::to_string(output.dims.size()) +
                                  " exceeds the ABI's maximum of " + std::to_string(RTS_MAX_RANK));
    }
  }
  return outputs;
}

}  // namespace rtscope::schema
