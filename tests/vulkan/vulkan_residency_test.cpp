// Where the Vulkan plugin's tensors live: host bindings are staged (and
// counted, and logged once per engine), device memory from device_alloc is
// used in place, so a decoder's KV caches stay on the device between steps.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "rtscope/device_memory.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/templates.hpp"
#include "support/decoder_stream_check.hpp"
#include "support/env_guard.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/cache_update_graph.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using ::testing::HasSubstr;
using testing::position_tensor;

using VulkanResidency = VulkanTest;

// The plugin loaded at info level: ctest runs tests at warn level, and the
// host's logger reads the level when it first logs, which in a one-test
// process is the plugin load in SetUp.
class VulkanResidencyAtInfoLevel : public VulkanTest {
  const testing::EnvGuard info_level_{"RTSCOPE_LOG_LEVEL", "info"};
};

// The plugin loaded as on a device without 16-bit storage: it keeps f16 as
// f32.
class VulkanResidencyWithoutF16Storage : public VulkanTest {
  const testing::EnvGuard no_f16_{"RTSCOPE_VULKAN_F16_STORAGE", "0"};
};

// y = a + b on f32[4, 8].
Graph add_graph() {
  return testing::GraphBuilder("staged_add")
      .input("a", DType::f32, {4, 8})
      .input("b", DType::f32, {4, 8})
      .node("sum", "add", {"a", "b"}, "y")
      .outputs({"y"})
      .build();
}

size_t count_of(const std::string& text, const std::string& phrase) {
  size_t count = 0;
  for (size_t at = text.find(phrase); at != std::string::npos; at = text.find(phrase, at + 1)) {
    ++count;
  }
  return count;
}

TEST_F(VulkanResidencyAtInfoLevel, HostBindingsAreStagedCountedAndLoggedOnce) {
  auto model = build(add_graph());
  const std::map<std::string, Tensor> inputs = {{"a", Tensor::random(DType::f32, {4, 8}, 1)},
                                                {"b", Tensor::random(DType::f32, {4, 8}, 2)}};
  const auto expected = testing::reference_outputs(model->graph(), inputs);

  ::testing::internal::CaptureStderr();
  for (int run = 0; run < 3; ++run) {
    EXPECT_LE(reference::closeness(model->run(inputs).at("y"), expected.at("y"), 1e-6, 1e-6), 1.0);
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(log, "stages host-resident"), 1u) << log;
  EXPECT_THAT(log, HasSubstr("engine 'staged_add"));
  EXPECT_THAT(log, HasSubstr("input 'a' and 2 more tensors"));

  const Module& module = *model->modules()[0];
  constexpr uint64_t kTensorBytes = 4 * 8 * sizeof(float);
  EXPECT_EQ(counter(module, "staged_bytes"), 3 * 3 * kTensorBytes) << "a, b in and y out, 3 runs";
  EXPECT_EQ(counter(module, "device_bound_bytes"), 0u);
  expect_no_validation_errors(*model);
}

TEST_F(VulkanResidency, DeviceAllocRoundTripsAndBindsInPlace) {
  auto model = build(add_graph());
  const std::shared_ptr<const DeviceMemory>& memory = model->modules()[0]->device_memory();
  ASSERT_TRUE(memory) << "the vulkan plugin offers device memory";
  const Tensor a = Tensor::random(DType::f32, {4, 8}, 3);
  const Tensor b = Tensor::random(DType::f32, {4, 8}, 4);
  Tensor device_a = Tensor::empty_on(memory, DType::f32, {4, 8});
  device_a.copy_from(a);
  EXPECT_EQ(device_a.to_host().to_doubles(), a.to_doubles()) << "device_copy round trip";

  const auto out = model->run({{"a", device_a}, {"b", b}});
  const auto expected = testing::reference_outputs(model->graph(), {{"a", a}, {"b", b}});
  EXPECT_LE(reference::closeness(out.at("y"), expected.at("y"), 1e-6, 1e-6), 1.0);
  const Module& module = *model->modules()[0];
  constexpr uint64_t kTensorBytes = 4 * 8 * sizeof(float);
  EXPECT_EQ(counter(module, "staged_bytes"), 2 * kTensorBytes) << "only b in and y out";
  EXPECT_EQ(counter(module, "device_bound_bytes"), kTensorBytes);
  EXPECT_EQ(module.stats().staged_bytes, 0u) << "the host staged nothing either";
  expect_no_validation_errors(*model);
}

// y = a · w on f32[64, 64]: every output element reads a whole row of a.
Graph square_product_graph() {
  return testing::GraphBuilder("square_product")
      .input("a", DType::f32, {64, 64})
      .input("w", DType::f32, {64, 64})
      .node("product", "matmul", {"a", "w"}, "y")
      .outputs({"y"})
      .build();
}

// An output slot in the plugin's device memory is where the output is
// computed (no copy into it at the end, so no barrier before one), step
// after step; a slot that is also an input's memory gets the result copied
// in after everything read that input.
TEST_F(VulkanResidency, DeviceOutputSlotIsComputedInPlace) {
  auto model = build(square_product_graph());
  const std::shared_ptr<const DeviceMemory> memory = model->output_device(0);
  ASSERT_TRUE(memory) << "the vulkan plugin computes y in its device memory";
  const Tensor w = Tensor::random(DType::f32, {64, 64}, 5);
  Tensor device_w = Tensor::empty_on(memory, DType::f32, {64, 64});
  device_w.copy_from(w);
  const Tensor slot = Tensor::empty_on(memory, DType::f32, {64, 64});
  std::vector<Tensor> outputs{slot};
  for (uint64_t seed : {31, 32}) {
    Tensor device_a = Tensor::empty_on(memory, DType::f32, {64, 64});
    const Tensor a = Tensor::random(DType::f32, {64, 64}, seed);
    device_a.copy_from(a);
    model->run_into(std::vector<Tensor>{device_a, device_w}, outputs);
    EXPECT_EQ(outputs[0].data(), slot.data()) << "seed " << seed;
    const auto expected = testing::reference_outputs(model->graph(), {{"a", a}, {"w", w}});
    EXPECT_LE(reference::closeness(outputs[0], expected.at("y"), 1e-5, 1e-5), 1.0);
  }
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "barriers"), 0u) << "one dispatch, nothing copied after it";
  EXPECT_EQ(counter(module, "staged_bytes"), 0u);

  // y's slot is a's memory: computed in place, the product would write rows
  // of a other workgroups still read.
  const Tensor a = Tensor::random(DType::f32, {64, 64}, 33);
  Tensor shared = Tensor::empty_on(memory, DType::f32, {64, 64});
  shared.copy_from(a);
  outputs[0] = shared;
  const uint64_t barriers = counter(module, "barriers");
  model->run_into(std::vector<Tensor>{shared, device_w}, outputs);
  EXPECT_EQ(outputs[0].data(), shared.data());
  const auto expected = testing::reference_outputs(model->graph(), {{"a", a}, {"w", w}});
  EXPECT_LE(reference::closeness(outputs[0], expected.at("y"), 1e-5, 1e-5), 1.0);
  EXPECT_EQ(counter(module, "barriers") - barriers, 1u) << "the copy waits for the product";
  expect_no_validation_errors(*model);
}

// A cache input in device memory, aliased by the engine to the update's
// output: the host binds the output onto it and the device writes it in
// place; only the new rows and the position are staged.
TEST_F(VulkanResidency, AliasedDeviceCacheInputIsUpdatedInPlace) {
  auto model = build(cache_update_graph("cache_update").outputs({"updated"}).build());
  const Tensor cache = Tensor::random(DType::f32, {1, 2, 16, 8}, 6);
  const Tensor update = Tensor::random(DType::f32, {1, 2, 3, 8}, 7);
  Tensor device_cache =
      Tensor::empty_on(model->modules()[0]->device_memory(), DType::f32, {1, 2, 16, 8});
  device_cache.copy_from(cache);
  const auto out =
      model->run({{"cache", device_cache}, {"new", update}, {"pos", position_tensor(4)}});
  const auto expected = testing::reference_outputs(
      model->graph(), {{"cache", cache}, {"new", update}, {"pos", position_tensor(4)}});
  EXPECT_LE(reference::closeness(out.at("updated"), expected.at("updated"), 1e-6, 1e-6), 1.0);
  EXPECT_EQ(out.at("updated").data(), device_cache.data()) << "the output is the cache itself";
  EXPECT_LE(reference::closeness(device_cache, expected.at("updated"), 1e-6, 1e-6), 1.0);
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "in_place_updates"), 1u);
  EXPECT_EQ(counter(module, "device_bound_bytes"), cache.size_bytes());
  EXPECT_EQ(counter(module, "staged_bytes"), update.size_bytes() + sizeof(int64_t));
  expect_no_validation_errors(*model);
}

// Bytes a decode step must cross the bus: its true inputs and outputs.
uint64_t step_io_bytes(const std::map<std::string, Tensor>& inputs,
                       const std::map<std::string, Tensor>& outputs) {
  uint64_t bytes = 0;
  for (const auto& [name, tensor] : inputs) bytes += tensor.size_bytes();
  for (const auto& [name, tensor] : outputs) bytes += tensor.size_bytes();
  return bytes;
}

TEST_F(VulkanResidency, DecoderCachesStayOnTheDevice) {
  const DecoderParams params = testing::small_decoder_params(DType::f32);
  auto model = build(build_decoder(params));
  uint64_t cache_bytes = 0;
  for (const auto& [name, state] : model->state()) {
    EXPECT_TRUE(state.on_device()) << name << " lives in the plugin's device memory";
    cache_bytes += state.size_bytes();
  }
  testing::expect_stream_matches_reference(*model, params);

  const Module& module = *model->modules()[0];
  Tensor token = Tensor::random(DType::i64, {1, 1}, 5, double(params.vocab - 1));
  const uint64_t before = counter(module, "staged_bytes");
  const std::map<std::string, Tensor> inputs = {{"tokens", token}, {"pos", position_tensor(5)}};
  const auto out = model->run(inputs);
  const uint64_t step_bytes = counter(module, "staged_bytes") - before;
  EXPECT_EQ(step_bytes, step_io_bytes(inputs, out)) << "tokens, pos, logits, next_token only";
  EXPECT_LT(step_bytes * 20, cache_bytes) << "the caches do not cross the bus";
  EXPECT_EQ(module.stats().staged_bytes, 0u);
  expect_no_validation_errors(*model);
}

TEST_F(VulkanResidency, ResetStateRestartsTheStream) {
  const DecoderParams params = testing::small_decoder_params(DType::f32);
  auto model = build(build_decoder(params));
  testing::expect_stream_matches_reference(*model, params);
  model->reset_state();
  for (const auto& [name, state] : model->state()) {
    const std::vector<double> values = state.to_doubles();
    EXPECT_EQ(std::count(values.begin(), values.end(), 0.0), static_cast<long>(values.size()))
        << name << " is zero after reset_state";
  }
  testing::expect_stream_matches_reference(*model, params);
  expect_no_validation_errors(*model);
}

// Caches the user binds in host memory still work: the host stages them,
// and the results are the same.
TEST_F(VulkanResidency, UserBoundHostCachesMatchTheReference) {
  const DecoderParams params = testing::small_decoder_params(DType::f32);
  auto model = build(build_decoder(params));
  std::map<std::string, Shape> shapes;
  for (const auto& [name, state] : model->state()) shapes[name] = state.shape();
  for (const auto& [name, shape] : shapes) {
    model->bind_state(name, Tensor::zeros(DType::f32, shape));
  }
  testing::expect_stream_matches_reference(*model, params);
  EXPECT_FALSE(model->state().at("k_cache_0").on_device());
  EXPECT_GT(counter(*model->modules()[0], "staged_bytes"), 0u);
  expect_no_validation_errors(*model);
}

// Without 16-bit storage the device keeps f16 as f32, so the f16 caches in
// device memory go through host shadows: slower, still correct.
TEST_F(VulkanResidencyWithoutF16Storage, F16CachesWithoutSixteenBitStorageUseHostShadows) {
  const DecoderParams params = testing::small_decoder_params(DType::f16);
  auto model = build(build_decoder(params));
  EXPECT_TRUE(model->state().at("k_cache_0").on_device());
  testing::expect_stream_matches_reference(*model, params);
  const Module& module = *model->modules()[0];
  EXPECT_GT(counter(module, "shadowed_bytes"), 0u);
  EXPECT_EQ(counter(module, "device_bound_bytes"), 0u);
  expect_no_validation_errors(*model);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
