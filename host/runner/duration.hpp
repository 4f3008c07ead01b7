// Durations as written in configs: a number and a unit, e.g. "2s", "500ms".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace rtscope::runner {

// Parses "<number><unit>" with unit ns, us, ms, s or min ("1.5s" is fine).
// A unit is required so "500" can never mean the wrong thing. Throws
// InputError describing the accepted form.
std::chrono::nanoseconds parse_duration(std::string_view text);

// Shortest exact form in the largest whole unit: 2000000000ns -> "2s".
std::string format_duration(std::chrono::nanoseconds duration);

}  // namespace rtscope::runner
