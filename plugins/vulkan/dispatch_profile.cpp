#include "dispatch_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "device.hpp"
#include "error.hpp"

namespace rtscope::vulkan {

PlanProfile::PlanProfile(Device& device, std::vector<BatchLabel> spans, uint64_t dispatches,
                         uint64_t barriers, uint64_t chained)
    : device_(device),
      dispatches_(dispatches),
      barriers_(barriers),
      chained_(chained),
      spans_(std::move(spans)) {
  auto info = vk_struct<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
  info.queryType = VK_QUERY_TYPE_TIMESTAMP;
  info.queryCount = queries();
  check_vk(vkCreateQueryPool(device_.handle(), &info, nullptr, &pool_),
           "vkCreateQueryPool (RTSCOPE_VULKAN_PROFILE)");
}

PlanProfile::~PlanProfile() { vkDestroyQueryPool(device_.handle(), pool_, nullptr); }

void DispatchProfile::collect(Device& device, const PlanProfile& plan, const HostSpans* host) {
  std::vector<uint64_t> ticks(plan.queries());
  if (vkGetQueryPoolResults(device.handle(), plan.pool(), 0, plan.queries(),
                            ticks.size() * sizeof(uint64_t), ticks.data(), sizeof(uint64_t),
                            VK_QUERY_RESULT_64_BIT) != VK_SUCCESS) {
    return;
  }
  const uint32_t bits = device.caps().timestamp_bits;
  const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  const double period = device.caps().timestamp_period_ns;
  for (size_t span = 0; span < plan.spans().size(); ++span) {
    const uint64_t ticks_spent = (ticks[span + 1] - ticks[span]) & mask;
    const auto ns = static_cast<uint64_t>(static_cast<double>(ticks_spent) * period);
    const BatchLabel& label = plan.spans()[span];
    Total& total = totals_[{label.label, label.bytes}];
    total.ns += ns;
    ++total.batches;
    total_ns_ += ns;
  }
  dispatches_ += plan.dispatches();
  barriers_ += plan.barriers();
  chained_ += plan.chained();
  if (host != nullptr) {
    host_ += *host;
    ++host_executes_;
  }
  ++executes_;
}

std::string DispatchProfile::table(size_t rows) const {
  if (executes_ == 0) return {};
  std::vector<std::pair<Key, Total>> sorted(totals_.begin(), totals_.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  const auto executes = static_cast<double>(executes_);
  const auto us_per_execute = [executes](uint64_t ns) {
    return static_cast<double>(ns) / 1e3 / executes;
  };
  const double host_executes = static_cast<double>(std::max<uint64_t>(host_executes_, 1));
  const auto host_us = [host_executes](uint64_t ns) {
    return static_cast<double>(ns) / 1e3 / host_executes;
  };
  // Chained batches (CommandList::enable_chaining) share a span with the
  // batch before them.
  char chained[96] = "";
  if (chained_ > 0) {
    std::snprintf(chained, sizeof(chained), " (and %.1f batches chained by counters)",
                  static_cast<double>(chained_) / executes);
  }
  char line[512];
  std::snprintf(line, sizeof(line),
                "%.1f us of device time per execute over %llu executes; %.1f dispatches and "
                "%.1f barriers per execute%s; host time per execute over the %llu that reused "
                "their plan: %.1f us before the submit, %.1f us in vkQueueSubmit, %.1f us until "
                "the fence was seen signalled, %.1f us after it",
                us_per_execute(total_ns_), static_cast<unsigned long long>(executes_),
                static_cast<double>(dispatches_) / executes,
                static_cast<double>(barriers_) / executes, chained,
                static_cast<unsigned long long>(host_executes_), host_us(host_.before_submit),
                host_us(host_.submit), host_us(host_.wait), host_us(host_.after));
  std::string text = line;
  // GB/s: the bytes bound over the batch's time, an upper bound on the
  // rate it moved data at (1 GB/s = 1 byte/ns).
  text += "\n  us/execute  share  batches/execute  us/batch  MB bound   GB/s  batch";
  for (size_t i = 0; i < sorted.size() && i < rows; ++i) {
    const auto& [key, total] = sorted[i];
    const auto& [label, bytes] = key;
    const double per_batch_ns = static_cast<double>(total.ns) / static_cast<double>(total.batches);
    std::snprintf(line, sizeof(line), "\n  %10.1f  %4.1f%%  %15.1f  %8.2f  %8.2f  %5.0f  %s",
                  us_per_execute(total.ns),
                  100.0 * static_cast<double>(total.ns) / static_cast<double>(total_ns_),
                  static_cast<double>(total.batches) / executes, per_batch_ns / 1e3,
                  static_cast<double>(bytes) / 1e6,
                  per_batch_ns > 0 ? static_cast<double>(bytes) / per_batch_ns : 0.0,
                  label.c_str());
    text += line;
  }
  if (sorted.size() > rows) text += str_cat("\n  (", sorted.size() - rows, " more batch labels)");
  return text;
}

}  // namespace rtscope::vulkan
