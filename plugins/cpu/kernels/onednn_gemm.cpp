#include "kernels/onednn_gemm.hpp"

#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "kit_names.hpp"

namespace rtscope::cpu {

void onednn_sgemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
                  int64_t lda, int64_t ldb, int64_t ldc, bool b_transposed, float beta) {
  if (m == 0 || n == 0) return;
  const int outer_threads = omp_get_max_threads();
  if (outer_threads != 1) omp_set_num_threads(1);
  const dnnl_status_t status =
      dnnl_sgemm('N', b_transposed ? 'T' : 'N', m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  if (outer_threads != 1) omp_set_num_threads(outer_threads);
  if (status != dnnl_success) {
    fail(RTS_ERROR_INTERNAL, "cpu: oneDNN sgemm ", m, "x", n, "x", k, " failed (dnnl status ",
         static_cast<int>(status), ")");
  }
}

}  // namespace rtscope::cpu
