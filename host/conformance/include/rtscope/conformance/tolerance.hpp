// How close a plugin's output must be to the float64 reference.
#pragma once

#include "rtscope/dtype.hpp"

namespace rtscope::conformance {

struct Tolerance {
  double atol;
  double rtol;
};

// Bounds any plugin is held to: f16 outputs carry ~1e-3 relative rounding
// of inputs, intermediates and outputs; f32 kernels accumulate in f32 over
// at most a few hundred terms and may use a GPU's exp/sin/cos.
inline Tolerance plugin_tolerance(DType dtype) {
  return dtype == DType::f16 ? Tolerance{2e-2, 2e-2} : Tolerance{1e-4, 2e-4};
}

}  // namespace rtscope::conformance
