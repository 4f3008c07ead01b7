#include "upload_thread.hpp"

#include <chrono>
#include <exception>
#include <new>

#include "rtscope/kit/error.hpp"

namespace rtscope::vulkan {

UploadThread::UploadThread(Work work, RetryNotice on_retry)
    : work_(std::move(work)), on_retry_(std::move(on_retry)), thread_([this] {
        Outcome outcome = attempt();
        {
          std::lock_guard lock(mutex_);
          outcome_ = std::move(outcome);
          finished_ = true;
        }
        finished_cv_.notify_all();
      }) {}

UploadThread::~UploadThread() {
  if (thread_.joinable()) thread_.join();
}

UploadThread::Outcome UploadThread::attempt() const {
  Outcome outcome;
  try {
    outcome.stats = work_();
  } catch (const kit::Error& error) {
    outcome.failure = error.status();
    outcome.message = error.what();
  } catch (const std::bad_alloc&) {
    outcome.failure = RTS_ERROR_OUT_OF_MEMORY;
    outcome.message = "vulkan: out of host memory while uploading constants";
  } catch (const std::exception& error) {
    outcome.failure = RTS_ERROR_INTERNAL;
    outcome.message = error.what();
  } catch (...) {
    outcome.failure = RTS_ERROR_INTERNAL;
    outcome.message = "vulkan: unknown failure while uploading constants";
  }
  return outcome;
}

uint64_t UploadThread::wait() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_lock lock(mutex_);
  const bool was_finished = finished_;
  finished_cv_.wait(lock, [this] { return finished_; });
  bool retried_now = false;
  if (outcome_.failure && !retried_) {
    // The background thread is done with the work: it may run again here.
    retried_ = retried_now = true;
    if (on_retry_) on_retry_(outcome_.message);
    outcome_ = attempt();
  }
  const uint64_t waited =
      was_finished && !retried_now
          ? 0
          : static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                      std::chrono::steady_clock::now() - start)
                                      .count());
  if (outcome_.failure) throw kit::Error(*outcome_.failure, outcome_.message);
  return waited;
}

std::optional<UploadStats> UploadThread::stats() const {
  std::lock_guard lock(mutex_);
  if (!finished_ || outcome_.failure) return std::nullopt;
  return outcome_.stats;
}

bool UploadThread::retried() const {
  std::lock_guard lock(mutex_);
  return retried_;
}

}  // namespace rtscope::vulkan
