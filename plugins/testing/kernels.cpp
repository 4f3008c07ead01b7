#include "kernels.hpp"

#include <algorithm>
#include <iterator>

#include "rtscope/kit/error.hpp"

namespace rtscope_testing {
namespace {

using rtscope::kit::fail;

// Each op's name in graphs and its kernel name for query_node, by Op.
struct OpNames {
  const char* op;
  const char* kernel;
};
constexpr OpNames kOpNames[] = {{"add", "testing:add"},
                                {"mul", "testing:mul"},
                                {"scale", "testing:scale"},
                                {"relu", "testing:relu"},
                                {"nonzero", "testing:nonzero"}};

float apply(Op op, float a, float b) { return op == Op::kAdd ? a + b : a * b; }

// Strides of `shape` seen through broadcasting to `out`: 0 where a dim is
// broadcast, right-aligned as numpy does.
Dims broadcast_strides(const Shape& shape, const Shape& out) {
  Dims strides{};
  int64_t stride = 1;
  for (int d = static_cast<int>(shape.rank) - 1; d >= 0; --d) {
    const int od = d + static_cast<int>(out.rank - shape.rank);
    strides[od] = shape.dims[d] == 1 ? 0 : stride;
    stride *= shape.dims[d];
  }
  return strides;
}

}  // namespace

int64_t Shape::numel() const {
  int64_t n = 1;
  for (uint32_t d = 0; d < rank; ++d) n *= dims[d];
  return n;
}

bool Shape::operator==(const Shape& other) const {
  return rank == other.rank && std::equal(dims.begin(), dims.begin() + rank, other.dims.begin());
}

std::optional<Op> op_from_name(std::string_view name) {
  for (size_t i = 0; i < std::size(kOpNames); ++i) {
    if (name == kOpNames[i].op) return static_cast<Op>(i);
  }
  return std::nullopt;
}

std::string_view op_name(Op op) { return kOpNames[static_cast<size_t>(op)].op; }

uint32_t op_arity(Op op) { return op == Op::kAdd || op == Op::kMul ? 2 : 1; }

const char* kernel_detail(Op op) { return kOpNames[static_cast<size_t>(op)].kernel; }

Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& node) {
  Shape out;
  out.rank = std::max(a.rank, b.rank);
  for (uint32_t d = 0; d < out.rank; ++d) {
    // Right-aligned: missing leading dims count as 1.
    const int ad = static_cast<int>(d) - static_cast<int>(out.rank - a.rank);
    const int bd = static_cast<int>(d) - static_cast<int>(out.rank - b.rank);
    const int64_t x = ad >= 0 ? a.dims[ad] : 1;
    const int64_t y = bd >= 0 ? b.dims[bd] : 1;
    if (x != y && x != 1 && y != 1) {
      fail(RTS_ERROR_INVALID_ARGUMENT, "node '" + node + "': cannot broadcast dim " +
                                           std::to_string(d) + " (" + std::to_string(x) + " vs " +
                                           std::to_string(y) + ")");
    }
    out.dims[d] = x == 1 ? y : x;
  }
  return out;
}

void run_binary(Op op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
                float* out, const Shape& out_shape) {
  const int64_t n = out_shape.numel();
  if (a_shape == out_shape && b_shape == out_shape) {
    for (int64_t i = 0; i < n; ++i) out[i] = apply(op, a[i], b[i]);
    return;
  }
  // General case: walk the output in row-major order with an odometer and
  // keep each input's offset in step with it.
  const Dims a_strides = broadcast_strides(a_shape, out_shape);
  const Dims b_strides = broadcast_strides(b_shape, out_shape);
  Dims index{};
  int64_t a_offset = 0;
  int64_t b_offset = 0;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = apply(op, a[a_offset], b[b_offset]);
    for (int d = static_cast<int>(out_shape.rank) - 1; d >= 0; --d) {
      a_offset += a_strides[d];
      b_offset += b_strides[d];
      if (++index[d] < out_shape.dims[d]) break;
      a_offset -= a_strides[d] * index[d];
      b_offset -= b_strides[d] * index[d];
      index[d] = 0;
    }
  }
}

void run_scale(const float* x, int64_t n, double factor, float* out) {
  // Computed in double and rounded once, like the float64 reference.
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(static_cast<double>(x[i]) * factor);
}

void run_relu(const float* x, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] < 0.0f ? 0.0f : x[i];  // NaN propagates
}

int64_t count_nonzero(const float* x, int64_t n) {
  int64_t count = 0;
  for (int64_t i = 0; i < n; ++i) count += x[i] != 0.0f ? 1 : 0;
  return count;
}

void run_nonzero(const float* x, const Shape& x_shape, int64_t rows, int64_t* out) {
  const uint32_t rank = x_shape.rank;
  Dims coords{};
  int64_t row = 0;
  const int64_t n = x_shape.numel();
  for (int64_t i = 0; i < n && row < rows; ++i) {
    if (x[i] != 0.0f) {
      for (uint32_t d = 0; d < rank; ++d) out[row * rank + d] = coords[d];
      ++row;
    }
    // Odometer increment: coords of element i + 1 in row-major order.
    for (uint32_t d = rank; d-- > 0;) {
      if (++coords[d] < x_shape.dims[d]) break;
      coords[d] = 0;
    }
  }
  std::fill(out + row * rank, out + rows * rank, int64_t{-1});
}

}  // namespace rtscope_testing
