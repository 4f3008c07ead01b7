// Device time per barrier batch, for finding where a step's time goes
// (RTSCOPE_VULKAN_PROFILE=1). A recording with a profile writes one
// timestamp when it starts and one before every barrier and at its end:
// the span between two is one batch of independent dispatches plus the
// barrier that let it start; the last span is the final barrier that
// makes the results visible to the host. Spans are summed per batch label
// (the pipelines the batch ran, e.g. "matvec_t_f16 x3", and the bytes its
// commands bind, so that a small projection and a large one are told
// apart and each gets a rate) and logged, largest first, when the context
// is destroyed, with where the execute's host time went around the
// submit. Each timestamp costs about a microsecond of device time; a
// batch label's share is what fusing or speeding up those dispatches
// could save.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rtscope::vulkan {

class Device;

// One timed span: what ran and the bytes its commands bind (the regions
// they read or write, each once; an upper bound on the bytes moved, since
// a dispatch may touch only part of a binding, e.g. a KV cache's filled
// rows).
struct BatchLabel {
  std::string label;
  uint64_t bytes = 0;
};
// The label of the span of the final barrier to the host.
inline constexpr std::string_view kFinalBarrierLabel = "(final barrier to the host)";

// Host time of one execute around its submit, in nanoseconds.
struct HostSpans {
  uint64_t before_submit = 0;  // execute's start to vkQueueSubmit (plan, checks, staging)
  uint64_t submit = 0;         // inside vkQueueSubmit
  uint64_t wait = 0;           // vkQueueSubmit's return to the fence seen signalled
  uint64_t after = 0;          // the fence to execute's return (outputs staged out)

  HostSpans& operator+=(const HostSpans& other) {
    before_submit += other.before_submit;
    submit += other.submit;
    wait += other.wait;
    after += other.after;
    return *this;
  }
};

// One plan's timestamps: a query pool with a slot per batch boundary.
class PlanProfile {
 public:
  // `dispatches`: the plan's dispatches per execute; `barriers`: its
  // barriers between batches (the final one not counted); `chained`: its
  // batches that wait for a counter instead (a span times all the
  // batches between two barriers).
  PlanProfile(Device& device, std::vector<BatchLabel> spans, uint64_t dispatches, uint64_t barriers,
              uint64_t chained);
  ~PlanProfile();
  PlanProfile(const PlanProfile&) = delete;
  PlanProfile& operator=(const PlanProfile&) = delete;

  VkQueryPool pool() const { return pool_; }
  uint32_t queries() const { return static_cast<uint32_t>(spans_.size() + 1); }
  const std::vector<BatchLabel>& spans() const { return spans_; }
  uint64_t dispatches() const { return dispatches_; }
  uint64_t barriers() const { return barriers_; }
  uint64_t chained() const { return chained_; }

 private:
  Device& device_;
  uint64_t dispatches_ = 0;
  uint64_t barriers_ = 0;
  uint64_t chained_ = 0;
  std::vector<BatchLabel> spans_;  // per timed span
  VkQueryPool pool_ = VK_NULL_HANDLE;
};

// Spans summed over a context's executes.
class DispatchProfile {
 public:
  // Reads the finished submit's timestamps from `plan` and adds them up,
  // with the execute's host spans unless null (an execute that built its
  // plan, whose host time is the plan's).
  void collect(Device& device, const PlanProfile& plan, const HostSpans* host);
  // The table, largest share first; empty before the first collect.
  std::string table(size_t rows) const;

 private:
  struct Total {
    uint64_t ns = 0;
    uint64_t batches = 0;
  };
  using Key = std::pair<std::string, uint64_t>;  // a batch's label and bytes
  std::map<Key, Total> totals_;
  HostSpans host_;  // summed over host_executes_
  uint64_t host_executes_ = 0;
  uint64_t executes_ = 0;
  uint64_t total_ns_ = 0;
  uint64_t dispatches_ = 0;  // over every execute
  uint64_t barriers_ = 0;    // over every execute
  uint64_t chained_ = 0;     // over every execute
};

}  // namespace rtscope::vulkan
