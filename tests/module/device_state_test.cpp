// Device-resident tensors and model state: a model's state buffers live on
// the device of the modules that read them when its plugin offers device
// memory (the testing plugin does; the cpu plugin keeps host memory), bind
// there without copies, and are staged through the host only for a module
// on another device.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

#include "rtscope/device_memory.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

constexpr int64_t kSize = 24;

// acc f32[kSize] (state) + x -> acc_next; acc <- acc_next; y = relu(acc_next)
Graph accumulator_graph() {
  return testing::GraphBuilder("accumulator")
      .input("x", DType::f32, {kSize})
      .state("acc", DType::f32, {kSize}, "acc_next")
      .node("add", "add", {"acc", "x"}, "acc_next")
      .node("relu", "relu", {"acc_next"}, "y")
      .outputs({"y"})
      .build();
}

class DeviceState : public testing::TestingAndCpu {
 protected:
  uint64_t live_device_allocations(Model& model) {
    model.run({{"x", Tensor::random(DType::f32, {kSize}, 99)}});
    return model.modules().front()->stats().plugin_counters.at("device_allocations_live");
  }
};

// Runs `steps` seeded steps and checks the state holds their float64 sum.
void expect_accumulates(Model& model, int steps, uint64_t seed) {
  std::vector<double> expected(kSize, 0.0);
  for (int step = 0; step < steps; ++step) {
    const Tensor x = Tensor::random(DType::f32, {kSize}, seed + step);
    const std::vector<double> values = x.to_doubles();
    for (int64_t i = 0; i < kSize; ++i) expected[i] += values[i];
    const auto out = model.run({{"x", x}});
    const std::vector<double> y = out.at("y").to_doubles();
    for (int64_t i = 0; i < kSize; ++i) {
      ASSERT_NEAR(y[i], std::max(expected[i], 0.0), 1e-5) << "step " << step << " element " << i;
    }
  }
  const std::vector<double> state = model.state().at("acc").to_doubles();
  for (int64_t i = 0; i < kSize; ++i) EXPECT_NEAR(state[i], expected[i], 1e-5) << i;
}

TEST_F(DeviceState, StateOfADeviceModelLivesOnItsDeviceAndKeepsItsStorage) {
  auto model = Model::build(accumulator_graph(), registry_, {.backends = {"testing"}});
  const Tensor& acc = model->state().at("acc");
  ASSERT_TRUE(acc.on_device());
  EXPECT_EQ(acc.device_memory()->plugin().id(), "testing");
  EXPECT_EQ(acc.device_memory()->device(), 0u);
  const void* storage = acc.data();

  expect_accumulates(*model, 5, 10);
  EXPECT_EQ(model->state().at("acc").data(), storage);
  EXPECT_EQ(model->modules().front()->stats().staged_bytes, 0u);
  // `add` is not in place: each step's result comes back in host memory
  // and is copied into the device state.
  EXPECT_EQ(model->stats().state_upload_bytes, 5u * kSize * sizeof(float));

  model->reset_state();
  EXPECT_EQ(model->state().at("acc").data(), storage);
  for (double v : model->state().at("acc").to_doubles()) EXPECT_EQ(v, 0.0);
  expect_accumulates(*model, 3, 50);
}

TEST_F(DeviceState, HostOnlyPluginKeepsStateOnTheHost) {
  auto model = Model::build(accumulator_graph(), registry_, {.backends = {"cpu"}});
  EXPECT_FALSE(model->state().at("acc").on_device());
  EXPECT_EQ(model->modules().front()->device_memory(), nullptr);
  expect_accumulates(*model, 4, 20);
}

TEST_F(DeviceState, StateOnAnotherDeviceIsStagedAndCounted) {
  // The cpu model reads a state buffer that lives on the testing device.
  auto model = Model::build(accumulator_graph(), registry_, {.backends = {"cpu"}});
  const auto device = DeviceMemory::of(testing_, 0);
  ASSERT_NE(device, nullptr);
  const Tensor foreign = Tensor::zeros_on(device, DType::f32, {kSize});
  model->bind_state("acc", foreign);
  const int steps = 4;
  expect_accumulates(*model, steps, 30);
  EXPECT_TRUE(model->state().at("acc").on_device());
  EXPECT_EQ(model->state().at("acc").data(), foreign.data());
  EXPECT_EQ(model->modules().front()->stats().staged_bytes,
            static_cast<uint64_t>(steps) * kSize * sizeof(float));
}

TEST_F(DeviceState, DeviceMemoryIsFreedWithItsLastTensor) {
  auto model = Model::build(accumulator_graph(), registry_, {.backends = {"testing"}});
  const uint64_t with_state = live_device_allocations(*model);
  EXPECT_GE(with_state, 1u);
  {
    const Tensor extra = Tensor::zeros_on(DeviceMemory::of(testing_, 0), DType::f32, {kSize});
    EXPECT_EQ(live_device_allocations(*model), with_state + 1);
  }
  EXPECT_EQ(live_device_allocations(*model), with_state);
}

TEST(DeviceTensor, CopiesBetweenHostAndDeviceRoundTrip) {
  PluginRegistry registry;
  const auto device = DeviceMemory::of(registry.load({.name = "testing"}), 0);
  ASSERT_NE(device, nullptr);
  const Tensor host = Tensor::random(DType::f16, {3, 5}, 7);
  Tensor on_device = Tensor::empty_on(device, DType::f16, {3, 5});
  on_device.copy_from(host);
  EXPECT_EQ(on_device.to_doubles(), host.to_doubles());

  const Tensor copy = on_device.clone();
  ASSERT_TRUE(copy.on_device());
  EXPECT_NE(copy.data(), on_device.data());
  EXPECT_EQ(copy.to_host().to_doubles(), host.to_doubles());
  EXPECT_FALSE(copy.to_host().on_device());

  on_device.zero();
  for (double v : on_device.to_doubles()) EXPECT_EQ(v, 0.0);
  EXPECT_EQ(copy.to_doubles(), host.to_doubles());  // the clone is independent

  Tensor wrong = Tensor::empty_on(device, DType::f32, {3, 5});
  EXPECT_THROW(wrong.copy_from(host), InputError);
  Tensor undefined;
  EXPECT_THROW(undefined.copy_from(Tensor::zeros(DType::f32, {})), InputError);
}

TEST_F(DeviceState, ExecuteIntoReusesPreallocatedOutputs) {
  auto model = Model::build(accumulator_graph(), registry_, {.backends = {"testing"}});
  Module& module = *model->modules().front();
  ASSERT_EQ(module.inputs().size(), 2u);
  std::vector<Tensor> inputs(2);
  for (std::size_t i = 0; i < 2; ++i) {
    inputs[i] = Tensor::random(DType::f32, {kSize}, 40 + i);
  }
  std::vector<Tensor> outputs(module.outputs().size());
  for (Tensor& output : outputs) output = Tensor::empty(DType::f32, {kSize});
  std::vector<const void*> storage;
  for (const Tensor& output : outputs) storage.push_back(output.data());

  module.execute_into(inputs, outputs);
  const std::vector<double> a = inputs[0].to_doubles();
  const std::vector<double> b = inputs[1].to_doubles();
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    EXPECT_EQ(outputs[o].data(), storage[o]) << "output " << o << " was reallocated";
  }
  const std::vector<double> sum = outputs[0].to_doubles();
  for (int64_t i = 0; i < kSize; ++i) EXPECT_NEAR(sum[i], a[i] + b[i], 1e-6) << i;

  std::vector<Tensor> too_few(outputs.size() + 1);
  EXPECT_THROW(module.execute_into(inputs, too_few), InputError);
}

TEST(DeviceTensor, HostOnlyPluginOffersNoDeviceMemory) {
  PluginRegistry registry;
  EXPECT_EQ(DeviceMemory::of(registry.load({.name = "cpu"}), 0), nullptr);
  // empty_on without a device is a host tensor.
  EXPECT_FALSE(Tensor::zeros_on(nullptr, DType::f32, {2}).on_device());
}

TEST_F(DeviceState, PreallocatedOutputOnAnotherDeviceIsRefusedByName) {
  auto model = Model::build(accumulator_graph(), registry_, {.backends = {"cpu"}});
  Module& module = *model->modules().front();
  std::vector<Tensor> inputs;
  for (const BindingInfo& binding : module.inputs()) {
    inputs.push_back(Tensor::zeros(binding.dtype, {kSize}));
  }
  std::vector<Tensor> outputs(module.outputs().size());
  for (std::size_t o = 0; o < outputs.size(); ++o) {
    outputs[o] = Tensor::zeros_on(DeviceMemory::of(testing_, 0), DType::f32, {kSize});
  }
  try {
    module.execute(inputs, outputs);
    FAIL() << "expected InputError";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()),
                AllOf(HasSubstr("plugin 'testing' device 0"), HasSubstr("host memory")));
  }
}

}  // namespace
}  // namespace rtscope
