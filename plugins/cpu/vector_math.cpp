// Built with -ffast-math by GCC (CMakeLists.txt): only then does glibc declare
// libmvec's vector expf, tanhf and erff to the compiler. What the flag
// relaxes is kept out of reach: every loop computes each element on its
// own (no sum to reorder: callers sum); the only comparison is a select on
// x >= 0, whose NaN case gives NaN either way; exp overflows only where
// it returns +inf itself (exp_each); and in silu exp never
// sees a positive argument, so the divisor stays in [1, 2], where the
// reciprocal estimate GCC uses for a vector division under the flag is
// exact to a rounding (1 / (1 + inf) would give NaN through it). ±inf and
// NaN come out as in float64 (tests/cpu/vector_math_test.cpp).
//
// Each loop is compiled three times (isa_builds.hpp), for AVX-512, AVX2
// and the baseline: libmvec's 16-, 8- and 4-lane expf.
#include "vector_math.hpp"

#include <cmath>

#include "isa_builds.hpp"

namespace rtscope::cpu {
namespace {

// x · sigmoid(x), with e = exp(-|x|) in (0, 1]: sigmoid(x) is 1 / (1 + e)
// for x >= 0 and e / (1 + e) below.
inline __attribute__((always_inline)) float silu_one(float x) {
  const float e = std::exp(-std::fabs(x));
  const float r = 1.0f / (1.0f + e);
  return x * (x >= 0.0f ? r : e * r);
}

// The loops, inlined into each ISA's function below so that each is
// vectorized for its own ISA.
inline __attribute__((always_inline)) void silu_loop(const float* x, float* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = silu_one(x[i]);
}

inline __attribute__((always_inline)) void silu_gate_mul_loop(const float* __restrict gate,
                                                              float* __restrict inout, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) inout[i] = silu_one(gate[i]) * inout[i];
}

inline __attribute__((always_inline)) void exp_each_loop(const float* x, float* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i]);
}

inline __attribute__((always_inline)) void tanh_each_loop(const float* x, float* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = std::tanh(x[i]);
}

inline __attribute__((always_inline)) void erf_each_loop(const float* x, float* out, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = std::erf(x[i]);
}

inline __attribute__((always_inline)) void exp_below_loop(const float* x, float top, float* out,
                                                          int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; ++i) out[i] = std::exp(x[i] - top);
}

RTSCOPE_ISA_BUILDS(silu, (const float* x, float* out, int64_t n), (x, out, n))
RTSCOPE_ISA_BUILDS(silu_gate_mul, (const float* gate, float* inout, int64_t n), (gate, inout, n))
RTSCOPE_ISA_BUILDS(exp_below, (const float* x, float top, float* out, int64_t n), (x, top, out, n))
RTSCOPE_ISA_BUILDS(exp_each, (const float* x, float* out, int64_t n), (x, out, n))
RTSCOPE_ISA_BUILDS(tanh_each, (const float* x, float* out, int64_t n), (x, out, n))
RTSCOPE_ISA_BUILDS(erf_each, (const float* x, float* out, int64_t n), (x, out, n))

}  // namespace

void silu(const float* x, float* out, int64_t n) {
  static const auto run = for_this_cpu<silu_avx512, silu_avx2, silu_baseline>();
  run(x, out, n);
}

void silu_gate_mul(const float* gate, float* inout, int64_t n) {
  static const auto run =
      for_this_cpu<silu_gate_mul_avx512, silu_gate_mul_avx2, silu_gate_mul_baseline>();
  run(gate, inout, n);
}

void exp_below(const float* x, float top, float* out, int64_t n) {
  static const auto run = for_this_cpu<exp_below_avx512, exp_below_avx2, exp_below_baseline>();
  run(x, top, out, n);
}

void exp_each(const float* x, float* out, int64_t n) {
  static const auto run = for_this_cpu<exp_each_avx512, exp_each_avx2, exp_each_baseline>();
  run(x, out, n);
}

void tanh_each(const float* x, float* out, int64_t n) {
  static const auto run = for_this_cpu<tanh_each_avx512, tanh_each_avx2, tanh_each_baseline>();
  run(x, out, n);
}

void erf_each(const float* x, float* out, int64_t n) {
  static const auto run = for_this_cpu<erf_each_avx512, erf_each_avx2, erf_each_baseline>();
  run(x, out, n);
}

}  // namespace rtscope::cpu
