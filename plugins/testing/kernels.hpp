// The op set of the testing plugin: f32 add, mul, scale, relu and nonzero with the
// semantics of docs/ops.md, written as plain loops so results are exactly
// reproducible on every machine.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "rtscope/plugin_abi.h"

namespace rtscope_testing {

// kNonzero reads f32 and writes i64 indices; every other op is f32 only.
// In the order of kOpNames (kernels.cpp).
enum class Op { kAdd, kMul, kScale, kRelu, kNonzero };

using Dims = std::array<int64_t, RTS_MAX_RANK>;

// Concrete shape of a tensor at execute time.
struct Shape {
  uint32_t rank = 0;
  Dims dims{};
  int64_t numel() const;
  bool operator==(const Shape& other) const;
};

std::optional<Op> op_from_name(std::string_view name);
std::string_view op_name(Op op);
uint32_t op_arity(Op op);
// Static kernel name reported by query_node ("testing:add").
const char* kernel_detail(Op op);

// numpy broadcasting; fails with RTS_ERROR_INVALID_ARGUMENT naming `node`.
Shape broadcast_shapes(const Shape& a, const Shape& b, const std::string& node);

void run_binary(Op op, const float* a, const Shape& a_shape, const float* b, const Shape& b_shape,
                float* out, const Shape& out_shape);
void run_scale(const float* x, int64_t n, double factor, float* out);
void run_relu(const float* x, int64_t n, float* out);
// Nonzero elements of x in row-major order.
int64_t count_nonzero(const float* x, int64_t n);
// Writes the index rows of the first `rows` nonzero elements of x, then
// rows of -1 up to `rows`, into out [rows, x_shape.rank].
void run_nonzero(const float* x, const Shape& x_shape, int64_t rows, int64_t* out);

}  // namespace rtscope_testing
