#include "submit_ahead.hpp"

#include "device.hpp"
#include "error.hpp"
#include "execution_plan.hpp"

namespace rtscope::vulkan {

SubmitAhead::SubmitAhead(Device& device) : device_(device) {
  const VkDevice handle = device_.handle();
  auto type = vk_struct<VkSemaphoreTypeCreateInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO);
  type.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  auto info = vk_struct<VkSemaphoreCreateInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO);
  info.pNext = &type;
  check_vk(vkCreateSemaphore(handle, &info, nullptr, &semaphore_),
           "vkCreateSemaphore (submit ahead)");
  const auto fence_info = vk_struct<VkFenceCreateInfo>(VK_STRUCTURE_TYPE_FENCE_CREATE_INFO);
  for (VkFence& fence : fences_) {
    const VkResult result = vkCreateFence(handle, &fence_info, nullptr, &fence);
    if (result != VK_SUCCESS) {
      for (VkFence made : fences_) {
        if (made != VK_NULL_HANDLE) vkDestroyFence(handle, made, nullptr);
      }
      vkDestroySemaphore(handle, semaphore_, nullptr);
      check_vk(result, "vkCreateFence (submit ahead)");
    }
  }
  try {
    predicates_ =
        device_.staging_memory().allocate(2 * sizeof(uint32_t), "submit-ahead predicates");
  } catch (...) {
    for (VkFence fence : fences_) vkDestroyFence(handle, fence, nullptr);
    vkDestroySemaphore(handle, semaphore_, nullptr);
    throw;
  }
  *word(0) = 1;
  *word(1) = 1;
}

SubmitAhead::~SubmitAhead() {
  const VkDevice handle = device_.handle();
  // Bounded: a replay whose wait failed may still be running.
  if (running_) vkWaitForFences(handle, 1, &fences_[*running_], VK_TRUE, 10'000'000'000ull);
  if (held_) {
    device_.cancel_held(held_->ticket);
    vkWaitForFences(handle, 1, &fences_[held_->copy], VK_TRUE, 10'000'000'000ull);
  }
  for (VkFence fence : fences_) vkDestroyFence(handle, fence, nullptr);
  vkDestroySemaphore(handle, semaphore_, nullptr);
}

uint32_t* SubmitAhead::word(uint32_t copy) const {
  return reinterpret_cast<uint32_t*>(predicates_.mapped()) + copy;
}

BufferRegion SubmitAhead::predicate(uint32_t copy) const {
  BufferRegion region = predicates_.region();
  region.offset += copy * sizeof(uint32_t);
  region.size = sizeof(uint32_t);
  return region;
}

void SubmitAhead::run(ExecutionPlan& plan) {
  if (running_) wait(std::chrono::microseconds(0));  // an execute that failed in its wait
  std::optional<uint32_t> running;
  if (held_ && held_->plan == &plan) {
    const Held held = *held_;
    held_.reset();
    if (device_.release_held(held.ticket)) {
      running = held.copy;
      released_.fetch_add(1, std::memory_order_relaxed);
      cancelled_in_a_row_ = 0;
    } else {
      // Another submit cancelled it: it passes as a no-op, then its
      // recording runs again below.
      cancelled_.fetch_add(1, std::memory_order_relaxed);
      ++cancelled_in_a_row_;
      device_.wait(fences_[held.copy], std::chrono::microseconds(0));
    }
  } else {
    drop();
  }
  if (!running) {
    running = plan.next_recording;
    *word(*running) = 1;
    check_vk(vkResetFences(device_.handle(), 1, &fences_[*running]), "vkResetFences");
    device_.submit(plan.recorded[*running], fences_[*running]);
  }
  running_ = running;
  plan.next_recording = *running ^ 1;
}

void SubmitAhead::hold_next(ExecutionPlan& plan) {
  if (holding() && !held_) hold(plan, plan.next_recording);
}

void SubmitAhead::wait(std::chrono::microseconds spin) {
  if (!running_) return;
  device_.wait(fences_[*running_], spin);
  running_.reset();
}

void SubmitAhead::hold(ExecutionPlan& plan, uint32_t copy) {
  check_vk(vkResetFences(device_.handle(), 1, &fences_[copy]), "vkResetFences");
  const Device::Hold hold{semaphore_, ++value_, word(copy), fences_[copy]};
  const uint64_t ticket = device_.submit_held(plan.recorded[copy], fences_[copy], hold);
  held_ = Held{&plan, copy, ticket};
}

void SubmitAhead::drop(const ExecutionPlan* plan) {
  if (!held_ || (plan != nullptr && held_->plan != plan)) return;
  const Held held = *held_;
  held_.reset();
  device_.cancel_held(held.ticket);
  cancelled_.fetch_add(1, std::memory_order_relaxed);
  ++cancelled_in_a_row_;
  device_.wait(fences_[held.copy], std::chrono::microseconds(0));
}

}  // namespace rtscope::vulkan
