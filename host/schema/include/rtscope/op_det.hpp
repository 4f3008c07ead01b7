// det's determinant of one square matrix, by LU decomposition with partial
// pivoting in double: the float64 reference and the cpu plugin compute it
// with this one function.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace rtscope::math {

// The determinant of the n x n row-major matrix `values` (overwritten).
inline double determinant(std::vector<double>& values, int64_t n) {
  double det = 1.0;
  for (int64_t col = 0; col < n; ++col) {
    int64_t pivot = col;
    for (int64_t row = col + 1; row < n; ++row) {
      if (std::abs(values[row * n + col]) > std::abs(values[pivot * n + col])) pivot = row;
    }
    if (values[pivot * n + col] == 0.0) return 0.0;
    if (pivot != col) {
      for (int64_t k = 0; k < n; ++k) std::swap(values[pivot * n + k], values[col * n + k]);
      det = -det;
    }
    const double diagonal = values[col * n + col];
    det *= diagonal;
    for (int64_t row = col + 1; row < n; ++row) {
      const double factor = values[row * n + col] / diagonal;
      for (int64_t k = col; k < n; ++k) values[row * n + k] -= factor * values[col * n + k];
    }
  }
  return det;
}

}  // namespace rtscope::math
