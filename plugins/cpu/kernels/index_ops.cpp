// CPU kernels of the index ops: top_k (i64 positions of the k largest or
// smallest along an axis, compared in the element type), scatter_elements and
// scatter_nd (any dtype: elements copied, or combined by add or mul in
// the data's own type), gather_nd (elements moved raw). Index values come
// from data, often a model file: each is checked against its dim and an
// out-of-range one is an error naming the node, never a stray access.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/onnx_support.hpp"
#include "rtscope/half.hpp"
#include "rtscope/op_math.hpp"

namespace rtscope::cpu {
namespace {

using onnx_kernels::load;

int64_t index_at(const TensorRef& indices, int64_t i) {
  return indices.dtype == RTS_DTYPE_I64 ? indices.as<const int64_t>()[i]
                                        : indices.as<const int32_t>()[i];
}

// `index` in [-length, length) to [0, length); else an error naming the node.
int64_t checked_index(const NodeDesc& node, int64_t index, int64_t length) {
  if (index < -length || index >= length) {
    fail_node(node, "index ", index, " is out of range for a dim of ", length);
  }
  return index < 0 ? index + length : index;
}

int64_t product(std::span<const int64_t> dims, size_t begin, size_t end) {
  int64_t p = 1;
  for (size_t d = begin; d < end; ++d) p *= dims[d];
  return p;
}

// The k positions of each lane, comparing elements in type T: i64 values
// beyond 2^53 keep their order (f16 is compared as float, exactly).
template <typename T, typename Load>
void top_k_positions(const KernelArgs& args, Load load_element) {
  const TensorRef& x = args.inputs[0];
  const TensorRef& out = args.outputs[0];
  const int axis = normalize_axis(args.node, args.node.attr_int("axis"), x.rank());
  const bool largest = args.node.attr_int("largest") != 0;
  const int64_t k = out.dims[axis];
  const int64_t length = x.dims[axis];
  const int64_t outer = product(x.dims, 0, axis);
  const int64_t inner = product(x.dims, axis + 1, x.dims.size());
  auto* positions = out.as<int64_t>();
  std::vector<T> values(static_cast<size_t>(length));
  std::vector<int64_t> order(static_cast<size_t>(length));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      for (int64_t j = 0; j < length; ++j) values[j] = load_element((o * length + j) * inner + i);
      std::iota(order.begin(), order.end(), int64_t{0});
      const auto before = [&](int64_t a, int64_t b) {
        return math::top_k_before(values[a], a, values[b], b, largest);
      };
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t j = 0; j < k; ++j) positions[(o * k + j) * inner + i] = order[j];
    }
  }
}

void run_top_k(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  switch (x.dtype) {
    case RTS_DTYPE_I64:
      top_k_positions<int64_t>(args, [&](int64_t i) { return x.as<const int64_t>()[i]; });
      return;
    case RTS_DTYPE_I32:
      top_k_positions<int32_t>(args, [&](int64_t i) { return x.as<const int32_t>()[i]; });
      return;
    default:
      top_k_positions<float>(args, [&](int64_t i) { return static_cast<float>(load(x, i)); });
      return;
  }
}

enum class Reduction : uint8_t { none, add, mul };

Reduction reduction_of(const NodeDesc& node) {
  const AttrDesc* attr = node.find_attr("reduction");
  const std::string name = attr != nullptr ? attr->s : "none";
  if (name == "add") return Reduction::add;
  if (name == "mul") return Reduction::mul;
  return Reduction::none;
}

// Integers wrap around (two's complement, computed unsigned): updates
// from a file must not make the kernel's arithmetic undefined.
template <typename T>
T add_or_mul(T a, T b, Reduction reduction) {
  if constexpr (std::is_integral_v<T>) {
    using U = std::make_unsigned_t<T>;
    const auto x = static_cast<U>(a);
    const auto y = static_cast<U>(b);
    return static_cast<T>(reduction == Reduction::add ? static_cast<U>(x + y)
                                                      : static_cast<U>(x * y));
  } else {
    return reduction == Reduction::add ? a + b : a * b;
  }
}

template <typename T>
void combine_as(void* target, const void* update, Reduction reduction) {
  T t;
  T u;
  std::memcpy(&t, target, sizeof(T));
  std::memcpy(&u, update, sizeof(T));
  t = add_or_mul(t, u, reduction);
  std::memcpy(target, &t, sizeof(T));
}

// Element `update` into `target` (both of `dtype`): copied, or added or
// multiplied in the dtype's arithmetic (f16 through f32, rounded once).
void combine(std::byte* target, const std::byte* update, rts_dtype dtype, Reduction reduction) {
  if (reduction == Reduction::none) {
    std::memcpy(target, update, dtype_size(dtype));
    return;
  }
  switch (dtype) {
    case RTS_DTYPE_F32:
      return combine_as<float>(target, update, reduction);
    case RTS_DTYPE_I32:
      return combine_as<int32_t>(target, update, reduction);
    case RTS_DTYPE_I64:
      return combine_as<int64_t>(target, update, reduction);
    case RTS_DTYPE_F16: {
      uint16_t t;
      uint16_t u;
      std::memcpy(&t, target, 2);
      std::memcpy(&u, update, 2);
      const float a = half_to_float(t);
      const float b = half_to_float(u);
      t = float_to_half(reduction == Reduction::add ? a + b : a * b);
      std::memcpy(target, &t, 2);
      return;
    }
    default: {
      // bool: add is or, mul is and.
      const bool a = *target != std::byte{0};
      const bool b = *update != std::byte{0};
      *target = std::byte{reduction == Reduction::add ? (a || b) : (a && b)};
      return;
    }
  }
}

// Output starts as a copy of data unless it already is data's storage.
void copy_data(const TensorRef& data, const TensorRef& out) {
  if (out.data != data.data) std::memcpy(out.data, data.data, data.bytes());
}

void run_scatter_elements(const KernelArgs& args) {
  const TensorRef& data = args.inputs[0];
  const TensorRef& indices = args.inputs[1];
  const TensorRef& updates = args.inputs[2];
  const TensorRef& out = args.outputs[0];
  const int rank = data.rank();
  const int axis = normalize_axis(args.node, args.node.attr_int("axis"), rank);
  const Reduction reduction = reduction_of(args.node);
  const size_t width = dtype_size(data.dtype);
  copy_data(data, out);
  auto* to = static_cast<std::byte*>(out.data);
  const auto* from = static_cast<const std::byte*>(updates.data);
  for (int64_t i = 0; i < indices.elements(); ++i) {
    int64_t rest = i;
    int64_t offset = 0;
    int64_t stride = 1;
    for (int d = rank - 1; d >= 0; --d) {
      int64_t coord = rest % indices.dims[d];
      rest /= indices.dims[d];
      if (d == axis) {
        coord = checked_index(args.node, index_at(indices, i), data.dims[d]);
      } else if (coord >= data.dims[d]) {
        fail_node(args.node, "indices exceed data's dim ", d);
      }
      offset += coord * stride;
      stride *= data.dims[d];
    }
    combine(to + offset * width, from + i * width, data.dtype, reduction);
  }
}

// The element offset in data, from dim `batch` on, of index tuple `t`
// (the last dim of indices holds each tuple).
int64_t tuple_offset(const NodeDesc& node, const TensorRef& data, const TensorRef& indices,
                     int batch, int64_t t) {
  const int64_t q = indices.dims.back();
  int64_t offset = 0;
  for (int64_t j = 0; j < q; ++j) {
    const int64_t length = data.dims[batch + j];
    offset = offset * length + checked_index(node, index_at(indices, t * q + j), length);
  }
  return offset * product(data.dims, static_cast<size_t>(batch + q), data.dims.size());
}

void run_scatter_nd(const KernelArgs& args) {
  const TensorRef& data = args.inputs[0];
  const TensorRef& indices = args.inputs[1];
  const TensorRef& updates = args.inputs[2];
  const TensorRef& out = args.outputs[0];
  const Reduction reduction = reduction_of(args.node);
  const size_t width = dtype_size(data.dtype);
  const auto q = static_cast<size_t>(indices.dims.back());
  const int64_t tuples = product(indices.dims, 0, indices.dims.size() - 1);
  const int64_t slice = product(data.dims, q, data.dims.size());
  copy_data(data, out);
  auto* to = static_cast<std::byte*>(out.data);
  const auto* from = static_cast<const std::byte*>(updates.data);
  for (int64_t t = 0; t < tuples; ++t) {
    const int64_t offset = tuple_offset(args.node, data, indices, 0, t);
    for (int64_t e = 0; e < slice; ++e) {
      combine(to + (offset + e) * width, from + (t * slice + e) * width, data.dtype, reduction);
    }
  }
}

void run_gather_nd(const KernelArgs& args) {
  const TensorRef& data = args.inputs[0];
  const TensorRef& indices = args.inputs[1];
  const TensorRef& out = args.outputs[0];
  const auto b = static_cast<int>(args.node.attr_int("batch_dims"));
  const auto q = static_cast<size_t>(indices.dims.back());
  const int64_t batches = product(data.dims, 0, b);
  const int64_t batch_size = product(data.dims, b, data.dims.size());
  const int64_t tuples = product(indices.dims, b, indices.dims.size() - 1);
  const size_t slice_bytes = product(data.dims, b + q, data.dims.size()) * dtype_size(data.dtype);
  const size_t width = dtype_size(data.dtype);
  const auto* from = static_cast<const std::byte*>(data.data);
  auto* to = static_cast<std::byte*>(out.data);
  for (int64_t n = 0; n < batches; ++n) {
    for (int64_t t = 0; t < tuples; ++t) {
      const int64_t offset =
          n * batch_size + tuple_offset(args.node, data, indices, b, n * tuples + t);
      std::memcpy(to + (n * tuples + t) * slice_bytes, from + offset * width, slice_bytes);
    }
  }
}

const OpSpec kIndexOps[] = {
    raw_kernel("top_k", run_top_k, "cpu.top_k.partial_sort"),
    raw_kernel("scatter_elements", run_scatter_elements, "cpu.scatter_elements.elements"),
    raw_kernel("scatter_nd", run_scatter_nd, "cpu.scatter_nd.slices"),
    raw_kernel("gather_nd", run_gather_nd, "cpu.gather_nd.slices"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kIndex> = kIndexOps;

}  // namespace rtscope::cpu
