#include "duration.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

#include "rtscope/error.hpp"

namespace rtscope::runner {
namespace {

// Longest suffix first so "ms" is not read as "s".
constexpr std::array<std::pair<std::string_view, double>, 5> kUnits{{
    {"min", 60e9},
    {"ms", 1e6},
    {"us", 1e3},
    {"ns", 1.0},
    {"s", 1e9},
}};

[[noreturn]] void bad_duration(std::string_view text) {
  throw InputError(fmt::format(
      "invalid duration '{}'; expected a non-negative number and a unit (ns, us, ms, s, min), "
      "e.g. 500ms or 2s",
      text));
}

}  // namespace

std::chrono::nanoseconds parse_duration(std::string_view text) {
  for (const auto& [unit, ns_per_unit] : kUnits) {
    if (text.size() <= unit.size() || !text.ends_with(unit)) continue;
    const std::string_view number = text.substr(0, text.size() - unit.size());
    double value = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
    if (error != std::errc() || end != number.data() + number.size() || !std::isfinite(value) ||
        value < 0) {
      bad_duration(text);
    }
    const double ns = std::round(value * ns_per_unit);
    if (ns > 1e18) bad_duration(text);  // beyond ~31 years: surely a typo
    return std::chrono::nanoseconds(static_cast<int64_t>(ns));
  }
  bad_duration(text);
}

std::string format_duration(std::chrono::nanoseconds duration) {
  const int64_t ns = duration.count();
  constexpr std::array<std::pair<std::string_view, int64_t>, 5> kWholeUnits{{
      {"min", 60'000'000'000},
      {"s", 1'000'000'000},
      {"ms", 1'000'000},
      {"us", 1'000},
      {"ns", 1},
  }};
  for (const auto& [unit, size] : kWholeUnits) {
    if (ns != 0 && ns % size == 0) return fmt::format("{}{}", ns / size, unit);
  }
  return "0s";
}

}  // namespace rtscope::runner
