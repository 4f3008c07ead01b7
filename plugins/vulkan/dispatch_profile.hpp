// Device time per barrier batch, for finding where a step's time goes
// (RTSCOPE_VULKAN_PROFILE=1). A recording with a profile writes one
// timestamp when it starts and one before every barrier and at its end:
// the span between two is one batch of independent dispatches plus the
// barrier that let it start. Spans are summed per batch label (the
// pipelines the batch ran, e.g. "matvec_t_f16 x3") and logged, largest
// first, when the context is destroyed. Timestamps at barriers cost
// nothing measurable; a batch label's share is what fusing or speeding up
// those dispatches could save.
#pragma once

#include <vulkan/vulkan.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace rtscope::vulkan {

class Device;

// One plan's timestamps: a query pool with a slot per batch boundary.
class PlanProfile {
 public:
  // `dispatches`: the plan's dispatches per execute (its barriers are one
  // fewer than its batches).
  PlanProfile(Device& device, std::vector<std::string> batch_labels, uint64_t dispatches);
  ~PlanProfile();
  PlanProfile(const PlanProfile&) = delete;
  PlanProfile& operator=(const PlanProfile&) = delete;

  VkQueryPool pool() const { return pool_; }
  uint32_t queries() const { return static_cast<uint32_t>(labels_.size() + 1); }
  const std::vector<std::string>& labels() const { return labels_; }
  uint64_t dispatches() const { return dispatches_; }

 private:
  Device& device_;
  uint64_t dispatches_ = 0;
  std::vector<std::string> labels_;  // per batch
  VkQueryPool pool_ = VK_NULL_HANDLE;
};

// Spans summed over a context's executes.
class DispatchProfile {
 public:
  // Reads the finished submit's timestamps from `plan` and adds them up.
  void collect(Device& device, const PlanProfile& plan);
  // The table, largest share first; empty before the first collect.
  std::string table(size_t rows) const;

 private:
  struct Total {
    uint64_t ns = 0;
    uint64_t batches = 0;
  };
  std::map<std::string, Total> totals_;
  uint64_t executes_ = 0;
  uint64_t total_ns_ = 0;
  uint64_t dispatches_ = 0;  // over every execute
  uint64_t barriers_ = 0;    // over every execute
};

}  // namespace rtscope::vulkan
