// A whole decimal number read from a switch's text (an environment
// variable): the plugin's sizing switches share one rule for what they
// accept.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <optional>

namespace rtscope::vulkan {

// `value` as a whole number from `low` to `high`; nullopt for anything
// else (a sign, trailing characters, out of range).
inline std::optional<uint64_t> parse_whole_number(const char* value, uint64_t low, uint64_t high) {
  if (value == nullptr || *value == '\0' || *value == '-') return std::nullopt;
  char* end = nullptr;
  const unsigned long long parsed = std::strtoull(value, &end, 10);
  if (*end != '\0' || parsed < low || parsed > high) return std::nullopt;
  return parsed;
}

}  // namespace rtscope::vulkan
