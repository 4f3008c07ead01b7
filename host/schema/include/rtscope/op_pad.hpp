// Where an element of a padded output reads from, per dim, by the pad op's
// mode (ONNX Pad): the float64 reference and the cpu plugin map indices
// with this one function.
#pragma once

#include <cstdint>
#include <string_view>

namespace rtscope::math {

// `pos` is an output position less the dim's leading pad, `size` the
// input's extent. Inside the input, or mapped back into it by "reflect"
// (mirror without repeating the edge) or "edge" (clamp), `pos` becomes the
// input position and the result is true; false for "constant", whose
// element is the fill value.
inline bool pad_source(std::string_view mode, int64_t size, int64_t& pos) {
  if (pos >= 0 && pos < size) return true;
  if (mode == "reflect") {
    pos = pos < 0 ? -pos : 2 * (size - 1) - pos;
    return true;
  }
  if (mode == "edge") {
    pos = pos < 0 ? 0 : size - 1;
    return true;
  }
  return false;
}

}  // namespace rtscope::math
