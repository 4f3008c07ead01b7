// One background thread owned by a context (lazy kernel specialization
// tunes or compiles on it, in the cpu and vulkan plugins). Tasks run in order; destruction raises
// the cancel flag that running tasks poll, drops queued ones and joins, so no task ever outlives
// the context that owns the worker.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace rtscope::kit {

class BackgroundWorker {
 public:
  using Task = std::function<void(const std::atomic<bool>& cancel)>;

  BackgroundWorker() = default;
  ~BackgroundWorker();
  BackgroundWorker(const BackgroundWorker&) = delete;
  BackgroundWorker& operator=(const BackgroundWorker&) = delete;

  // Queues `task`; the thread starts on the first post, so contexts that
  // never need it never create it. Thread-safe.
  void post(Task task);

  // Runs every queued task to the end, then stops the thread; later posts
  // are dropped. For an owner whose tasks produce results worth keeping
  // (compiled kernels on their way into a runtime cache).
  void finish();

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Task> tasks_;
  bool stopping_ = false;
  bool finishing_ = false;
  std::atomic<bool> cancel_{false};
  std::thread thread_;
};

}  // namespace rtscope::kit
