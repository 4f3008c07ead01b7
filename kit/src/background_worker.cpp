#include "rtscope/kit/background_worker.hpp"

namespace rtscope::kit {

BackgroundWorker::~BackgroundWorker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    tasks_.clear();
  }
  cancel_.store(true, std::memory_order_relaxed);
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundWorker::finish() {
  {
    std::lock_guard lock(mutex_);
    finishing_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackgroundWorker::post(Task task) {
  std::lock_guard lock(mutex_);
  if (stopping_ || finishing_) return;
  tasks_.push_back(std::move(task));
  if (!thread_.joinable()) {
    thread_ = std::thread([this] { loop(); });
  } else {
    wake_.notify_one();
  }
}

void BackgroundWorker::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || finishing_ || !tasks_.empty(); });
    if (stopping_ || tasks_.empty()) return;
    Task task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    // Tasks report their own failures; one that throws must not end the
    // thread (std::terminate) or skip the ones queued after it.
    try {
      task(cancel_);
    } catch (...) {
    }
    lock.lock();
  }
}

}  // namespace rtscope::kit
