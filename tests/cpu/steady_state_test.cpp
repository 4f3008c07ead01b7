// A decode step in steady state allocates nothing: the default decoder's
// module executed with preallocated outputs and its KV caches bound in
// place, eager and captured, fused and not. Every operator new of the
// process is counted while a step runs (the plugin's pool workers
// included), so an allocation anywhere on the step's path shows.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/env_guard.hpp"

namespace {

std::atomic<bool> counting{false};
std::atomic<uint64_t> allocations{0};

void* counted(std::size_t size) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
  }
  if (void* memory = std::malloc(size == 0 ? 1 : size)) return memory;
  throw std::bad_alloc();
}

void* counted_aligned(std::size_t size, std::align_val_t align) {
  if (counting.load(std::memory_order_relaxed)) {
    allocations.fetch_add(1, std::memory_order_relaxed);
  }
  const auto alignment = static_cast<std::size_t>(align);
  const std::size_t rounded = (size + alignment - 1) / alignment * alignment;
  if (void* memory = std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded)) {
    return memory;
  }
  throw std::bad_alloc();
}

}  // namespace

// Exported (the build hides symbols by default), so that the host library
// and the dlopen'ed plugin resolve operator new to these.
#define RTSCOPE_EXPORTED __attribute__((visibility("default")))

RTSCOPE_EXPORTED void* operator new(std::size_t size) { return counted(size); }
RTSCOPE_EXPORTED void* operator new[](std::size_t size) { return counted(size); }
RTSCOPE_EXPORTED void* operator new(std::size_t size, std::align_val_t align) {
  return counted_aligned(size, align);
}
RTSCOPE_EXPORTED void* operator new[](std::size_t size, std::align_val_t align) {
  return counted_aligned(size, align);
}
// The nothrow forms too: every form this file does not replace would come
// from the runtime (or a sanitizer's), whose memory free() must not take.
RTSCOPE_EXPORTED void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted(size);
  } catch (...) {
    return nullptr;
  }
}
RTSCOPE_EXPORTED void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  try {
    return counted(size);
  } catch (...) {
    return nullptr;
  }
}
RTSCOPE_EXPORTED void* operator new(std::size_t size, std::align_val_t align,
                                    const std::nothrow_t&) noexcept {
  try {
    return counted_aligned(size, align);
  } catch (...) {
    return nullptr;
  }
}
RTSCOPE_EXPORTED void* operator new[](std::size_t size, std::align_val_t align,
                                      const std::nothrow_t&) noexcept {
  try {
    return counted_aligned(size, align);
  } catch (...) {
    return nullptr;
  }
}
RTSCOPE_EXPORTED void operator delete(void* memory, const std::nothrow_t&) noexcept {
  std::free(memory);
}
RTSCOPE_EXPORTED void operator delete[](void* memory, const std::nothrow_t&) noexcept {
  std::free(memory);
}
RTSCOPE_EXPORTED void operator delete(void* memory, std::align_val_t,
                                      const std::nothrow_t&) noexcept {
  std::free(memory);
}
RTSCOPE_EXPORTED void operator delete[](void* memory, std::align_val_t,
                                        const std::nothrow_t&) noexcept {
  std::free(memory);
}
RTSCOPE_EXPORTED void operator delete(void* memory) noexcept { std::free(memory); }
RTSCOPE_EXPORTED void operator delete[](void* memory) noexcept { std::free(memory); }
RTSCOPE_EXPORTED void operator delete(void* memory, std::size_t) noexcept { std::free(memory); }
RTSCOPE_EXPORTED void operator delete[](void* memory, std::size_t) noexcept { std::free(memory); }
RTSCOPE_EXPORTED void operator delete(void* memory, std::align_val_t) noexcept {
  std::free(memory);
}
RTSCOPE_EXPORTED void operator delete[](void* memory, std::align_val_t) noexcept {
  std::free(memory);
}
RTSCOPE_EXPORTED void operator delete(void* memory, std::size_t, std::align_val_t) noexcept {
  std::free(memory);
}
RTSCOPE_EXPORTED void operator delete[](void* memory, std::size_t, std::align_val_t) noexcept {
  std::free(memory);
}

namespace rtscope {
namespace {

struct StepCase {
  const char* capture;
  const char* fusion;
};

void PrintTo(const StepCase& c, std::ostream* out) {
  *out << "capture " << c.capture << ", RTSCOPE_CPU_FUSION=" << c.fusion;
}

class SteadyStateStep : public ::testing::TestWithParam<StepCase> {};

TEST_P(SteadyStateStep, AllocatesNothing) {
  const testing::EnvGuard fusion("RTSCOPE_CPU_FUSION", GetParam().fusion);
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  const DecoderParams params{
      .layers = 2, .d_model = 256, .heads = 4, .vocab = 1024, .max_seq = 64, .seed = 7};
  auto model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
  ASSERT_EQ(model->modules().size(), 1u);
  Module& module = *model->modules()[0];
  auto config = runtime_config(
      *model, {{"kernel_specialization", "eager"}, {"graph_capture", GetParam().capture}});

  // Inputs in binding order: tokens, pos, then the caches (the model's
  // state tensors); outputs: logits and next token preallocated, each
  // cache's next value bound onto the cache itself.
  Tensor tokens = Tensor::random(DType::i64, {1, 1}, 3, 1023.0);
  Tensor pos = Tensor::empty(DType::i64, {1});
  pos.data_as<int64_t>()[0] = 0;
  std::vector<Tensor> inputs;
  for (const BindingInfo& binding : module.inputs()) {
    if (binding.name == "tokens") {
      inputs.push_back(tokens);
    } else if (binding.name == "pos") {
      inputs.push_back(pos);
    } else {
      inputs.push_back(model->state().at(binding.name));
    }
  }
  std::vector<Tensor> outputs(module.outputs().size());
  for (const AliasInfo& alias : module.aliases()) outputs[alias.output] = inputs[alias.input];
  size_t next_token = outputs.size();
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (module.outputs()[o].name == "logits") {
      outputs[o] = Tensor::empty(DType::f32, {1, 1, params.vocab});
    } else if (module.outputs()[o].name == "next_token") {
      outputs[o] = Tensor::empty(DType::i64, {1, 1});
      next_token = o;
    }
  }
  ASSERT_LT(next_token, outputs.size());

  for (int step = 0; step < 40; ++step) {
    counting.store(step >= 8, std::memory_order_relaxed);  // warm-up: plan, capture, pool
    module.execute_into(inputs, outputs);
    counting.store(false, std::memory_order_relaxed);
    pos.data_as<int64_t>()[0] = step + 1;
    tokens.data_as<int64_t>()[0] = outputs[next_token].data_as<int64_t>()[0];
  }
  EXPECT_EQ(allocations.exchange(0), 0u) << "allocations in 32 decode steps";
  const auto counters = module.stats().plugin_counters;
  EXPECT_EQ(counters.at("executes"), 40u);
  if (std::string(GetParam().capture) == "whole_graph") {
    EXPECT_EQ(counters.at("records"), 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(Cpu, SteadyStateStep,
                         ::testing::Values(StepCase{"disabled", "1"}, StepCase{"whole_graph", "1"},
                                           StepCase{"disabled", "0"}, StepCase{"whole_graph", "0"}),
                         [](const auto& info) {
                           return std::string(info.param.capture) + "_fusion" + info.param.fusion;
                         });

}  // namespace
}  // namespace rtscope
