// Whole-graph replays submitted one execute ahead (DeviceCaps::submit_ahead,
// RTSCOPE_VULKAN_SUBMIT_AHEAD).
//
// On NVIDIA, vkQueueSubmit of a recorded decode step takes 25-35 µs, and the
// device starts the step only at its end: a step's wall time is that much
// longer than its device time. A context that replays a recording execute
// after execute therefore submits the next replay while the device still
// runs the current one, held back by a timeline semaphore value. The next
// execute stages its inputs and signals that value from the host, which
// starts the replay at once; the submit's cost overlaps the device's work.
//
// Each plan has two recordings (a replay cannot be submitted again while
// pending): one runs, the other is held. A held replay's dispatches sit
// inside conditional rendering on a predicate word of its own: the host sets
// it to 1 when it lets the replay run, or to 0 to cancel it, and the replay
// then passes through the queue as a no-op. Its fills and copies still run;
// they only zero the plan's counters and copy between the plan's buffers
// and the caller's device bindings what the execute before left there
// (nothing else can have written those since: a write needs a submit, and
// every submit cancels the held one first, Device::submit). A context
// whose holds are cancelled kMaxCancelledInARow times in a row (its
// executes interleave with other submits: other contexts, device_copy)
// stops holding: each cancelled hold costs the device a pass of no-ops.
#pragma once

#include <vulkan/vulkan.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

#include "allocator.hpp"

namespace rtscope::vulkan {

class Device;
struct ExecutionPlan;

class SubmitAhead {
 public:
  static constexpr uint32_t kMaxCancelledInARow = 3;

  explicit SubmitAhead(Device& device);
  // Cancels what is held and waits until it passed.
  ~SubmitAhead();
  SubmitAhead(const SubmitAhead&) = delete;
  SubmitAhead& operator=(const SubmitAhead&) = delete;

  // The predicate word recording `copy` (0 or 1) reads.
  BufferRegion predicate(uint32_t copy) const;

  // Starts `plan`'s next replay: lets its held recording run, or, when none
  // of `plan`'s is held (or it was cancelled), submits one now. Both
  // recordings must exist.
  void run(ExecutionPlan& plan);
  // Holds `plan`'s other recording for the execute after (unless holds
  // keep being cancelled). Called while the replay runs, or, on a device
  // whose query reads wait for its whole queue, once they are done.
  void hold_next(ExecutionPlan& plan);
  // Waits for the replay run() started (Device::wait, polling for `spin`).
  void wait(std::chrono::microseconds spin);

  // Cancels the held replay when it is `plan`'s (any plan's for nullptr)
  // and waits until it passed, so that its recording can be freed.
  void drop(const ExecutionPlan* plan = nullptr);

  // Whether the context still holds replays (kMaxCancelledInARow).
  bool holding() const { return cancelled_in_a_row_ < kMaxCancelledInARow; }
  // Replays that ran from a hold, and holds cancelled (counters;
  // thread-safe).
  uint64_t released() const { return released_.load(std::memory_order_relaxed); }
  uint64_t cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

 private:
  void hold(ExecutionPlan& plan, uint32_t copy);
  uint32_t* word(uint32_t copy) const;

  Device& device_;
  VkSemaphore semaphore_ = VK_NULL_HANDLE;  // timeline
  uint64_t value_ = 0;                      // the last value a hold waits for
  std::array<VkFence, 2> fences_{};         // one per recording
  Allocation predicates_;                   // two words, host-visible
  // The held replay: its plan, recording and the device's ticket.
  struct Held {
    const ExecutionPlan* plan = nullptr;
    uint32_t copy = 0;
    uint64_t ticket = 0;
  };
  std::optional<Held> held_;
  std::optional<uint32_t> running_;  // the recording run() started, until waited for
  uint32_t cancelled_in_a_row_ = 0;  // holds cancelled since one was released
  std::atomic<uint64_t> released_{0};
  std::atomic<uint64_t> cancelled_{0};
};

}  // namespace rtscope::vulkan
