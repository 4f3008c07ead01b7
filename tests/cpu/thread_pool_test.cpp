// The cpu plugin's pool (plugins/cpu/thread_pool.hpp): idle workers sleep
// after a short spin, except while a KeepAwake lives, and every range of
// a parallel_for runs exactly once then too.
#include "thread_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace rtscope::cpu {
namespace {

using namespace std::chrono_literals;

// Polls `condition` for up to two seconds.
template <typename Condition>
bool eventually(Condition condition) {
  const auto until = std::chrono::steady_clock::now() + 2s;
  while (std::chrono::steady_clock::now() < until) {
    if (condition()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return condition();
}

TEST(CpuThreadPool, IdleWorkersSleepUnlessHeldAwake) {
  ThreadPool pool(3);
  ASSERT_TRUE(eventually([&] { return pool.sleeping_workers() == 2; }));
  {
    const ThreadPool::KeepAwake awake(pool);
    EXPECT_TRUE(eventually([&] { return pool.sleeping_workers() == 0; }));
    // Held well past the spin window (200 us): still nobody asleep.
    std::this_thread::sleep_for(20ms);
    EXPECT_EQ(pool.sleeping_workers(), 0);
  }
  EXPECT_TRUE(eventually([&] { return pool.sleeping_workers() == 2; }));
}

TEST(CpuThreadPool, HeldAwakeWorkersStillRunEveryRangeOnce) {
  ThreadPool pool(3);
  const ThreadPool::KeepAwake awake(pool);
  for (int round = 0; round < 50; ++round) {
    std::vector<std::atomic<int>> hits(1000);
    pool.parallel_for(1000, 10, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
    });
    for (const auto& hit : hits) ASSERT_EQ(hit.load(), 1) << "round " << round;
  }
}

}  // namespace
}  // namespace rtscope::cpu
