// for_ranges(): an element loop split over all cores when it is large, for
// work whose result per element depends only on the index (seeded weights,
// dtype conversions of checkpoint tensors).
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace rtscope {

// Runs fill(begin, end) over [0, count), on all cores when the range is
// large: a model of a billion parameters generates or converts its weights
// in a second rather than in ten. `fill` must not throw (a worker thread
// would terminate the process); record a failure and report it afterwards.
inline void for_ranges(int64_t count, const std::function<void(int64_t, int64_t)>& fill) {
  constexpr int64_t kMinPerThread = int64_t{1} << 16;
  const int64_t threads = std::clamp<int64_t>(count / kMinPerThread, 1,
                                              std::max(1u, std::thread::hardware_concurrency()));
  if (threads == 1) {
    fill(0, count);
    return;
  }
  std::vector<std::jthread> workers;
  const int64_t per_thread = (count + threads - 1) / threads;
  for (int64_t begin = per_thread; begin < count; begin += per_thread) {
    workers.emplace_back(
        [&fill, begin, end = std::min(count, begin + per_thread)] { fill(begin, end); });
  }
  fill(0, std::min(count, per_thread));
}

}  // namespace rtscope
