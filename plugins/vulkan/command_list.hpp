// The commands of one execution plan: staging copies in, one or more
// dispatches per node (the plan adds nodes by dependency level), staging
// copies out. finalize() places a memory barrier before a command only
// where it touches a region an earlier command since the last barrier
// wrote (or writes one it read): dependent dispatches get barriers,
// independent ones run back to back. Before a batch of waiting dispatches
// (ChainedPush with kWaits: attention_split) that depends on a batch of
// counting ones (any ChainedPush: matvec_t too) it places, once
// enable_chaining() gave it counters, a counter instead of a barrier
// (shaders/chain.glsl): the first batch's workgroups count themselves in,
// the second's wait for the count. It also
// writes one descriptor set per dispatch, so recording an execute only
// binds, pushes and dispatches.
#pragma once

#include <vulkan/vulkan.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "buffer.hpp"
#include "dispatch_profile.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {

class PipelineSet;
struct SpecializedPipeline;

struct Binding {
  BufferRegion region;
  bool written = false;
};

// Which pipelines one recording of a list used.
struct DispatchMix {
  uint64_t specialized = 0;  // shape-specialized pipelines
  uint64_t generic = 0;      // generic pipelines
  uint64_t waiting = 0;      // generic while their specialized one compiles
};

struct Groups {
  uint32_t x = 1;
  uint32_t y = 1;
  uint32_t z = 1;
};

class CommandList {
 public:
  CommandList() = default;
  ~CommandList();
  CommandList(const CommandList&) = delete;
  CommandList& operator=(const CommandList&) = delete;

  // Appends a dispatch of `pipeline` (an index into the context's
  // PipelineSet). `bindings` fill bindings 0..n-1 in order.
  template <typename Push>
  void dispatch(uint32_t pipeline, std::initializer_list<Binding> bindings, const Push& push,
                Groups groups) {
    static_assert(sizeof(Push) <= kPushConstantBytes && sizeof(Push) % 4 == 0);
    Command& command = add_dispatch(pipeline, bindings, groups);
    std::memcpy(command.push.data(), &push, sizeof(Push));
    command.push_bytes = sizeof(Push);
    if constexpr (requires { Push::waits; }) {
      command.chains = true;
      command.waits = Push::waits;
    }
  }
  // Appends a fill of `target` (offset and size multiples of 4) with zeros.
  void zero(const BufferRegion& target);
  // Appends a buffer copy of `size` bytes.
  void copy(const BufferRegion& source, VkDeviceSize source_offset, const BufferRegion& target,
            VkDeviceSize target_offset, VkDeviceSize size);

  // Lets finalize() chain batches through `counters` (device-local, at
  // least 8 bytes): one counter per chained batch from word 1 on, as many
  // as fit, zeroed at the start of the list. Waiting dispatches get
  // `stall_word` (4 host-visible bytes the host zeroes before each
  // submit): nonzero after it means a wait gave up (chain.glsl) and the
  // execute's results are wrong.
  // `unreachable`: every wait is for that many workgroups more than its
  // batch has, so that each gives up (RTSCOPE_VULKAN_DIAG_CHAIN_STALL).
  void enable_chaining(const BufferRegion& counters, const BufferRegion& stall_word,
                       bool unreachable = false);

  // Places barriers and writes descriptor sets. Call once, after the last
  // command was added.
  void finalize(VkDevice device, VkDescriptorSetLayout layout);

  // Gives every dispatch whose family has shape constants the pipeline
  // slot specialized to its push-constant words, and appends the distinct
  // slots to `slots`. Call after finalize, from the execute thread.
  void specialize(PipelineSet& pipelines, std::vector<SpecializedPipeline*>& slots);

  // Records every command into `commands` (in the recording state), ending
  // with a barrier that makes transfer writes visible to the host. A
  // dispatch runs its specialized pipeline when it has one that is ready,
  // else the generic one. With a `profile` pool (profiled_spans() + 1
  // queries) it writes a timestamp at the start, before every barrier
  // (the final one included) and at the end.
  DispatchMix record(VkCommandBuffer commands, const PipelineSet& pipelines,
                     VkPipelineLayout layout, VkQueryPool profile = VK_NULL_HANDLE) const;

  // What each batch between barriers runs, e.g. "matvec_t_f16 x3" or
  // "norm_f16 + copy", and the bytes its commands bind, in order; then
  // the final barrier to the host, when there is one (dispatch_profile.hpp).
  std::vector<BatchLabel> batch_labels(const PipelineSet& pipelines) const;
  // Spans a profile times: the batches, and the final barrier if any.
  uint64_t profiled_spans() const { return batches() + (final_stages_ != 0 ? 1 : 0); }

  uint64_t dispatches() const { return dispatches_; }
  // Dispatches of generic pipeline `pipeline` (a PipelineSet index).
  uint64_t dispatches_on(uint32_t pipeline) const;
  // Those whose push-constant word `word` has every bit of `bits` set (a
  // flag of MatvecPush, say).
  uint64_t dispatches_on(uint32_t pipeline, size_t word, uint32_t bits) const;
  uint64_t barriers() const { return barriers_; }
  // Batches that wait for a counter instead of a barrier.
  uint64_t chained_waits() const { return chained_waits_; }
  // Whether any dispatch can wait for a counter (worth enable_chaining).
  bool has_waiting_dispatch() const {
    return std::any_of(commands_.begin(), commands_.end(),
                       [](const Command& command) { return command.waits; });
  }
  // Runs of commands between barriers (the first command never waits).
  uint64_t batches() const { return barriers_ + 1; }
  bool empty() const { return commands_.empty(); }

 private:
  enum class Kind : uint8_t { kDispatch, kCopy, kZero };
  struct Command {
    Kind kind = Kind::kDispatch;
    // Dispatch.
    uint32_t pipeline = 0;
    SpecializedPipeline* specialized = nullptr;  // see specialize()
    std::array<Binding, kMaxBindings> bindings{};
    uint32_t binding_count = 0;
    std::array<uint32_t, kPushConstantBytes / 4> push{};
    uint32_t push_bytes = 0;
    bool chains = false;  // a ChainedPush dispatch: it counts itself in
    bool waits = false;   // and can wait for a count
    Groups groups;
    VkDescriptorSet set = VK_NULL_HANDLE;
    // Copy (source and target), zero (target).
    BufferRegion source;
    BufferRegion target;
    // Barrier recorded before this command; stage 0: none.
    VkPipelineStageFlags wait_stages = 0;
    VkPipelineStageFlags block_stages = 0;
    VkAccessFlags wait_access = 0;
    VkAccessFlags block_access = 0;
  };
  struct Access {
    BufferRegion region;
    bool write;
    VkPipelineStageFlags stage;
    VkAccessFlags access;
    bool counters = false;  // a chaining dispatch's counters, ordered by their atomics
  };

  Command& add_dispatch(uint32_t pipeline, std::initializer_list<Binding> bindings, Groups groups);
  void accesses_of(const Command& command, std::vector<Access>& out) const;
  // What descriptor `binding` of `command` refers to: the chain's counters
  // and stall word where `chain` gives them, else the command's binding
  // (its first for one the shader does not declare, so the set is
  // complete whatever the pipeline).
  const BufferRegion& binding_region(const Command& command, uint32_t binding, bool chain) const;
  // Places the barriers and, with `chain`, the counters (finalize).
  void place_barriers(bool chain);
  static ChainPush chain_words(const Command& command);
  static void set_chain_words(Command& command, const ChainPush& words);

  std::vector<Command> commands_;
  VkDevice device_ = VK_NULL_HANDLE;
  VkDescriptorPool pool_ = VK_NULL_HANDLE;
  // Stages with writes still to make visible to the host at the end.
  VkPipelineStageFlags final_stages_ = 0;
  VkAccessFlags final_access_ = 0;
  uint64_t dispatches_ = 0;
  uint64_t barriers_ = 0;
  uint64_t chained_waits_ = 0;
  BufferRegion counters_{};  // enable_chaining
  uint32_t count_excess_ = 0;
  BufferRegion stall_word_{};
};

}  // namespace rtscope::vulkan
