// Lazy tuning (a backend that picks kernels by timing them, as the cpu
// plugin does) times kernels on the context's background thread while the
// context keeps executing. On a machine with few cores, a timed run that
// overlaps an execute measures the contention, not the kernel, and the
// choice then changes from one run of a program to the next. The gate
// serializes the two: the tuner waits for the execute in flight, then
// measures for a slice of time as long as the last execute took (so each
// side gets about half the machine while a plan is tuned) while the next
// execute waits. Executes pay for it only while a plan is being tuned.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>

namespace rtscope::kit {

class MeasurementGate {
 public:
  using Clock = std::chrono::steady_clock;

  // Around the tuning of each plan (several may wait in turn). close()
  // runs on the tuner thread and gives the executes their turn back.
  void open() { tunings_.fetch_add(1, std::memory_order_acq_rel); }
  void close() {
    yield();
    tunings_.fetch_sub(1, std::memory_order_acq_rel);
  }
  bool active() const { return tunings_.load(std::memory_order_acquire) > 0; }

  // Tuner thread: runs `timed_runs` with no execute in flight.
  template <typename F>
  void measure(F&& timed_runs) {
    hold();
    timed_runs();
    if (Clock::now() - held_since_ >= slice()) yield();
  }

  // Tuner thread: lets the executes run again.
  void yield() {
    if (!held_) return;
    held_ = false;
    {
      const std::lock_guard lock(mutex_);
      measuring_ = false;
    }
    changed_.notify_all();
  }

  // Execute thread: holds the gate for one execute while active.
  class Turn {
   public:
    explicit Turn(MeasurementGate& gate) : gate_(gate.active() ? &gate : nullptr) {
      if (gate_ == nullptr) return;
      std::unique_lock lock(gate_->mutex_);
      gate_->changed_.wait(lock, [this] { return !gate_->measuring_; });
      gate_->executing_ = true;
      started_ = Clock::now();
    }
    ~Turn() {
      if (gate_ == nullptr) return;
      gate_->last_execute_ns_.store(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count(),
          std::memory_order_relaxed);
      {
        const std::lock_guard lock(gate_->mutex_);
        gate_->executing_ = false;
      }
      gate_->changed_.notify_all();
    }
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;

   private:
    MeasurementGate* gate_;
    Clock::time_point started_;
  };

 private:
  // The tuner's turn: at least a few milliseconds, else as long as the
  // last execute.
  Clock::duration slice() const {
    return std::max<Clock::duration>(
        std::chrono::milliseconds(5),
        std::chrono::nanoseconds(last_execute_ns_.load(std::memory_order_relaxed)));
  }

  void hold() {
    if (held_) return;
    std::unique_lock lock(mutex_);
    measuring_ = true;
    changed_.wait(lock, [this] { return !executing_; });
    held_ = true;
    held_since_ = Clock::now();
  }

  std::atomic<int> tunings_{0};
  std::atomic<int64_t> last_execute_ns_{0};
  std::mutex mutex_;
  std::condition_variable changed_;
  bool measuring_ = false;  // under mutex_
  bool executing_ = false;  // under mutex_
  // Tuner thread only.
  bool held_ = false;
  Clock::time_point held_since_;
};

}  // namespace rtscope::kit
