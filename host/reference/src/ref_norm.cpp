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

void layernorm_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                      std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const double eps = attr_real(attrs, "eps");
  const int64_t d = x.shape.back();
  const int64_t rows = d == 0 ? 0 : static_cast<int64_t>(x.data.size()) / d;
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = x.data.data() + r * d;
    double mean = 0.0;
    for (int64_t j = 0; j < d; ++j) mean += row[j];
    mean /= static_cast<double>(d);
    double var = 0.0;  // biased: divided by d, not d - 1
    for (int64_t j = 0; j < d; ++j) var += (row[j] - mean) * (row[j] - mean);
    var /= static_cast<double>(d);
    const double inv = 1.0 / std::sqrt(var + eps);
    for (int64_t j = 0; j < d; ++j) {
      out[0].data[r * d + j] = (row[j] - mean) * inv * in[1].data[j] + in[2].data[j];
    }
  }
}

void rmsnorm_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                    std::vector<RefTensor>& out) {
  const RefTensor& x = in[0];
  const double eps = attr_real(attrs, "eps");
  const int64_t d = x.shape.back();
  const int64_t rows = d == 0 ? 0 : static_cast<int64_t>(x.data.size()) / d;
  for (int64_t r = 0; r < rows; ++r) {
    const double* row = x.data.data() + r * d;
    double mean_square = 0.0;
    for (int64_t j = 0; j < d; ++j) mean_square += row[j] * row[j];
    mean_square /= static_cast<double>(d);
    const double inv = 1.0 / std::sqrt(mean_square + eps);
    for (int64_t j = 0; j < d; ++j) out[0].data[r * d + j] = row[j] * inv * in[1].data[j];
  }
}

}  // namespace rtscope::reference::detail
