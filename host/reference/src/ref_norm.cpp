// Reference kernels of softmax, layernorm and rmsnorm.
#include <cmath>
#include <limits>

#include "ref_ops.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference::detail {

void softmax_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                    std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const AxisSplit split = split_at(x.shape, positive_axis(attr_int(attrs, "axis"), x.shape.size()));
  for (int64_t o = 0; o < split.outer; ++o) {
    for (int64_t i = 0; i < split.inner; ++i) {
      auto at = [&](int64_t j) { return (o * split.length + j) * split.inner + i; };
      double max = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < split.length; ++j) max = std::max(max, x.data[at(j)]);
      double sum = 0.0;
      for (int64_t j = 0; j < split.length; ++j) {
        out[0].data[at(j)] = std::exp(x.data[at(j)] - max);
        sum += out[0].data[at(j)];
      }
      for (int64_t j = 0; j < split.length; ++j) out[0].data[at(j)] /= sum;
    }
  }
}

namespace {

// Calls `normalize(row, d, out_row)` on each row of in[0] along its last
// axis (length d); out[0] has the shape of in[0].
template <class Normalize>
void for_each_row(const std::vector<RefTensor>& in, std::vector<RefTensor>& out,
                  Normalize normalize) {
  const RefTensor& x = in[0];
  const int64_t d = x.shape.back();
  const int64_t rows = d == 0 ? 0 : static_cast<int64_t>(x.data.size()) / d;
  for (int64_t r = 0; r < rows; ++r)
    normalize(x.data.data() + r * d, d, out[0].data.data() + r * d);
}

}  // namespace

void layernorm_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                      std::vector<RefTensor>& out) {
  const double eps = attr_real(attrs, "eps");
  for_each_row(in, out, [&](const double* row, int64_t d, double* y) {
    double mean = 0.0;
    for (int64_t j = 0; j < d; ++j) mean += row[j];
    mean /= static_cast<double>(d);
    double var = 0.0;  // biased: divided by d, not d - 1
    for (int64_t j = 0; j < d; ++j) var += (row[j] - mean) * (row[j] - mean);
    var /= static_cast<double>(d);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t j = 0; j < d; ++j) y[j] = (row[j] - mean) * inv * in[1].data[j] + in[2].data[j];
  });
}

void rmsnorm_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                    std::vector<RefTensor>& out) {
  const double eps = attr_real(attrs, "eps");
  for_each_row(in, out, [&](const double* row, int64_t d, double* y) {
    double mean_square = 0.0;
    for (int64_t j = 0; j < d; ++j) mean_square += row[j] * row[j];
    mean_square /= static_cast<double>(d);
    const double inv = 1.0 / std::sqrt(mean_square + eps);
    for (int64_t j = 0; j < d; ++j) y[j] = row[j] * inv * in[1].data[j];
  });
}

}  // namespace rtscope::reference::detail
