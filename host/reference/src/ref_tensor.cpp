// RefTensor conversion and the closeness measure used to judge backends.
#include <cmath>
#include <limits>

#include "rtscope/reference/reference.hpp"

namespace rtscope::reference {

RefTensor RefTensor::from(const Tensor& tensor) {
  return RefTensor{tensor.dtype(), tensor.shape(), tensor.to_doubles()};
}

double closeness(const Tensor& actual, const RefTensor& expected, double atol, double rtol) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (actual.shape() != expected.shape ||
      static_cast<std::size_t>(element_count(expected.shape)) != expected.data.size()) {
    return kInf;
  }
  const std::vector<double> values = actual.to_doubles();
  double worst = 0.0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    const double a = values[i];
    const double b = expected.data[i];
    if (std::isnan(a) || std::isnan(b)) {
      if (std::isnan(a) && std::isnan(b)) continue;  // both NaN agree
      return kInf;
    }
    if (a == b) continue;  // also covers equal infinities
    const double diff = std::abs(a - b);
    const double tolerance = atol + rtol * std::abs(b);
    // A zero tolerance accepts only exact equality, handled above.
    worst = std::max(worst, tolerance > 0.0 ? diff / tolerance : kInf);
  }
  return worst;
}

}  // namespace rtscope::reference
