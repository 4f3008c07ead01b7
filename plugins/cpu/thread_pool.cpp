#include "thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>

namespace rtscope::cpu {

struct ThreadPool::Job {
  const RangeFunction* body;
  int64_t count;
  int64_t chunk;
  int64_t chunks;
  std::atomic<int64_t> next_chunk{0};
  std::atomic<int64_t> finished_chunks{0};
  int workers_inside = 0;  // guarded by the pool mutex
  std::mutex error_mutex;
  std::exception_ptr error;
};

ThreadPool::ThreadPool(unsigned threads) {
  const unsigned workers = threads > 1 ? threads - 1 : 0;
  jobs_.reserve(16);
  workers_.reserve(workers);
  for (unsigned i = 0; i < workers; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_available_.notify_all();
  for (auto& worker : workers_) worker.join();
}

void ThreadPool::run_chunks(Job& job) {
  while (true) {
    const int64_t index = job.next_chunk.fetch_add(1, std::memory_order_relaxed);
    if (index >= job.chunks) return;
    const int64_t begin = index * job.chunk;
    const int64_t end = std::min(job.count, begin + job.chunk);
    try {
      (*job.body)(begin, end);
    } catch (...) {
      std::lock_guard lock(job.error_mutex);
      if (!job.error) job.error = std::current_exception();
    }
    job.finished_chunks.fetch_add(1, std::memory_order_acq_rel);
  }
}

namespace {

void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#else
  std::this_thread::yield();
#endif
}

}  // namespace

bool ThreadPool::spin_for_job() const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(kSpinNs);
  while (true) {
    // The clock costs tens of nanoseconds: read it every 64 polls.
    for (int i = 0; i < 64; ++i) {
      if (job_count_.load(std::memory_order_acquire) != 0) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() >= deadline && !held_awake()) return false;
  }
}

ThreadPool::KeepAwake::KeepAwake(ThreadPool& pool) : pool_(pool) {
  pool_.awake_holds_.fetch_add(1, std::memory_order_acq_rel);
  bool wake = false;
  {
    const std::lock_guard lock(pool_.mutex_);
    wake = pool_.sleepers_ > 0;
  }
  if (wake) pool_.work_available_.notify_all();
}

ThreadPool::KeepAwake::~KeepAwake() { pool_.awake_holds_.fetch_sub(1, std::memory_order_acq_rel); }

void ThreadPool::worker_loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    if (jobs_.empty() && !stopping_) {
      lock.unlock();
      spin_for_job();
      lock.lock();
      if (jobs_.empty() && !stopping_ && !held_awake()) {
        ++sleepers_;
        work_available_.wait(lock, [this] { return stopping_ || !jobs_.empty() || held_awake(); });
        --sleepers_;
      }
      continue;
    }
    if (stopping_) return;
    Job* job = jobs_.front();
    // A job with no chunk left to claim leaves the queue; the caller may
    // not have removed it yet.
    if (job->next_chunk.load(std::memory_order_relaxed) >= job->chunks) {
      jobs_.erase(jobs_.begin());
      job_count_.store(jobs_.size(), std::memory_order_release);
      continue;
    }
    ++job->workers_inside;
    lock.unlock();
    run_chunks(*job);
    lock.lock();
    --job->workers_inside;
    if (!jobs_.empty() && jobs_.front() == job) {
      jobs_.erase(jobs_.begin());
      job_count_.store(jobs_.size(), std::memory_order_release);
    }
    job_finished_.notify_all();
  }
}

void ThreadPool::parallel_for(int64_t count, int64_t min_per_task, RangeFunction body) {
  if (count <= 0) return;
  min_per_task = std::max<int64_t>(min_per_task, 1);
  const int64_t max_tasks = std::min<int64_t>(size(), (count + min_per_task - 1) / min_per_task);
  if (max_tasks <= 1) {
    body(0, count);
    return;
  }
  Job job;
  job.body = &body;
  job.count = count;
  job.chunk = (count + max_tasks - 1) / max_tasks;
  job.chunks = (count + job.chunk - 1) / job.chunk;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(&job);
    job_count_.store(jobs_.size(), std::memory_order_release);
    wake = sleepers_ > 0;  // spinning workers see job_count_ instead
  }
  if (wake) work_available_.notify_all();
  run_chunks(job);
  {
    std::unique_lock lock(mutex_);
    // No new worker may enter the job once it leaves the queue; the ones
    // inside must finish before `job` goes out of scope.
    auto position = std::find(jobs_.begin(), jobs_.end(), &job);
    if (position != jobs_.end()) {
      jobs_.erase(position);
      job_count_.store(jobs_.size(), std::memory_order_release);
    }
    const auto done = [&] {
      return job.workers_inside == 0 &&
             job.finished_chunks.load(std::memory_order_acquire) == job.chunks;
    };
    // The workers' chunks are about as long as the caller's: poll for them
    // (the lock released in between) before sleeping. A caller asleep on
    // the condition variable leaves its core idle, and on a VM the
    // hypervisor may take an idle vCPU away: waking it again took 50-300 us
    // on the 2-vCPU VM, where the workers' chunks took 10 (ResNet-18's
    // 1x1 convolutions: gathers of 10 us per thread, 60-320 us per node).
    // Yielding rather than pausing: a worker that shares the caller's core
    // (the scheduler put both there) then runs, where a spin would hold
    // the core until its deadline.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(kSpinNs);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      lock.unlock();
      std::this_thread::yield();
      lock.lock();
    }
    job_finished_.wait(lock, done);
  }
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace rtscope::cpu
