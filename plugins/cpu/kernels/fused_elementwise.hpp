// Elementwise tails fused into a product's or a convolution's output
// (fusion.hpp): the kernel writes a block of output columns (or channels),
// and the tail rewrites that block while it is still in cache, on the same
// thread. The arithmetic is the unfused ops' own (add, silu then mul,
// relu), so a fused step gives the floats an unfused one does.
#pragma once

#include <cstdint>

namespace rtscope::cpu {

struct LinearEpilogue {
  enum class Kind : uint8_t {
    kResidualAdd,      // out = operand + out
    kSiluGateMul,      // out = silu(operand) * out
    kRelu,             // out = relu(out); no operand
    kResidualAddRelu,  // out = relu(operand + out)
  };
  Kind kind = Kind::kResidualAdd;
  // [rows, n], laid out like the output. A residual operand may be the
  // output itself: the product then accumulates onto it (beta 1) and
  // there is nothing left to add.
  const float* operand = nullptr;

  bool accumulates_in_place(const float* out) const {
    return kind == Kind::kResidualAdd && operand == out;
  }

  // The same tail for the part of the output that starts `offset` floats
  // in: the operand moves along with it.
  LinearEpilogue shifted(int64_t offset) const {
    return {kind, operand != nullptr && kind != Kind::kRelu ? operand + offset : operand};
  }
};

// Applies `epilogue` to columns [begin, end) of every row of `out`
// ([rows, n]); nothing for a residual already accumulated in place.
void apply_epilogue(const LinearEpilogue& epilogue, float* out, int64_t rows, int64_t n,
                    int64_t begin, int64_t end);

}  // namespace rtscope::cpu
