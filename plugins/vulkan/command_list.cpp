#include "command_list.hpp"

#include <algorithm>
#include <utility>

#include "error.hpp"
#include "pipelines.hpp"

namespace rtscope::vulkan {

CommandList::~CommandList() {
  // Destroying the pool frees its descriptor sets.
  if (pool_ != VK_NULL_HANDLE) vkDestroyDescriptorPool(device_, pool_, nullptr);
}

CommandList::Command& CommandList::add_dispatch(uint32_t pipeline,
                                                std::initializer_list<Binding> bindings,
                                                Groups groups) {
  if (bindings.size() == 0 || bindings.size() > kMaxBindings) {
    fail(RTS_ERROR_INTERNAL, "vulkan: a dispatch binds ", bindings.size(), " buffers");
  }
  Command& command = commands_.emplace_back();
  command.kind = Kind::kDispatch;
  command.pipeline = pipeline;
  command.binding_count = static_cast<uint32_t>(bindings.size());
  uint32_t i = 0;
  for (const Binding& binding : bindings) command.bindings[i++] = binding;
  command.groups = groups;
  ++dispatches_;
  return command;
}

uint64_t CommandList::dispatches_on(uint32_t pipeline) const {
  return static_cast<uint64_t>(std::count_if(
      commands_.begin(), commands_.end(),
      [&](const Command& c) { return c.kind == Kind::kDispatch && c.pipeline == pipeline; }));
}

uint64_t CommandList::dispatches_on(uint32_t pipeline, size_t word, uint32_t bits) const {
  return static_cast<uint64_t>(
      std::count_if(commands_.begin(), commands_.end(), [&](const Command& c) {
        return c.kind == Kind::kDispatch && c.pipeline == pipeline && word * 4 < c.push_bytes &&
               (c.push[word] & bits) == bits;
      }));
}

void CommandList::copy(const BufferRegion& source, VkDeviceSize source_offset,
                       const BufferRegion& target, VkDeviceSize target_offset, VkDeviceSize size) {
  if (size == 0) return;
  Command& command = commands_.emplace_back();
  command.kind = Kind::kCopy;
  command.source = {source.buffer, source.offset + source_offset, size};
  command.target = {target.buffer, target.offset + target_offset, size};
}

void CommandList::zero(const BufferRegion& target) {
  if (target.size == 0) return;
  if (target.offset % 4 != 0 || target.size % 4 != 0) {
    fail(RTS_ERROR_INTERNAL, "vulkan: a fill of ", target.size, " bytes at offset ", target.offset,
         " is not in whole words");
  }
  Command& command = commands_.emplace_back();
  command.kind = Kind::kZero;
  command.target = target;
}

void CommandList::enable_chaining(const BufferRegion& counters, const BufferRegion& stall_word,
                                  bool unreachable) {
  if (counters.size < 8 || counters.size % 4 != 0 || counters.offset % 4 != 0 ||
      stall_word.size < 4) {
    fail(RTS_ERROR_INTERNAL, "vulkan: chain counters of ", counters.size, " bytes at offset ",
         counters.offset, " or a stall word of ", stall_word.size, " bytes");
  }
  counters_ = counters;
  stall_word_ = {stall_word.buffer, stall_word.offset, 4};
  count_excess_ = unreachable ? 1 : 0;
}

ChainPush CommandList::chain_words(const Command& command) {
  ChainPush words;
  std::memcpy(static_cast<void*>(&words), command.push.data() + kChainPushOffset / 4,
              sizeof(words));
  return words;
}

void CommandList::set_chain_words(Command& command, const ChainPush& words) {
  std::memcpy(command.push.data() + kChainPushOffset / 4, &words, sizeof(words));
}

const BufferRegion& CommandList::binding_region(const Command& command, uint32_t binding,
                                                bool chain) const {
  if (chain && command.waits && binding == kChainStallBinding) return stall_word_;
  if (chain && command.chains && binding == kChainBinding) return counters_;
  return command.bindings[binding < command.binding_count ? binding : 0].region;
}

void CommandList::accesses_of(const Command& command, std::vector<Access>& out) const {
  out.clear();
  if (command.kind == Kind::kCopy) {
    out.push_back(
        {command.source, false, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_READ_BIT});
  }
  if (command.kind != Kind::kDispatch) {  // a copy's target, or a zeroed region
    out.push_back(
        {command.target, true, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_ACCESS_TRANSFER_WRITE_BIT});
    return;
  }
  for (uint32_t i = 0; i < command.binding_count; ++i) {
    const Binding& binding = command.bindings[i];
    out.push_back({binding.region, binding.written, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                   binding.written ? VkAccessFlags{VK_ACCESS_SHADER_WRITE_BIT}
                                   : VkAccessFlags{VK_ACCESS_SHADER_READ_BIT}});
  }
  if (command.chains && counters_.buffer != VK_NULL_HANDLE) {
    out.push_back({counters_, true, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                   VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT, true});
  }
}

void CommandList::place_barriers(bool chain) {
  barriers_ = 0;
  chained_waits_ = 0;
  final_stages_ = 0;
  final_access_ = 0;
  // Counter words; word 0 is unused (slot 0 means none).
  const uint64_t slots = chain ? counters_.size / 4 - 1 : 0;
  // `pending` holds the accesses since the last barrier or counter;
  // `batch` the commands since then, whether all of them chain, and their
  // workgroups.
  std::vector<Access> pending;
  std::vector<Access> current;
  std::vector<size_t> batch;
  bool batch_chains = true;
  uint64_t batch_groups = 0;
  ChainPush wait;  // what the batch waits for (wait 0: a barrier, or the start)
  // The chained batches since the last barrier, which the next one covers.
  VkPipelineStageFlags chained_stages = 0;
  VkAccessFlags chained_access = 0;
  for (size_t i = 0; i < commands_.size(); ++i) {
    Command& command = commands_[i];
    command.wait_stages = command.block_stages = 0;
    command.wait_access = command.block_access = 0;
    if (command.chains) set_chain_words(command, {});
    accesses_of(command, current);
    bool hazard = false;
    for (const Access& now : current) {
      for (const Access& before : pending) {
        if ((now.write || before.write) && !(now.counters && before.counters) &&
            now.region.overlaps(before.region)) {
          hazard = true;
        }
      }
    }
    // A command that would not wait for the batch's counter needs a
    // barrier even where it touches nothing of the batch: the batch
    // before may still run.
    if (hazard || (wait.wait != 0 && !command.waits)) {
      const bool chained = hazard && command.waits && batch_chains && !batch.empty() &&
                           chained_waits_ < slots && batch_groups < UINT32_MAX;
      if (chained) {
        const uint32_t slot = static_cast<uint32_t>(++chained_waits_);
        for (size_t member : batch) {
          ChainPush words = chain_words(commands_[member]);
          words.signal = slot;
          set_chain_words(commands_[member], words);
        }
        wait = {slot, static_cast<uint32_t>(batch_groups) + count_excess_, 0, 0};
        for (const Access& before : pending) {
          chained_stages |= before.stage;
          if (before.write) chained_access |= before.access;
        }
      } else {
        command.wait_stages = chained_stages;
        command.wait_access = chained_access;
        for (const Access& before : pending) {
          command.wait_stages |= before.stage;
          if (before.write) command.wait_access |= before.access;
        }
        for (const Access& now : current) {
          command.block_stages |= now.stage;
          command.block_access |= now.access;
        }
        ++barriers_;
        wait = {};
        chained_stages = 0;
        chained_access = 0;
      }
      pending.clear();
      batch.clear();
      batch_chains = true;
      batch_groups = 0;
    }
    if (command.waits) set_chain_words(command, wait);
    batch.push_back(i);
    batch_chains = batch_chains && command.chains;
    if (command.kind == Kind::kDispatch) {
      batch_groups += uint64_t{command.groups.x} * command.groups.y * command.groups.z;
    }
    for (const Access& now : current) {
      if (!now.write) continue;
      final_stages_ |= now.stage;
      final_access_ |= now.access;
    }
    pending.insert(pending.end(), current.begin(), current.end());
  }
}

void CommandList::finalize(VkDevice device, VkDescriptorSetLayout layout) {
  // The final barrier makes every write of the list available to the
  // host, not only the last batch's: a dispatch may write host-visible
  // staging memory itself (a small output) batches before the end.
  const bool chain = counters_.buffer != VK_NULL_HANDLE;
  place_barriers(chain);
  if (chain && chained_waits_ > 0) {
    // The counters start at zero in every execute. Then the barriers
    // again, now around the zeroing.
    Command zero;
    zero.kind = Kind::kZero;
    zero.target = counters_;
    commands_.insert(commands_.begin(), zero);
    place_barriers(true);
  }

  // One descriptor set per dispatch, written once for the plan's lifetime.
  device_ = device;
  if (dispatches_ == 0) return;
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                            static_cast<uint32_t>(dispatches_ * kMaxBindings)};
  auto pool_info =
      vk_struct<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
  pool_info.maxSets = static_cast<uint32_t>(dispatches_);
  pool_info.poolSizeCount = 1;
  pool_info.pPoolSizes = &size;
  check_vk(vkCreateDescriptorPool(device, &pool_info, nullptr, &pool_), "vkCreateDescriptorPool");
  std::vector<VkDescriptorSetLayout> layouts(dispatches_, layout);
  std::vector<VkDescriptorSet> sets(dispatches_);
  auto allocate_info =
      vk_struct<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
  allocate_info.descriptorPool = pool_;
  allocate_info.descriptorSetCount = static_cast<uint32_t>(dispatches_);
  allocate_info.pSetLayouts = layouts.data();
  check_vk(vkAllocateDescriptorSets(device, &allocate_info, sets.data()),
           "vkAllocateDescriptorSets");

  std::vector<VkDescriptorBufferInfo> infos;
  std::vector<VkWriteDescriptorSet> writes;
  infos.reserve(dispatches_ * kMaxBindings);
  size_t next_set = 0;
  for (Command& command : commands_) {
    if (command.kind != Kind::kDispatch) continue;
    command.set = sets[next_set++];
    for (uint32_t b = 0; b < kMaxBindings; ++b) {
      const BufferRegion& region = binding_region(command, b, chain);
      infos.push_back({region.buffer, region.offset, region.size});
      auto write = vk_struct<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
      write.dstSet = command.set;
      write.dstBinding = b;
      write.descriptorCount = 1;
      write.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
      write.pBufferInfo = &infos.back();
      writes.push_back(write);
    }
  }
  vkUpdateDescriptorSets(device, static_cast<uint32_t>(writes.size()), writes.data(), 0, nullptr);
}

void CommandList::specialize(PipelineSet& pipelines, std::vector<SpecializedPipeline*>& slots) {
  for (Command& command : commands_) {
    if (command.kind != Kind::kDispatch) continue;
    const uint32_t words = pipelines.shape_constant_count(command.pipeline);
    if (words == 0) continue;
    command.specialized = pipelines.specialized(
        command.pipeline, {command.push.data(), std::min(words, command.push_bytes / 4)});
    if (std::find(slots.begin(), slots.end(), command.specialized) == slots.end()) {
      slots.push_back(command.specialized);
    }
  }
}

std::vector<BatchLabel> CommandList::batch_labels(const PipelineSet& pipelines) const {
  std::vector<BatchLabel> labels;
  std::vector<std::pair<std::string, uint32_t>> batch;  // name, count, in first-use order
  std::vector<BufferRegion> regions;                    // bound by the batch, each once
  auto close = [&] {
    std::string label;
    for (const auto& [name, count] : batch) {
      if (!label.empty()) label += " + ";
      label += count > 1 ? str_cat(name, " x", count) : name;
    }
    uint64_t bytes = 0;
    for (const BufferRegion& region : regions) bytes += region.size;
    labels.push_back({label.empty() ? "(empty)" : label, bytes});
    batch.clear();
    regions.clear();
  };
  std::vector<Access> accesses;
  for (size_t i = 0; i < commands_.size(); ++i) {
    const Command& command = commands_[i];
    if (command.block_stages != 0 && i > 0) close();
    const std::string name = command.kind == Kind::kCopy   ? std::string("copy")
                             : command.kind == Kind::kZero ? std::string("zero")
                                                           : pipelines.name(command.pipeline);
    auto found = std::find_if(batch.begin(), batch.end(),
                              [&](const auto& entry) { return entry.first == name; });
    if (found == batch.end()) {
      batch.emplace_back(name, 1);
    } else {
      ++found->second;
    }
    accesses_of(command, accesses);
    for (const Access& access : accesses) {
      if (std::find(regions.begin(), regions.end(), access.region) == regions.end()) {
        regions.push_back(access.region);
      }
    }
  }
  close();
  if (final_stages_ != 0) labels.push_back({std::string(kFinalBarrierLabel), 0});
  return labels;
}

DispatchMix CommandList::record(VkCommandBuffer commands, const PipelineSet& pipelines,
                                VkPipelineLayout layout, VkQueryPool profile) const {
  DispatchMix mix;
  VkPipeline bound = VK_NULL_HANDLE;
  uint32_t query = 0;
  auto stamp = [&] {
    vkCmdWriteTimestamp(commands, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, profile, query++);
  };
  if (profile != VK_NULL_HANDLE) {
    vkCmdResetQueryPool(commands, profile, 0, static_cast<uint32_t>(profiled_spans() + 1));
    stamp();
  }
  for (size_t i = 0; i < commands_.size(); ++i) {
    const Command& command = commands_[i];
    if (profile != VK_NULL_HANDLE && command.block_stages != 0 && i > 0) stamp();
    if (command.block_stages != 0) {
      auto barrier = vk_struct<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
      barrier.srcAccessMask = command.wait_access;
      barrier.dstAccessMask = command.block_access;
      vkCmdPipelineBarrier(commands, command.wait_stages, command.block_stages, 0, 1, &barrier, 0,
                           nullptr, 0, nullptr);
    }
    if (command.kind == Kind::kZero) {
      vkCmdFillBuffer(commands, command.target.buffer, command.target.offset, command.target.size,
                      0);
      continue;
    }
    if (command.kind == Kind::kCopy) {
      const VkBufferCopy region{command.source.offset, command.target.offset, command.target.size};
      vkCmdCopyBuffer(commands, command.source.buffer, command.target.buffer, 1, &region);
      continue;
    }
    VkPipeline pipeline = VK_NULL_HANDLE;
    if (command.specialized != nullptr) {
      pipeline = command.specialized->pipeline.load(std::memory_order_acquire);
      if (pipeline == VK_NULL_HANDLE && !command.specialized->finished()) ++mix.waiting;
    }
    if (pipeline == VK_NULL_HANDLE) {
      pipeline = pipelines.pipeline(command.pipeline);
      ++mix.generic;
    } else {
      ++mix.specialized;
    }
    if (pipeline != bound) {
      vkCmdBindPipeline(commands, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline);
      bound = pipeline;
    }
    vkCmdBindDescriptorSets(commands, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, 1, &command.set, 0,
                            nullptr);
    vkCmdPushConstants(commands, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, command.push_bytes,
                       command.push.data());
    vkCmdDispatch(commands, command.groups.x, command.groups.y, command.groups.z);
  }
  if (final_stages_ != 0) {
    if (profile != VK_NULL_HANDLE) stamp();
    auto barrier = vk_struct<VkMemoryBarrier>(VK_STRUCTURE_TYPE_MEMORY_BARRIER);
    barrier.srcAccessMask = final_access_;
    barrier.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(commands, final_stages_, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &barrier, 0,
                         nullptr, 0, nullptr);
  }
  if (profile != VK_NULL_HANDLE) stamp();
  return mix;
}

}  // namespace rtscope::vulkan
