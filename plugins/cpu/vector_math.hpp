// Element-wise functions that need exp, vectorized: glibc's libmvec
// (expf for 4, 8 or 16 lanes, in the build for the CPU's vector ISA
// picked at the first call) computes the exponentials, where a loop of
// std::exp runs one lane at a time (about 2.6 ns per element for silu on
// a 2-core Zen 5, against 0.4).
#pragma once

#include <cstdint>

namespace rtscope::cpu {

// out[i] = x[i] / (1 + exp(-x[i])). `out` may be `x`.
void silu(const float* x, float* out, int64_t n);

// inout[i] = silu(gate[i]) * inout[i]: SwiGLU's gate applied to the up
// projection (kernels/fused_elementwise.hpp).
void silu_gate_mul(const float* gate, float* inout, int64_t n);

// out[i] = exp(x[i] - top) for a top no smaller than any x[i] (a softmax's
// maximum), so no exponential overflows. `out` may be `x`.
void exp_below(const float* x, float top, float* out, int64_t n);

// out[i] = f(x[i]) for the unary ops exp, tanh and erf. `out` may be `x`.
// (sigmoid stays scalar: a vector one differed by a few ulps, enough to
// fail ONNX's GRU test whose output cancels to about 1e-7.)
void exp_each(const float* x, float* out, int64_t n);
void tanh_each(const float* x, float* out, int64_t n);
void erf_each(const float* x, float* out, int64_t n);

}  // namespace rtscope::cpu
