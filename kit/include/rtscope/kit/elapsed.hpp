// Durations on the steady clock in whole nanoseconds, the unit of a
// plugin's `*_ns` counters and start-up phases.
#pragma once

#include <chrono>
#include <cstdint>

namespace rtscope::kit {

using SteadyClock = std::chrono::steady_clock;

inline uint64_t ns_between(SteadyClock::time_point from, SteadyClock::time_point to) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count());
}

inline uint64_t elapsed_ns(SteadyClock::time_point start) {
  return ns_between(start, SteadyClock::now());
}

}  // namespace rtscope::kit
