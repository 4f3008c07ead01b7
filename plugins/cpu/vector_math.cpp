// Built with -ffast-math (CMakeLists.txt): only then does glibc declare
// libmvec's vector expf to the compiler. What the flag relaxes is kept out
// of reach: every loop computes each element on its own (no sum to
// reorder), and exp only ever sees -|x|, so it never overflows and the
// divisor stays in [1, 2], where the reciprocal estimate GCC uses for a
// vector division under the flag is exact to a rounding (1 / (1 + inf)
// would give NaN through it). silu(±inf) and silu(NaN) come out as in
// float64 (tests/cpu/vector_math_test.cpp).
#include "vector_math.hpp"

#include <cmath>

namespace rtscope::cpu {

// One clone per vector ISA, picked once by the dynamic loader's resolver.
#define RTSCOPE_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

namespace {

// x · sigmoid(x), with e = exp(-|x|) in (0, 1]: sigmoid(x) is 1 / (1 + e)
// for x >= 0 and e / (1 + e) below.
inline float silu_one(float x) {
  const float e = std::exp(-std::fabs(x));
  const float r = 1.0f / (1.0f + e);
  return x * (x >= 0.0f ? r : e * r);
}

}  // namespace

RTSCOPE_VECTOR_CLONES void silu(const float* x, float* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = silu_one(x[i]);
}

RTSCOPE_VECTOR_CLONES void silu_gate_mul(const float* __restrict gate, float* __restrict inout,
                                         int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) inout[i] = silu_one(gate[i]) * inout[i];
}

}  // namespace rtscope::cpu
