// parallel_for(): a batch of independent tasks spread over a few threads
// (pipeline creation, weight layout changes at engine build).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace rtscope::kit {

// Runs fn(i) for every i in [0, count) on up to `threads` threads (this
// one included), handing out indices one at a time so uneven tasks
// balance. The first exception is rethrown once every thread is done.
template <typename Fn>
void parallel_for(size_t count, unsigned threads, const Fn& fn) {
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto work = [&] {
    for (size_t i = next.fetch_add(1); i < count; i = next.fetch_add(1)) {
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(error_mutex);
        if (!error) error = std::current_exception();
      }
    }
  };
  std::vector<std::thread> helpers;
  const size_t extra = std::min<size_t>(threads, count) - (count > 0 && threads > 0 ? 1 : 0);
  for (size_t t = 0; t < extra; ++t) helpers.emplace_back(work);
  work();
  for (std::thread& helper : helpers) helper.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace rtscope::kit
