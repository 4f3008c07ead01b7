// The Vulkan plugin's background upload (plugins/vulkan/upload_thread.hpp),
// on its own with stand-in work: a success hands its stats to every
// waiter; a background failure is retried once in line (and announced),
// and only a failed retry is an error, thrown with its status and message
// on every wait and to concurrent waiters; the destructor joins work still
// running.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "rtscope/kit/error.hpp"
#include "upload_thread.hpp"

namespace rtscope::vulkan {
namespace {

UploadStats stats_with(uint64_t direct_bytes) {
  UploadStats stats;
  stats.direct_bytes = direct_bytes;
  return stats;
}

TEST(VulkanUploadThread, ASuccessReachesEveryWaiter) {
  std::atomic<bool> release{false};
  std::atomic<int> runs{0};
  UploadThread upload(
      [&] {
        while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ++runs;
        return stats_with(4242);
      },
      [](const std::string&) { ADD_FAILURE() << "a successful upload was retried"; });
  EXPECT_FALSE(upload.stats().has_value()) << "stats before the work finished";
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    release = true;
  });
  EXPECT_GT(upload.wait(), 0u) << "the first wait blocked, so it waited some time";
  releaser.join();
  EXPECT_EQ(upload.wait(), 0u) << "a finished upload is not waited for";
  ASSERT_TRUE(upload.stats().has_value());
  EXPECT_EQ(upload.stats()->direct_bytes, 4242u);
  EXPECT_FALSE(upload.retried());
  EXPECT_EQ(runs.load(), 1);
}

TEST(VulkanUploadThread, ABackgroundFailureIsRetriedInLineOnce) {
  std::atomic<int> runs{0};
  std::vector<std::string> notices;
  UploadThread upload(
      [&] {
        if (runs.fetch_add(1) == 0) {
          kit::fail(RTS_ERROR_OUT_OF_MEMORY, "staging ring: no memory");
        }
        return stats_with(7);
      },
      [&](const std::string& failure) { notices.push_back(failure); });
  EXPECT_NO_THROW(upload.wait());
  EXPECT_EQ(runs.load(), 2);
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0], "staging ring: no memory");
  EXPECT_TRUE(upload.retried());
  ASSERT_TRUE(upload.stats().has_value());
  EXPECT_EQ(upload.stats()->direct_bytes, 7u);
  EXPECT_EQ(upload.wait(), 0u);
  EXPECT_EQ(runs.load(), 2) << "a later wait ran the work again";
}

TEST(VulkanUploadThread, AFailedRetryIsThrownToEveryWaiterWithItsStatus) {
  std::atomic<int> runs{0};
  UploadThread upload(
      [&]() -> UploadStats {
        const int run = runs.fetch_add(1);
        kit::fail(RTS_ERROR_DEVICE, "vkQueueSubmit failed (run ", run, ")");
      },
      [](const std::string&) {});
  // Several threads wait at once: one retries, every one sees the retry's
  // failure.
  std::vector<std::thread> waiters;
  std::atomic<int> device_errors{0};
  for (int i = 0; i < 4; ++i) {
    waiters.emplace_back([&] {
      try {
        upload.wait();
      } catch (const kit::Error& error) {
        if (error.status() == RTS_ERROR_DEVICE &&
            std::string(error.what()) == "vkQueueSubmit failed (run 1)") {
          ++device_errors;
        }
      }
    });
  }
  for (std::thread& waiter : waiters) waiter.join();
  EXPECT_EQ(device_errors.load(), 4);
  EXPECT_EQ(runs.load(), 2) << "the failure was retried more than once";
  try {
    upload.wait();
    ADD_FAILURE() << "a failed upload waited successfully";
  } catch (const kit::Error& error) {
    EXPECT_EQ(error.status(), RTS_ERROR_DEVICE);
  }
  EXPECT_FALSE(upload.stats().has_value());
}

TEST(VulkanUploadThread, OtherExceptionsBecomeErrors) {
  UploadThread upload([]() -> UploadStats { throw std::runtime_error("odd failure"); },
                      [](const std::string&) {});
  try {
    upload.wait();
    ADD_FAILURE() << "no error";
  } catch (const kit::Error& error) {
    EXPECT_EQ(error.status(), RTS_ERROR_INTERNAL);
    EXPECT_STREQ(error.what(), "odd failure");
  }
}

TEST(VulkanUploadThread, TheDestructorJoinsRunningWork) {
  std::atomic<bool> done{false};
  {
    UploadThread upload(
        [&] {
          std::this_thread::sleep_for(std::chrono::milliseconds(30));
          done = true;
          return UploadStats{};
        },
        [](const std::string&) {});
  }
  EXPECT_TRUE(done.load()) << "the upload was left running after its owner was destroyed";
}

}  // namespace
}  // namespace rtscope::vulkan
