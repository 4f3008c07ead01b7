#include "kernels/onednn_gemm.hpp"

#include <dlfcn.h>
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

#include "kit_names.hpp"

namespace rtscope::cpu {
namespace {

// oneDNN's OpenMP runtime (libgomp) keeps per-thread state and a pthread
// key whose destructor frees it; unloading libgomp with this plugin would
// delete the key while threads that touched OpenMP live on, so their state
// could never be freed. Pinned for the life of the process.
void* const kPinnedOpenMp = dlopen("libgomp.so.1", RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);

}  // namespace

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
