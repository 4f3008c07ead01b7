// oneDNN's sgemm (libdnnl, built on OpenMP), run on the calling thread.
// For the small products of a decode step its AVX-512 kernels beat
// OpenBLAS's by 1.5-10x on machines OpenBLAS 0.3.21 has no tuned kernels
// for; tuning (tuning.hpp) measures both and picks per shape.
#pragma once

#include <cstdint>

namespace rtscope::cpu {

// C[m,n] = A[m,k] · B (B is [k,n], or [n,k] when transposed) + beta·C,
// row-major with leading dimensions lda, ldb, ldc. oneDNN would start an
// OpenMP team of its own per call; parallelism here is the plugin pool's
// job (callers split columns over it), so the call runs single-threaded
// and leaves the thread's OpenMP setting as it found it. Throws Error on a
// oneDNN failure.
void onednn_sgemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
                  int64_t lda, int64_t ldb, int64_t ldc, bool b_transposed, float beta);

}  // namespace rtscope::cpu
