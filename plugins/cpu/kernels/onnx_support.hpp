// Helpers of the kernels for imported-model ops (math_ops.cpp,
// reduce_ops.cpp, window_ops.cpp): element access by dtype and numpy
// broadcasting by index.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>

#include "kernels/op_spec.hpp"
#include "rtscope/half.hpp"

namespace rtscope::cpu::onnx_kernels {

// Reads element `i` of a tensor of any dtype as double (f16 decoded; i64
// beyond 2^53 rounds, which only comparisons of huge ids would notice).
inline double load(const TensorRef& t, int64_t i) {
  switch (t.dtype) {
    case RTS_DTYPE_F32:
      return t.as<const float>()[i];
    case RTS_DTYPE_F16:
      return half_to_float(t.as<const uint16_t>()[i]);
    case RTS_DTYPE_I32:
      return t.as<const int32_t>()[i];
    case RTS_DTYPE_I64:
      return static_cast<double>(t.as<const int64_t>()[i]);
    default:
      return t.as<const uint8_t>()[i] != 0 ? 1.0 : 0.0;
  }
}

// Writes `v` into element `i`, rounded and truncated as casts do.
inline void store(const TensorRef& t, int64_t i, double v) {
  switch (t.dtype) {
    case RTS_DTYPE_F32:
      t.as<float>()[i] = static_cast<float>(v);
      break;
    case RTS_DTYPE_F16:
      t.as<uint16_t>()[i] = float_to_half(static_cast<float>(v));
      break;
    case RTS_DTYPE_I32:
      t.as<int32_t>()[i] = static_cast<int32_t>(v);
      break;
    case RTS_DTYPE_I64:
      t.as<int64_t>()[i] = static_cast<int64_t>(v);
      break;
    default:
      t.as<uint8_t>()[i] = v != 0.0 ? 1 : 0;
      break;
  }
}

// Strides of `in` seen from `out`'s coordinates (0 where it broadcasts).
struct Broadcast {
  int rank = 0;
  int64_t out_dims[RTS_MAX_RANK] = {};
  int64_t strides[RTS_MAX_RANK] = {};

  Broadcast(std::span<const int64_t> out, std::span<const int64_t> in) {
    rank = static_cast<int>(out.size());
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      out_dims[d] = out[d];
      const int id = d - (rank - static_cast<int>(in.size()));
      const int64_t dim = id >= 0 ? in[id] : 1;
      strides[d] = dim == 1 ? 0 : stride;
      stride *= dim;
    }
  }
  // Source index of output element `i`.
  int64_t source(int64_t i) const {
    int64_t index = 0;
    for (int d = rank - 1; d >= 0 && i > 0; --d) {
      index += (i % out_dims[d]) * strides[d];
      i /= out_dims[d];
    }
    return index;
  }
};

inline const std::string& attr_string(const NodeDesc& node, const char* name) {
  const AttrDesc* attr = node.find_attr(name);
  if (attr == nullptr) fail_node(node, "missing attribute '", name, "'");
  return attr->s;
}

}  // namespace rtscope::cpu::onnx_kernels
