// A flat list of pre-resolved replay steps: each step is a function pointer
// plus a fixed argument block built once at record time (resolved
// pointers, sizes, strides, attribute values). Replaying is one indirect
// call per step: no shape inference, no lookups, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace rtscope::cpu {

class StepList {
 public:
  StepList() = default;
  StepList(const StepList&) = delete;
  StepList& operator=(const StepList&) = delete;

  // Appends a step that calls `Fn(args)`. Fn is a template argument so the
  // trampoline calls it with its real type (no function-pointer casts).
  template <auto Fn, typename Args>
  void add(Args args) {
    auto block = std::make_unique<Block<Args>>(std::move(args));
    steps_.push_back({&call<Fn, Args>, &block->value});
    blocks_.push_back(std::move(block));
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
  struct BlockBase {
    virtual ~BlockBase() = default;
  };
  template <typename Args>
  struct Block : BlockBase {
    explicit Block(Args a) : value(std::move(a)) {}
    Args value;
  };
  struct Step {
    void (*fn)(const void*);
    const void* args;
  };

  template <auto Fn, typename Args>
  static void call(const void* args) {
    Fn(*static_cast<const Args*>(args));
  }

  std::vector<Step> steps_;
  // Argument blocks; each is heap-allocated once so its address is stable.
  std::vector<std::unique_ptr<BlockBase>> blocks_;
};

}  // namespace rtscope::cpu
