// matmul and linear through OpenBLAS sgemm. Batch dims broadcast; when b
// has no batch dims the whole batch of a folds into one large sgemm.
// Specialized forms, chosen per shape by measurement: per-batch or
// pool-parallel batches for matmul; sgemv for few rows and output columns
// split over the plugin's pool for linear; oneDNN's sgemm, on the calling
// thread or over column blocks on the pool, for both; for linear on
// constant weights, oneDNN's matmul primitive on weights packed once per
// plan (packed_linear.hpp). And det: each matrix's determinant by LU in
// double (rtscope/op_det.hpp).
#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "kernels/fused_elementwise.hpp"
#include "kernels/onednn_gemm.hpp"
#include "kernels/op_spec.hpp"
#include "kernels/packed_linear.hpp"
#include "rtscope/op_det.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

bool transpose_b(const NodeDesc& node) { return node.attr_int("transpose_b", 0) != 0; }

// C[m,n] = A[m,k] · B (B is [k,n], or [n,k] when transposed) with leading
// dimensions, through OpenBLAS; the signature of onednn_sgemm. beta 0 or 1.
void openblas_sgemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
                    int64_t lda, int64_t ldb, int64_t ldc, bool b_transposed, float beta) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, b_transposed ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

// C[m,n] = A[m,k] · B (B is [k,n], or [n,k] when transposed); beta 0 or 1.
void sgemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k,
           bool b_transposed, float beta) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    if (beta == 0.0f) std::memset(c, 0, static_cast<size_t>(m * n) * sizeof(float));
    return;
  }
  openblas_sgemm(a, b, c, m, n, k, k, b_transposed ? k : n, n, b_transposed, beta);
}

// A fused elementwise tail (fusion.hpp) on output columns [begin, end) of
// all `rows` rows, right after the product wrote them.
void finish_columns(const KernelArgs& args, int64_t rows, int64_t n, int64_t begin, int64_t end) {
  if (args.epilogue != nullptr && end > begin) {
    apply_epilogue(*args.epilogue, args.outputs[0].as<float>(), rows, n, begin, end);
  }
}

// The same on the whole output of a product.
void finish_output(const KernelArgs& args) {
  const TensorRef& out = args.outputs[0];
  const int64_t n = out.rank() > 0 ? out.dim(-1) : 1;
  if (n > 0) finish_columns(args, out.elements() / n, n, 0, n);
}

// Where matrix `batch` of the output reads its a and b matrices, with
// broadcast batch dims.
struct BatchLayout {
  int batch_rank = 0;
  int64_t out_dims[RTS_MAX_RANK] = {};
  int64_t a_strides[RTS_MAX_RANK] = {};
  int64_t b_strides[RTS_MAX_RANK] = {};

  BatchLayout(const TensorRef& a, const TensorRef& b, const TensorRef& out)
      : batch_rank(out.rank() - 2) {
    int64_t a_stride = 1;
    int64_t b_stride = 1;
    for (int i = batch_rank - 1; i >= 0; --i) {
      const int ai = i - (batch_rank - (a.rank() - 2));
      const int bi = i - (batch_rank - (b.rank() - 2));
      const int64_t da = ai >= 0 ? a.dims[ai] : 1;
      const int64_t db = bi >= 0 ? b.dims[bi] : 1;
      out_dims[i] = out.dims[i];
      a_strides[i] = da == 1 ? 0 : a_stride;
      b_strides[i] = db == 1 ? 0 : b_stride;
      a_stride *= da;
      b_stride *= db;
    }
  }

  void matrices(int64_t batch, int64_t& a_matrix, int64_t& b_matrix) const {
    a_matrix = 0;
    b_matrix = 0;
    for (int axis = batch_rank - 1; axis >= 0; --axis) {
      const int64_t index = batch % out_dims[axis];
      batch /= out_dims[axis];
      a_matrix += index * a_strides[axis];
      b_matrix += index * b_strides[axis];
    }
  }
};

struct MatmulShape {
  int64_t m, n, k, batches;
  bool b_transposed;
  bool foldable;  // one b for every batch and a covers the batch
};

MatmulShape matmul_shape(const KernelArgs& args) {
  const TensorRef& a = args.inputs[0];
  const TensorRef& b = args.inputs[1];
  const TensorRef& out = args.outputs[0];
  MatmulShape shape;
  shape.m = a.dim(-2);
  shape.k = a.dim(-1);
  shape.n = out.dim(-1);
  shape.b_transposed = transpose_b(args.node);
  shape.batches = element_count(out.dims.first(out.rank() - 2));
  shape.foldable = element_count(b.dims.first(b.rank() - 2)) == 1 &&
                   element_count(a.dims.first(a.rank() - 2)) == shape.batches;
  return shape;
}

void matmul_batches(const KernelArgs& args, const MatmulShape& shape, int64_t begin, int64_t end) {
  const BatchLayout layout(args.inputs[0], args.inputs[1], args.outputs[0]);
  const float* a_data = args.inputs[0].as<const float>();
  const float* b_data = args.inputs[1].as<const float>();
  float* out_data = args.outputs[0].as<float>();
  const int64_t m = shape.m, n = shape.n, k = shape.k;
  for (int64_t batch = begin; batch < end; ++batch) {
    int64_t a_matrix, b_matrix;
    layout.matrices(batch, a_matrix, b_matrix);
    sgemm(a_data + a_matrix * m * k, b_data + b_matrix * k * n, out_data + batch * m * n, m, n, k,
          shape.b_transposed, 0.0f);
  }
}

// A product with the signature of onednn_sgemm: oneDNN's or OpenBLAS's.
using GemmFn = void (*)(const float*, const float*, float*, int64_t, int64_t, int64_t, int64_t,
                        int64_t, int64_t, bool, float);

// A folded batch: output columns [begin, end) of the one [batches*m, n]
// product, through `gemm`.
void matmul_columns(const KernelArgs& args, const MatmulShape& shape, int64_t begin, int64_t end,
                    GemmFn gemm) {
  if (end <= begin) return;
  const int64_t rows = shape.batches * shape.m;
  const float* b = args.inputs[1].as<const float>();
  float* out = args.outputs[0].as<float>() + begin;
  if (shape.k == 0) {
    for (int64_t row = 0; row < rows; ++row) std::fill_n(out + row * shape.n, end - begin, 0.0f);
    return;
  }
  if (rows == 0) return;
  gemm(args.inputs[0].as<const float>(), shape.b_transposed ? b + begin * shape.k : b + begin, out,
       rows, end - begin, shape.k, shape.k, shape.b_transposed ? shape.k : shape.n, shape.n,
       shape.b_transposed, 0.0f);
}

// Column blocks of the folded product over the pool, through `Gemm`:
// OpenBLAS and oneDNN each run one block per task on one thread.
template <GemmFn Gemm>
void run_matmul_split_n(const KernelArgs& args) {
  const MatmulShape shape = matmul_shape(args);
  args.pool.parallel_for(shape.n, args.grain_or(shape.n), [&](int64_t begin, int64_t end) {
    matmul_columns(args, shape, begin, end, Gemm);
    finish_columns(args, shape.batches * shape.m, shape.n, begin, end);
  });
}

// Column blocks of at least 64 keep each product call efficient; 16 keeps
// block starts on 64-byte boundaries.
int64_t column_grain(int64_t n, unsigned threads) {
  const int64_t per_thread = (n + threads - 1) / threads;
  return (per_thread + 15) / 16 * 16;
}

// Whether a generic kernel (no tuning: kernel_specialization none, or a
// plan not yet specialized) runs its product as column blocks over the
// pool: OpenBLAS runs one thread per call (plugin.cpp), so a large product
// would otherwise run on the calling thread alone. Below this many
// multiply-adds a task hand-off costs more than it saves. A tuned choice
// of the single-call form keeps it.
bool generic_splits(const KernelArgs& args, int64_t m, int64_t n, int64_t k) {
  constexpr int64_t kMinMacs = int64_t{1} << 22;
  return args.tuning == nullptr && args.pool.size() > 1 && n >= 128 && m * n * k >= kMinMacs;
}

// Runs `split` (a column-block kernel) with one block of columns per pool
// thread, as tuning would give it.
void run_with_column_grain(const KernelArgs& args, int64_t n, KernelFn split) {
  const KernelTuning columns{.grain = column_grain(n, args.pool.size())};
  KernelArgs with_grain = args;
  with_grain.tuning = &columns;
  split(with_grain);
}

// Generic: folds the batch into one sgemm when b is shared (column blocks
// over the pool when large), else one sgemm per batch.
void run_matmul(const KernelArgs& args) {
  const MatmulShape shape = matmul_shape(args);
  if (shape.foldable && generic_splits(args, shape.batches * shape.m, shape.n, shape.k)) {
    run_with_column_grain(args, shape.n, run_matmul_split_n<openblas_sgemm>);
    return;
  }
  if (shape.foldable) {
    sgemm(args.inputs[0].as<const float>(), args.inputs[1].as<const float>(),
          args.outputs[0].as<float>(), shape.batches * shape.m, shape.n, shape.k,
          shape.b_transposed, 0.0f);
  } else {
    matmul_batches(args, shape, 0, shape.batches);
  }
  finish_output(args);
}

// One sgemm per batch even when the batch could fold: small per-batch
// matrices stay in cache.
void run_matmul_per_batch(const KernelArgs& args) {
  const MatmulShape shape = matmul_shape(args);
  matmul_batches(args, shape, 0, shape.batches);
  finish_output(args);
}

// Batches spread over the plugin's pool, `grain` batches per task.
void run_matmul_batch_pool(const KernelArgs& args) {
  const MatmulShape shape = matmul_shape(args);
  args.pool.parallel_for(shape.batches, args.grain_or(1), [&](int64_t begin, int64_t end) {
    matmul_batches(args, shape, begin, end);
  });
  finish_output(args);
}

// Offered only where the batch folds (tune_matmul checks).
void run_matmul_onednn(const KernelArgs& args) {
  const MatmulShape shape = matmul_shape(args);
  matmul_columns(args, shape, 0, shape.n, onednn_sgemm);
  finish_columns(args, shape.batches * shape.m, shape.n, 0, shape.n);
}

void tune_matmul(const NodeDesc&, std::span<const Dims* const> inputs,
                 std::span<const Dims> outputs, unsigned threads, TuningSpace& space) {
  const Dims& out = outputs[0];
  const Dims& a = *inputs[0];
  const Dims& b = *inputs[1];
  const int64_t batches = element_count(std::span(out).first(out.size() - 2));
  const bool foldable = element_count(std::span(b).first(b.size() - 2)) == 1 &&
                        element_count(std::span(a).first(a.size() - 2)) == batches;
  space.variants.push_back({"matmul.generic", run_matmul, {}});
  if (foldable) {
    space.variants.push_back({"matmul.onednn", run_matmul_onednn, {}});
    const int64_t n = out.back();
    if (threads > 1 && n >= 128) {
      space.variants.push_back(
          {"matmul.split_n", run_matmul_split_n<openblas_sgemm>, {column_grain(n, threads)}});
      space.variants.push_back(
          {"matmul.onednn_split_n", run_matmul_split_n<onednn_sgemm>, {column_grain(n, threads)}});
    }
  }
  if (batches > 1) {
    space.variants.push_back({"matmul.per_batch", run_matmul_per_batch, {}});
    if (threads > 1) {
      for (int64_t grain : candidate_grains(batches, threads, 1)) {
        if (grain < batches)
          space.variants.push_back({"matmul.batch_pool", run_matmul_batch_pool, {grain}});
      }
    }
  }
}

struct LinearShape {
  int64_t m, n, k;
};

LinearShape linear_shape(const KernelArgs& args) {
  const int64_t k = args.inputs[1].dim(0);
  const int64_t n = args.inputs[1].dim(1);
  return {n > 0 ? args.outputs[0].elements() / n : 0, n, k};
}

// What the product accumulates onto; returns the beta it must use. A bias
// is copied into every output row first; a fused residual that already
// is the output (the plan put the sum in the residual's storage) stays,
// and a bias is added onto it.
float prefill_bias(const KernelArgs& args, const LinearShape& shape) {
  float* out_data = args.outputs[0].as<float>();
  const bool onto_residual =
      args.epilogue != nullptr && args.epilogue->accumulates_in_place(out_data);
  if (args.inputs.size() < 3) return onto_residual ? 1.0f : 0.0f;
  const float* bias = args.inputs[2].as<const float>();
  const int64_t n = shape.n;
  args.pool.parallel_for(shape.m, rows_per_task(n), [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      float* dst = out_data + row * n;
      if (onto_residual) {
        for (int64_t c = 0; c < n; ++c) dst[c] += bias[c];
      } else {
        std::memcpy(dst, bias, static_cast<size_t>(n) * sizeof(float));
      }
    }
  });
  return 1.0f;
}

// out[row] = x[row] · W[:, begin:end] as a matrix-vector product: for a
// few rows (decode steps) sgemv avoids sgemm's packing.
void gemv_columns(const KernelArgs& args, const LinearShape& shape, int64_t row, int64_t begin,
                  int64_t end, float beta) {
  if (end <= begin) return;
  if (shape.k == 0) {
    if (beta == 0.0f)
      std::fill_n(args.outputs[0].as<float>() + row * shape.n + begin, end - begin, 0.0f);
    return;
  }
  cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<blasint>(shape.k),
              static_cast<blasint>(end - begin), 1.0f, args.inputs[1].as<const float>() + begin,
              static_cast<blasint>(shape.n), args.inputs[0].as<const float>() + row * shape.k, 1,
              beta, args.outputs[0].as<float>() + row * shape.n + begin, 1);
}

void run_linear_gemv(const KernelArgs& args) {
  const LinearShape shape = linear_shape(args);
  const float beta = prefill_bias(args, shape);
  for (int64_t row = 0; row < shape.m; ++row) gemv_columns(args, shape, row, 0, shape.n, beta);
  finish_columns(args, shape.m, shape.n, 0, shape.n);
}

// Output columns split over the plugin's pool, `grain` columns per task,
// each block one OpenBLAS call on its task's thread; measurement drops
// this form where it loses.
void run_linear_split_n(const KernelArgs& args) {
  const LinearShape shape = linear_shape(args);
  const float beta = prefill_bias(args, shape);
  const float* x = args.inputs[0].as<const float>();
  const float* w = args.inputs[1].as<const float>();
  float* out = args.outputs[0].as<float>();
  args.pool.parallel_for(shape.n, args.grain_or(shape.n), [&](int64_t begin, int64_t end) {
    if (shape.m == 1) {
      gemv_columns(args, shape, 0, begin, end, beta);
    } else if (shape.m == 0 || shape.k == 0) {
      if (beta == 0.0f) {
        for (int64_t row = 0; row < shape.m; ++row)
          std::fill(out + row * shape.n + begin, out + row * shape.n + end, 0.0f);
      }
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<blasint>(shape.m),
                  static_cast<blasint>(end - begin), static_cast<blasint>(shape.k), 1.0f, x,
                  static_cast<blasint>(shape.k), w + begin, static_cast<blasint>(shape.n), beta,
                  out + begin, static_cast<blasint>(shape.n));
    }
    finish_columns(args, shape.m, shape.n, begin, end);
  });
}

// Generic: one sgemm over every row (column blocks over the pool when
// large).
void run_linear(const KernelArgs& args) {
  const LinearShape shape = linear_shape(args);
  if (generic_splits(args, shape.m, shape.n, shape.k)) {
    run_with_column_grain(args, shape.n, run_linear_split_n);
    return;
  }
  const float beta = prefill_bias(args, shape);
  sgemm(args.inputs[0].as<const float>(), args.inputs[1].as<const float>(),
        args.outputs[0].as<float>(), shape.m, shape.n, shape.k, false, beta);
  finish_columns(args, shape.m, shape.n, 0, shape.n);
}

// oneDNN: output columns [begin, end) of every row, onto the bias when
// there is one (beta 1).
void onednn_linear_columns(const KernelArgs& args, const LinearShape& shape, int64_t begin,
                           int64_t end, float beta) {
  if (end <= begin || shape.m == 0) return;
  float* out = args.outputs[0].as<float>() + begin;
  if (shape.k == 0) {
    if (beta == 0.0f) {
      for (int64_t row = 0; row < shape.m; ++row)
        std::fill_n(out + row * shape.n, end - begin, 0.0f);
    }
    return;
  }
  onednn_sgemm(args.inputs[0].as<const float>(), args.inputs[1].as<const float>() + begin, out,
               shape.m, end - begin, shape.k, shape.k, shape.n, shape.n, false, beta);
}

void run_linear_onednn(const KernelArgs& args) {
  const LinearShape shape = linear_shape(args);
  const float beta = prefill_bias(args, shape);
  onednn_linear_columns(args, shape, 0, shape.n, beta);
  finish_columns(args, shape.m, shape.n, 0, shape.n);
}

void run_linear_onednn_split_n(const KernelArgs& args) {
  const LinearShape shape = linear_shape(args);
  const float beta = prefill_bias(args, shape);
  args.pool.parallel_for(shape.n, args.grain_or(shape.n), [&](int64_t begin, int64_t end) {
    onednn_linear_columns(args, shape, begin, end, beta);
    finish_columns(args, shape.m, shape.n, begin, end);
  });
}

void tune_linear(const NodeDesc&, std::span<const Dims* const> inputs,
                 std::span<const Dims> outputs, unsigned threads, TuningSpace& space) {
  const int64_t k = (*inputs[1])[0];
  const int64_t n = (*inputs[1])[1];
  const int64_t m = n > 0 ? element_count(outputs[0]) / n : 0;
  space.variants.push_back({"linear.sgemm", run_linear, {}});
  if (m <= 4) space.variants.push_back({"linear.sgemv", run_linear_gemv, {}});
  space.variants.push_back({"linear.onednn", run_linear_onednn, {}});
  if (threads > 1 && n >= 128) {
    if (m <= 64) {
      space.variants.push_back({"linear.split_n", run_linear_split_n, {column_grain(n, threads)}});
    }
    space.variants.push_back(
        {"linear.onednn_split_n", run_linear_onednn_split_n, {column_grain(n, threads)}});
  }
  add_packed_linear_variants(m, n, k, n >= 128 ? threads : 1, column_grain(n, threads),
                             space.variants);
}

void run_det(const KernelArgs& args) {
  const TensorRef& x = args.inputs[0];
  const int64_t n = x.dim(-1);
  const int64_t matrices = args.outputs[0].elements();
  const float* in = x.as<const float>();
  float* out = args.outputs[0].as<float>();
  args.pool.parallel_for(matrices, 16, [&](int64_t begin, int64_t end) {
    std::vector<double> matrix(static_cast<std::size_t>(n * n));
    for (int64_t m = begin; m < end; ++m) {
      std::copy(in + m * n * n, in + (m + 1) * n * n, matrix.begin());
      out[m] = static_cast<float>(math::determinant(matrix, n));
    }
  });
}

const OpSpec kMatmulOps[] = {
    {.op = "matmul",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_matmul,
     .kernel_name = "cpu.matmul.openblas_sgemm",
     .tune_space = tune_matmul},
    {.op = "linear",
     .f16_mode = F16Mode::kComputeInF32,
     .run = run_linear,
     .kernel_name = "cpu.linear.openblas_sgemm",
     .tune_space = tune_linear},
    f32_kernel("det", run_det, "cpu.det.lu"),
};

}  // namespace

template <>
std::span<const OpSpec> kOpSpecs<kit::OpFamily::kMatmul> = kMatmulOps;

}  // namespace rtscope::cpu
