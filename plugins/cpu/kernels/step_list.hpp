// A flat list of pre-resolved replay steps: each step is a function pointer
// plus a fixed argument block built once at record time (resolved
// pointers, sizes, strides, attribute values). Replaying is one indirect
// call per step: no shape inference, no lookups, no allocation. The
// argument blocks lie packed in recording order in a few large chunks, so
// a replay reads its steps and their arguments front to back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace rtscope::cpu {

class StepList {
 public:
  StepList() = default;
  ~StepList() {
    for (auto it = destructors_.rbegin(); it != destructors_.rend(); ++it) it->destroy(it->object);
  }
  StepList(const StepList&) = delete;
  StepList& operator=(const StepList&) = delete;

  // Appends a step that calls `Fn(args)`. Fn is a template argument so the
  // trampoline calls it with its real type (no function-pointer casts).
  template <auto Fn, typename Args>
  void add(Args args) {
    static_assert(alignof(Args) <= alignof(std::max_align_t));
    Args* block = new (allocate(sizeof(Args), alignof(Args))) Args(std::move(args));
    if constexpr (!std::is_trivially_destructible_v<Args>) {
      destructors_.push_back({block, [](void* object) { static_cast<Args*>(object)->~Args(); }});
    }
    steps_.push_back({&call<Fn, Args>, block});
  }

  void run() const {
    for (const Step& step : steps_) step.fn(step.args);
  }

  // run(), timing every step: `ns` (one slot per step) receives the
  // nanoseconds each took (RTSCOPE_CPU_PROFILE).
  template <typename Clock>
  void run_timed(Clock now_ns, uint64_t* ns) const {
    uint64_t start = now_ns();
    for (size_t i = 0; i < steps_.size(); ++i) {
      steps_[i].fn(steps_[i].args);
      const uint64_t end = now_ns();
      ns[i] = end - start;
      start = end;
    }
  }

  size_t size() const { return steps_.size(); }

 private:
  struct Step {
    void (*fn)(const void*);
    const void* args;
  };
  struct Destructor {
    void* object;
    void (*destroy)(void*);
  };
  // Argument bytes; a chunk never moves once made, so blocks keep their
  // addresses while the list grows.
  struct Chunk {
    std::unique_ptr<std::byte[]> bytes;
    size_t used = 0;
    size_t capacity = 0;
  };
  static constexpr size_t kChunkBytes = 16 * 1024;

  template <auto Fn, typename Args>
  static void call(const void* args) {
    Fn(*static_cast<const Args*>(args));
  }

  void* allocate(size_t bytes, size_t alignment) {
    if (!chunks_.empty()) {
      Chunk& chunk = chunks_.back();
      const size_t offset = (chunk.used + alignment - 1) / alignment * alignment;
      if (offset + bytes <= chunk.capacity) {
        chunk.used = offset + bytes;
        return chunk.bytes.get() + offset;
      }
    }
    Chunk& chunk = chunks_.emplace_back();
    chunk.capacity = bytes > kChunkBytes ? bytes : kChunkBytes;
    chunk.bytes.reset(new std::byte[chunk.capacity]);  // aligned for max_align_t
    chunk.used = bytes;
    return chunk.bytes.get();
  }

  std::vector<Step> steps_;
  std::vector<Chunk> chunks_;
  std::vector<Destructor> destructors_;  // blocks that need one, in recording order
};

}  // namespace rtscope::cpu
