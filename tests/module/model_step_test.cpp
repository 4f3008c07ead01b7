// Model::run_into: the step path by position. Names resolve when the model
// is built; each graph input is checked once, at the first module that
// reads it; results match Model::run and the float64 reference; results of
// one step are never written into by the next, unless the caller passed a
// slot on the device that computes the output.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>

#include "rtscope/device_memory.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/reference_outputs.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;

class ModelStep : public testing::TestingAndCpu {
 protected:
  void SetUp() override {
    TestingAndCpu::SetUp();
    model_ = Model::build(testing::three_module_graph(/*late_input=*/true), registry_,
                          {.backends = {"testing", "cpu"}});
    ASSERT_EQ(model_->modules().size(), 4u);  // cpu, testing, cpu, testing
    x_ = Tensor::random(DType::f32, {4, 8}, 11);
    z_ = Tensor::random(DType::f32, {4, 8}, 12);
  }

  std::unique_ptr<Model> model_;
  Tensor x_;
  Tensor z_;
};

TEST_F(ModelStep, PositionsFollowTheGraph) {
  EXPECT_EQ(model_->input_index("x"), 0u);
  EXPECT_EQ(model_->input_index("z"), 1u);
  EXPECT_EQ(model_->output_index("y2"), 0u);
  EXPECT_EQ(model_->output_index("y"), 1u);
  try {
    model_->input_index("w");
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown input 'w'; inputs are: x, z"));
  }
  try {
    model_->output_index("a");
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("unknown output 'a'; outputs are: y2, y"));
  }
}

TEST_F(ModelStep, RunIntoMatchesRunAndTheReference) {
  const std::vector<Tensor> inputs{x_, z_};
  std::vector<Tensor> outputs(2);
  model_->run_into(inputs, outputs);
  const auto by_name = model_->run({{"x", x_}, {"z", z_}});
  ASSERT_TRUE(outputs[0].defined() && outputs[1].defined());
  EXPECT_EQ(outputs[0].to_doubles(), by_name.at("y2").to_doubles());
  EXPECT_EQ(outputs[1].to_doubles(), by_name.at("y").to_doubles());

  const auto expected = testing::reference_outputs(model_->graph(), {{"x", x_}, {"z", z_}});
  EXPECT_LE(reference::closeness(outputs[0], expected.at("y2"), 1e-6, 1e-5), 1.0);
  EXPECT_LE(reference::closeness(outputs[1], expected.at("y"), 1e-6, 1e-5), 1.0);
  EXPECT_EQ(model_->stats().runs, 2u);
}

// The caller keeps what a step returned: the next step allocates anew.
TEST_F(ModelStep, AStepNeverWritesIntoEarlierResults) {
  std::vector<Tensor> first(2);
  model_->run_into(std::vector<Tensor>{x_, z_}, first);
  const std::vector<double> kept = first[0].to_doubles();
  std::vector<Tensor> second(2);
  model_->run_into(std::vector<Tensor>{Tensor::random(DType::f32, {4, 8}, 99), z_}, second);
  EXPECT_NE(first[0].data(), second[0].data());
  EXPECT_EQ(first[0].to_doubles(), kept);
  EXPECT_NE(second[0].to_doubles(), kept);
}

// A slot holding a tensor on the device that computes the output is
// written in place, step after step, and stays there; a device slot for an
// output the host computes is replaced like any other.
TEST_F(ModelStep, ADeviceSlotOfTheComputingDeviceIsWrittenInPlace) {
  const std::shared_ptr<const DeviceMemory> device = model_->output_device(0);
  ASSERT_NE(device, nullptr) << "y2 comes from the testing plugin, which has device memory";
  EXPECT_EQ(model_->output_device(1), nullptr) << "y comes from cpu, which keeps host memory";
  const Tensor on_device = Tensor::empty_on(device, DType::f32, {4, 8});
  const Tensor for_host_output = Tensor::empty_on(device, DType::f32, {4, 8});
  std::vector<Tensor> outputs{on_device, for_host_output};
  for (uint64_t seed : {21, 22}) {
    const Tensor x = Tensor::random(DType::f32, {4, 8}, seed);
    model_->run_into(std::vector<Tensor>{x, z_}, outputs);
    EXPECT_EQ(outputs[0].data(), on_device.data()) << "seed " << seed;
    EXPECT_TRUE(outputs[0].on_device());
    EXPECT_NE(outputs[1].data(), for_host_output.data());
    EXPECT_FALSE(outputs[1].on_device());
    const auto expected = testing::reference_outputs(model_->graph(), {{"x", x}, {"z", z_}});
    EXPECT_LE(reference::closeness(outputs[0], expected.at("y2"), 1e-6, 1e-5), 1.0);
    EXPECT_LE(reference::closeness(outputs[1], expected.at("y"), 1e-6, 1e-5), 1.0);
    outputs[1] = for_host_output;
  }
  // A slot too small for the output, or of another dtype, is replaced too.
  const Tensor other_dtype = Tensor::empty_on(device, DType::i32, {4, 8});
  outputs[0] = other_dtype;
  model_->run_into(std::vector<Tensor>{x_, z_}, outputs);
  EXPECT_NE(outputs[0].data(), other_dtype.data());
  EXPECT_EQ(outputs[0].dtype(), DType::f32);
  const Tensor too_small = Tensor::empty_on(device, DType::f32, {4, 7});
  outputs[0] = too_small;
  model_->run_into(std::vector<Tensor>{x_, z_}, outputs);
  EXPECT_NE(outputs[0].data(), too_small.data());
  EXPECT_EQ(outputs[0].shape(), (Shape{4, 8}));
  const auto expected = testing::reference_outputs(model_->graph(), {{"x", x_}, {"z", z_}});
  EXPECT_LE(reference::closeness(outputs[0], expected.at("y2"), 1e-6, 1e-5), 1.0);
  try {
    model_->output_device(2);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("model 'three': output 2 is past its 2 outputs"));
  }
}

// The one check names the module and binding that reads the input, as
// Module::execute does; an input read only by a later module is checked
// there, before any module runs.
TEST_F(ModelStep, InputsAreCheckedAtTheirFirstReader) {
  std::vector<Tensor> outputs(2);
  try {
    model_->run_into(std::vector<Tensor>{Tensor::random(DType::f16, {4, 8}, 1), z_}, outputs);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("module 'three.0@cpu': input 'x' has dtype f16, expected f32"));
  }
  try {
    model_->run_into(std::vector<Tensor>{x_, Tensor::random(DType::f32, {4, 9}, 1)}, outputs);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("module 'three.3@testing': input 'z' has shape [4,9]: dim 1 must be 8"));
  }
  EXPECT_EQ(model_->stats().runs, 0u);
  for (Module* module : model_->modules()) EXPECT_EQ(module->stats().executes, 0u);
}

TEST_F(ModelStep, WrongSlotCountsAreAnError) {
  std::vector<Tensor> outputs(2);
  try {
    model_->run_into(std::vector<Tensor>{x_}, outputs);
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(),
                HasSubstr("model 'three': got 1 inputs and 2 output slots, expected 2 and 2"));
  }
}

TEST_F(ModelStep, RunByNameStillNamesMissingAndUnknownInputs) {
  try {
    model_->run({{"x", x_}});
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("model 'three': missing input 'z'"));
  }
  try {
    model_->run({{"x", x_}, {"z", z_}, {"q", z_}});
    FAIL() << "expected an error";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), HasSubstr("model 'three': unknown input 'q'; inputs are: x, z"));
  }
}

}  // namespace
}  // namespace rtscope
