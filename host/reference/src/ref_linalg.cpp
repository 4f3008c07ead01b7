// Reference kernels of matmul and linear (plain triple loops in float64)
// and det (rtscope/op_det.hpp).
#include "ref_ops.hpp"
#include "rtscope/op_det.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference::detail {

void matmul_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                   std::vector<RefTensor>& out) {
  const RefTensor& a = in[0];
  const RefTensor& b = in[1];
  RefTensor& c = out[0];
  const bool transpose_b = attr_int(attrs, "transpose_b") != 0;
  const std::size_t ra = a.shape.size();
  const std::size_t rb = b.shape.size();
  const int64_t m = a.shape[ra - 2];
  const int64_t k = a.shape[ra - 1];
  const int64_t n = transpose_b ? b.shape[rb - 2] : b.shape[rb - 1];

  // Batch dims broadcast: map each output matrix to its a and b matrices.
  const Shape batch(c.shape.begin(), c.shape.end() - 2);
  const std::vector<int64_t> a_batch =
      broadcast_sources(batch, Shape(a.shape.begin(), a.shape.end() - 2));
  const std::vector<int64_t> b_batch =
      broadcast_sources(batch, Shape(b.shape.begin(), b.shape.end() - 2));

  for (std::size_t matrix = 0; matrix < a_batch.size(); ++matrix) {
    const double* pa = a.data.data() + a_batch[matrix] * m * k;
    const double* pb = b.data.data() + b_batch[matrix] * k * n;
    double* pc = c.data.data() + static_cast<int64_t>(matrix) * m * n;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0.0;
        for (int64_t p = 0; p < k; ++p) {
          sum += pa[i * k + p] * (transpose_b ? pb[j * k + p] : pb[p * n + j]);
        }
        pc[i * n + j] = sum;
      }
    }
  }
}

void linear_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const RefTensor& w = in[1];
  const int64_t k = w.shape[0];
  const int64_t n = w.shape[1];
  const int64_t rows = element_count(Shape(x.shape.begin(), x.shape.end() - 1));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      double sum = in.size() == 3 ? in[2].data[j] : 0.0;
      for (int64_t p = 0; p < k; ++p) sum += x.data[r * k + p] * w.data[p * n + j];
      out[0].data[r * n + j] = sum;
    }
  }
}

void det_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const int64_t n = x.shape.back();
  const auto size = static_cast<std::size_t>(n * n);
  for (std::size_t m = 0; m < out[0].data.size(); ++m) {
    std::vector<double> matrix(x.data.begin() + static_cast<std::ptrdiff_t>(m * size),
                               x.data.begin() + static_cast<std::ptrdiff_t>((m + 1) * size));
    out[0].data[m] = math::determinant(matrix, n);
  }
}

}  // namespace rtscope::reference::detail
