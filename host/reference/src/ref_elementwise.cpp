// Reference kernels of the elementwise ops.
#include <cmath>

#include "ref_ops.hpp"
#include "rtscope/op_registry.hpp"

namespace rtscope::reference::detail {
namespace {

template <typename Function>
void binary(const std::vector<RefTensor>& in, std::vector<RefTensor>& out, Function function) {
  RefTensor& result = out[0];
  const std::vector<int64_t> from_a = broadcast_sources(result.shape, in[0].shape);
  const std::vector<int64_t> from_b = broadcast_sources(result.shape, in[1].shape);
  for (std::size_t i = 0; i < result.data.size(); ++i) {
    result.data[i] = function(in[0].data[from_a[i]], in[1].data[from_b[i]]);
  }
}

template <typename Function>
void unary(const std::vector<RefTensor>& in, std::vector<RefTensor>& out, Function function) {
  for (std::size_t i = 0; i < out[0].data.size(); ++i) out[0].data[i] = function(in[0].data[i]);
}

}  // namespace

void add_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  binary(in, out, [](double a, double b) { return a + b; });
}

void sub_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  binary(in, out, [](double a, double b) { return a - b; });
}

void mul_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  binary(in, out, [](double a, double b) { return a * b; });
}

void scale_kernel(const std::vector<RefTensor>& in, const AttrMap& attrs,
                  std::vector<RefTensor>& out) {
  const double factor = attr_real(attrs, "factor");
  unary(in, out, [factor](double x) { return x * factor; });
}

void relu_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  // Written so a NaN passes through, as max(x, 0) does in numpy.
  unary(in, out, [](double x) { return x < 0.0 ? 0.0 : x; });
}

void gelu_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  unary(in, out, [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); });
}

void silu_kernel(const std::vector<RefTensor>& in, const AttrMap&, std::vector<RefTensor>& out) {
  unary(in, out, [](double x) { return x / (1.0 + std::exp(-x)); });
}

}  // namespace rtscope::reference::detail
