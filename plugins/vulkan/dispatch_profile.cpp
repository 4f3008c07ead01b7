#include "dispatch_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <utility>

#include "device.hpp"
#include "error.hpp"

namespace rtscope::vulkan {

PlanProfile::PlanProfile(Device& device, std::vector<std::string> batch_labels, uint64_t dispatches)
    : device_(device), dispatches_(dispatches), labels_(std::move(batch_labels)) {
  auto info = vk_struct<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
  info.queryType = VK_QUERY_TYPE_TIMESTAMP;
  info.queryCount = queries();
  check_vk(vkCreateQueryPool(device_.handle(), &info, nullptr, &pool_),
           "vkCreateQueryPool (RTSCOPE_VULKAN_PROFILE)");
}

PlanProfile::~PlanProfile() { vkDestroyQueryPool(device_.handle(), pool_, nullptr); }

void DispatchProfile::collect(Device& device, const PlanProfile& plan) {
  std::vector<uint64_t> ticks(plan.queries());
  if (vkGetQueryPoolResults(device.handle(), plan.pool(), 0, plan.queries(),
                            ticks.size() * sizeof(uint64_t), ticks.data(), sizeof(uint64_t),
                            VK_QUERY_RESULT_64_BIT) != VK_SUCCESS) {
    return;
  }
  const uint32_t bits = device.caps().timestamp_bits;
  const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
  const double period = device.caps().timestamp_period_ns;
  for (size_t batch = 0; batch < plan.labels().size(); ++batch) {
    const uint64_t span = (ticks[batch + 1] - ticks[batch]) & mask;
    const auto ns = static_cast<uint64_t>(static_cast<double>(span) * period);
    Total& total = totals_[plan.labels()[batch]];
    total.ns += ns;
    ++total.batches;
    total_ns_ += ns;
  }
  dispatches_ += plan.dispatches();
  barriers_ += plan.labels().empty() ? 0 : plan.labels().size() - 1;
  ++executes_;
}

std::string DispatchProfile::table(size_t rows) const {
  if (executes_ == 0) return {};
  std::vector<std::pair<std::string, Total>> sorted(totals_.begin(), totals_.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.second.ns > b.second.ns; });
  char line[256];
  const auto executes = static_cast<double>(executes_);
  std::snprintf(
      line, sizeof(line),
      "%.1f us of device time per execute over %llu executes; %.1f dispatches and "
      "%.1f barriers per execute",
      static_cast<double>(total_ns_) / 1e3 / executes, static_cast<unsigned long long>(executes_),
      static_cast<double>(dispatches_) / executes, static_cast<double>(barriers_) / executes);
  std::string text = line;
  text += "\n  us/execute  share  batches/execute  us/batch  batch";
  for (size_t i = 0; i < sorted.size() && i < rows; ++i) {
    const auto& [label, total] = sorted[i];
    const double per_execute = static_cast<double>(total.ns) / 1e3 / static_cast<double>(executes_);
    std::snprintf(line, sizeof(line), "\n  %10.1f  %4.1f%%  %15.1f  %8.2f  %s", per_execute,
                  100.0 * static_cast<double>(total.ns) / static_cast<double>(total_ns_),
                  static_cast<double>(total.batches) / static_cast<double>(executes_),
                  static_cast<double>(total.ns) / 1e3 / static_cast<double>(total.batches),
                  label.c_str());
    text += line;
  }
  if (sorted.size() > rows) text += str_cat("\n  (", sorted.size() - rows, " more batch labels)");
  return text;
}

}  // namespace rtscope::vulkan
