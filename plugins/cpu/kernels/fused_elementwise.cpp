#include "kernels/fused_elementwise.hpp"

#include "vector_math.hpp"

namespace rtscope::cpu {

void apply_epilogue(const LinearEpilogue& epilogue, float* out, int64_t rows, int64_t n,
                    int64_t begin, int64_t end) {
  if (epilogue.accumulates_in_place(out)) return;
  for (int64_t row = 0; row < rows; ++row) {
    float* dst = out + row * n;
    // No operand for relu (and no offset from a null pointer).
    const float* operand =
        epilogue.kind == LinearEpilogue::Kind::kRelu ? nullptr : epilogue.operand + row * n;
    switch (epilogue.kind) {
      case LinearEpilogue::Kind::kResidualAdd:
        for (int64_t c = begin; c < end; ++c) dst[c] = operand[c] + dst[c];
        break;
      case LinearEpilogue::Kind::kSiluGateMul:
        silu_gate_mul(operand + begin, dst + begin, end - begin);
        break;
      case LinearEpilogue::Kind::kRelu:
        for (int64_t c = begin; c < end; ++c) dst[c] = dst[c] > 0.0f ? dst[c] : 0.0f;
        break;
      case LinearEpilogue::Kind::kResidualAddRelu:
        for (int64_t c = begin; c < end; ++c) {
          const float sum = operand[c] + dst[c];
          dst[c] = sum > 0.0f ? sum : 0.0f;
        }
        break;
    }
  }
}

}  // namespace rtscope::cpu
