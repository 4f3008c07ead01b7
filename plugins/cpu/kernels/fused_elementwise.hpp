// Elementwise tails fused into a product's output (fusion.hpp): the
// product writes a block of output columns, and the tail rewrites that
// block while it is still in cache, on the same thread. The arithmetic is
// the unfused ops' own (add, silu then mul), so a fused step gives the
// floats an unfused one does.
#pragma once

#include <cstdint>

namespace rtscope::cpu {

struct LinearEpilogue {
  enum class Kind : uint8_t {
    kResidualAdd,  // out = operand + out
    kSiluGateMul,  // out = silu(operand) * out
  };
  Kind kind = Kind::kResidualAdd;
  // [rows, n], laid out like the output. A residual operand may be the
  // output itself: the product then accumulates onto it (beta 1) and
  // there is nothing left to add.
  const float* operand = nullptr;

  bool accumulates_in_place(const float* out) const {
    return kind == Kind::kResidualAdd && operand == out;
  }
};

// Applies `epilogue` to columns [begin, end) of every row of `out`
// ([rows, n]); nothing for a residual already accumulated in place.
void apply_epilogue(const LinearEpilogue& epilogue, float* out, int64_t rows, int64_t n,
                    int64_t begin, int64_t end);

}  // namespace rtscope::cpu
