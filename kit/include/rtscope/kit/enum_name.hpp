// Names of the values of a C enum whose values run 0, 1, 2, ... (the ABI's
// dtypes and attribute types, Vulkan's device types), from one table.
#pragma once

#include <cstddef>

namespace rtscope::kit {

// The name of `value` in `names`, a table indexed by the enum's values;
// `unknown` for a value outside it.
template <typename Enum, size_t N>
const char* enum_name(Enum value, const char* const (&names)[N], const char* unknown) {
  const auto index = static_cast<size_t>(value);
  return index < N ? names[index] : unknown;
}

}  // namespace rtscope::kit
