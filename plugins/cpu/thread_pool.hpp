// A small persistent pool of worker threads for row-parallel kernels.
//
// One pool is shared by every context of a plugin instance, and distinct
// contexts may execute concurrently, so parallel_for supports several
// callers at once: each call posts a job, workers take chunks of whichever
// job is at the front, and the caller works on its own job until it is done.
//
// Workers stay warm across the nodes of a step: an idle worker spins for
// kSpin before it sleeps, so the next node's job starts without a futex
// wake and a scheduler round trip (several microseconds, against kernels
// of one or two), and a caller that finds no sleeper skips the notify.
// Likewise a caller whose own chunks are done polls for the workers' for
// up to kSpin before it sleeps until they finish: on a VM an idle vCPU may
// be taken away, and waking it cost more than the chunks it waited for.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace rtscope::cpu {

// A non-owning reference to a callable taking (begin, end): unlike
// std::function it never allocates, so a kernel can hand its lambda to the
// pool on every call.
class RangeFunction {
 public:
  template <typename Callable>
  RangeFunction(const Callable& callable)  // NOLINT: implicit by design
      : object_(&callable), call_([](const void* object, int64_t begin, int64_t end) {
          (*static_cast<const Callable*>(object))(begin, end);
        }) {}
  void operator()(int64_t begin, int64_t end) const { call_(object_, begin, end); }

 private:
  const void* object_;
  void (*call_)(const void*, int64_t, int64_t);
};

class ThreadPool {
 public:
  // `threads` counts the calling thread, so a pool of 1 spawns no worker.
  explicit ThreadPool(unsigned threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Workers asleep on the condition variable now (not spinning).
  int sleeping_workers() {
    const std::lock_guard lock(mutex_);
    return sleepers_;
  }

  // Calls body(begin, end) over disjoint ranges covering [0, count). Ranges
  // hold at least `min_per_task` items, so small work runs inline on the
  // caller without waking anyone. The first exception a range throws is
  // rethrown here after every range has finished.
  void parallel_for(int64_t count, int64_t min_per_task, RangeFunction body);

  // While one lives, idle workers spin instead of sleeping. Tuning holds
  // one while it measures: a worker woken for each timed run may land on
  // the caller's core for a scheduler tick and leave the caller to run
  // every chunk, so a two-thread kernel would measure at one thread's
  // speed now and then. A network's steady stream of nodes keeps the
  // workers awake on their own cores the same way. Must not outlive the
  // pool.
  class KeepAwake {
   public:
    explicit KeepAwake(ThreadPool& pool);
    ~KeepAwake();
    KeepAwake(const KeepAwake&) = delete;
    KeepAwake& operator=(const KeepAwake&) = delete;

   private:
    ThreadPool& pool_;
  };

 private:
  struct Job;

  void worker_loop();
  // Runs chunks of `job` until none is left; returns when the claim fails.
  static void run_chunks(Job& job);

  // How long an idle worker polls for a job before sleeping: about a
  // decode step, so its nodes find the workers awake.
  static constexpr int64_t kSpinNs = 200'000;

  // Polls job_count_ for up to kSpinNs, or for as long as a KeepAwake
  // lives; true when a job was posted.
  bool spin_for_job() const;
  bool held_awake() const { return awake_holds_.load(std::memory_order_acquire) > 0; }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable work_available_;
  std::condition_variable job_finished_;
  // Guarded by mutex_. A vector with its capacity kept (a deque would
  // allocate a block every few dozen jobs): posting a job never allocates
  // once as many callers as ever ran at once have posted.
  std::vector<Job*> jobs_;
  std::atomic<size_t> job_count_{0};  // jobs_.size(), for spinning workers
  int sleepers_ = 0;                  // workers waiting on work_available_; guarded by mutex_
  bool stopping_ = false;
  std::atomic<int> awake_holds_{0};  // live KeepAwake objects
};

// Rows per task so that each task touches about `kMinElementsPerTask`
// elements: below that, waking a thread costs more than it saves.
inline constexpr int64_t kMinElementsPerTask = 16 * 1024;
inline int64_t rows_per_task(int64_t elements_per_row) {
  return elements_per_row >= kMinElementsPerTask
             ? 1
             : kMinElementsPerTask / (elements_per_row > 0 ? elements_per_row : 1);
}

}  // namespace rtscope::cpu
