// The plans of one context, keyed by a signature of the execute's input
// shapes (and whatever else a backend's plans depend on, appended to the
// key). Beyond kMaxPlans distinct keys the cache starts over, so a context
// fed ever new shapes stays bounded.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

template <typename Plan>
class PlanCache {
 public:
  static constexpr size_t kMaxPlans = 16;

  // `on_evict` releases what a plan holds outside itself (recorded
  // command buffers) before it is dropped.
  explicit PlanCache(std::function<void(Plan&)> on_evict = {}) : on_evict_(std::move(on_evict)) {}
  ~PlanCache() { clear(); }
  PlanCache(const PlanCache&) = delete;
  PlanCache& operator=(const PlanCache&) = delete;

  // Starts the key over with the rank and dims of every input of `args`;
  // a backend may append more with key().push_back. Reuses its storage.
  std::vector<int64_t>& key_input_shapes(const rts_execute_args& args) {
    key_.clear();
    for (uint32_t i = 0; i < args.n_inputs; ++i) {
      key_.push_back(args.inputs[i].rank);
      key_.insert(key_.end(), args.inputs[i].dims, args.inputs[i].dims + args.inputs[i].rank);
    }
    return key_;
  }
  std::vector<int64_t>& key() { return key_; }

  // The plan cached under the current key, or nullptr.
  Plan* find() const { return find(key_); }
  Plan* find(const std::vector<int64_t>& key) const {
    const auto found = plans_.find(key);
    return found == plans_.end() ? nullptr : found->second.get();
  }

  // Caches `plan` under the current key, first dropping every plan when
  // the cache is full.
  Plan& insert(std::unique_ptr<Plan> plan) {
    if (plans_.size() >= kMaxPlans) clear();
    return *plans_.insert_or_assign(key_, std::move(plan)).first->second;
  }

  void clear() {
    if (on_evict_) {
      for (auto& [key, plan] : plans_) on_evict_(*plan);
    }
    plans_.clear();
  }

  size_t size() const { return plans_.size(); }

 private:
  std::function<void(Plan&)> on_evict_;
  std::map<std::vector<int64_t>, std::unique_ptr<Plan>> plans_;
  std::vector<int64_t> key_;
};

}  // namespace rtscope::kit
