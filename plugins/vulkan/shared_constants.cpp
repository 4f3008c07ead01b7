#include "shared_constants.hpp"

#include <algorithm>

namespace rtscope::vulkan {

void SharedConstant::mark(State state) {
  {
    std::lock_guard lock(mutex_);
    state_ = state;
  }
  marked_.notify_all();
}

bool SharedConstant::wait_written() const {
  std::unique_lock lock(mutex_);
  marked_.wait(lock, [this] { return state_ != State::pending; });
  return state_ == State::written;
}

ConstantPool::Share ConstantPool::acquire(const ConstantKey& key,
                                          const std::function<Allocation()>& allocate) {
  std::lock_guard lock(mutex_);
  auto found = copies_.find(key);
  if (found != copies_.end()) {
    if (auto live = found->second.lock()) return {std::move(live), false};
  }
  auto created = std::make_shared<SharedConstant>(allocate());
  if (found != copies_.end()) {
    found->second = created;
  } else {
    if (copies_.size() >= sweep_at_) {
      std::erase_if(copies_, [](const auto& entry) { return entry.second.expired(); });
      sweep_at_ = std::max<size_t>(64, 2 * copies_.size());
    }
    copies_.emplace(key, created);
  }
  return {std::move(created), true};
}

}  // namespace rtscope::vulkan
