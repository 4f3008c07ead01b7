// Kernel specialization on Vulkan: `none` runs the generic pipelines
// (shapes in push constants), `eager` compiles pipelines specialized to
// each plan's shapes before its first dispatch, `lazy` runs the generic
// ones while the specialized ones compile on a background thread and
// switches once they are ready (re-recording a whole_graph capture once).
// The counters say which pipelines ran; results match the float64
// reference whichever did.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "rtscope/model.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/decoder_stream_check.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using KS = KernelSpecialization;

MlpParams small_mlp() {
  return MlpParams{.layers = 2, .d_in = 24, .hidden = 32, .d_out = 16, .max_batch = 16, .seed = 11};
}

// A linear layer y = x·w + bias on a seeded weight of `dtype`.
Graph linear_graph(DType dtype, int64_t rows, int64_t k, int64_t n) {
  return testing::GraphBuilder("linear")
      .input("x", dtype, {rows, k})
      .weight("w", dtype, {k, n}, testing::seeded_init(3, 0.5))
      .weight("bias", dtype, {n}, testing::seeded_init(4, 0.5))
      .node("proj", "linear", {"x", "w", "bias"}, "y")
      .outputs({"y"})
      .build();
}

void apply(Model& model, KS mode, std::shared_ptr<RuntimeCache> cache = nullptr,
           GraphCapture capture = GraphCapture::disabled) {
  RuntimeSettings settings;
  settings.kernel_specialization = mode;
  settings.graph_capture = capture;
  settings.runtime_cache = std::move(cache);
  for (Module* module : model.modules()) module->set_runtime_settings(settings);
}

// Largest |got - want| relative to the tolerance; <= 1 passes.
double closeness_to_reference(Model& model, const std::string& input, const Tensor& x,
                              double tolerance) {
  const Tensor y = model.run({{input, x}}).at("y");
  std::map<std::string, reference::RefTensor> states;
  const auto expected =
      reference::run_graph(model.graph(), {{input, reference::RefTensor::from(x)}}, states);
  return reference::closeness(y, expected.at("y"), tolerance, tolerance);
}

// Runs until a specialized pipeline served a dispatch, with a generous
// deadline (lavapipe compiles at the first dispatch, on a loaded CI box).
bool run_until_specialized(Model& model, const Tensor& x) {
  const Module& module = *model.modules()[0];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (std::chrono::steady_clock::now() < deadline) {
    model.run({{"x", x}});
    if (counter(module, "specialized_dispatches") > 0 &&
        counter(module, "specializations_pending") == 0) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

class VulkanSpecialization : public VulkanTest {
 protected:
  // small_mlp() on the vulkan plugin, run with `mode` (and the settings
  // apply() takes).
  std::unique_ptr<Model> mlp(KS mode, std::shared_ptr<RuntimeCache> cache = nullptr,
                             GraphCapture capture = GraphCapture::disabled) {
    auto model = build(build_mlp(small_mlp()));
    apply(*model, mode, std::move(cache), capture);
    return model;
  }
};

TEST_F(VulkanSpecialization, NoneRunsOnlyGenericPipelines) {
  auto model = mlp(KS::none);
  const Tensor x = Tensor::random(DType::f32, {4, 24}, 1);
  for (int i = 0; i < 3; ++i) EXPECT_LE(closeness_to_reference(*model, "x", x, 1e-4), 1.0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  model->run({{"x", x}});
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "specialized_dispatches"), 0u);
  EXPECT_EQ(counter(module, "specialized_pipelines"), 0u);
  EXPECT_EQ(counter(module, "generic_dispatches"), counter(module, "dispatches"));
  EXPECT_GT(counter(module, "dispatches"), 0u);
  expect_no_validation_errors(*model);
}

TEST_F(VulkanSpecialization, EagerCompilesSpecializedPipelinesBeforeTheFirstDispatch) {
  auto model = mlp(KS::eager);
  auto generic = mlp(KS::none);
  const Tensor x = Tensor::random(DType::f32, {4, 24}, 2);
  const Tensor y = model->run({{"x", x}}).at("y");
  const Module& module = *model->modules()[0];
  // Every op of the mlp (linear, relu) has shape constants: the first
  // execute already ran nothing generic.
  EXPECT_EQ(counter(module, "specialized_dispatches"), counter(module, "dispatches"));
  EXPECT_EQ(counter(module, "generic_dispatches"), 0u);
  EXPECT_GT(counter(module, "specialized_pipelines"), 0u);
  EXPECT_EQ(counter(module, "specializations_pending"), 0u);
  EXPECT_EQ(counter(module, "specialization_failures"), 0u);
  // Same function as the generic pipelines compute.
  const Tensor want = generic->run({{"x", x}}).at("y");
  EXPECT_LE(reference::closeness(y, reference::RefTensor::from(want), 1e-5, 1e-5), 1.0);
  EXPECT_LE(closeness_to_reference(*model, "x", x, 1e-4), 1.0);

  // A new shape is a new plan with its own specialized pipelines; an old
  // shape reuses its pipelines.
  const uint64_t after_first = counter(module, "specialized_pipelines");
  model->run({{"x", Tensor::random(DType::f32, {9, 24}, 3)}});
  const uint64_t after_second = counter(module, "specialized_pipelines");
  EXPECT_GT(after_second, after_first);
  model->run({{"x", x}});
  EXPECT_EQ(counter(module, "specialized_pipelines"), after_second);
  EXPECT_EQ(counter(module, "generic_dispatches"), 0u);
  expect_no_validation_errors(*model);
}

TEST_F(VulkanSpecialization, LazyRunsGenericPipelinesFirstThenSwitches) {
  auto model = mlp(KS::lazy);
  const Tensor x = Tensor::random(DType::f32, {4, 24}, 4);
  EXPECT_LE(closeness_to_reference(*model, "x", x, 1e-4), 1.0);
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "specialized_dispatches"), 0u) << "the first execute never waits";
  EXPECT_EQ(counter(module, "generic_dispatches"), counter(module, "dispatches"));
  ASSERT_TRUE(run_until_specialized(*model, x));
  EXPECT_GT(counter(module, "specialized_pipelines"), 0u);
  EXPECT_EQ(counter(module, "specialization_failures"), 0u);
  const uint64_t generic = counter(module, "generic_dispatches");
  EXPECT_LE(closeness_to_reference(*model, "x", x, 1e-4), 1.0);
  EXPECT_EQ(counter(module, "generic_dispatches"), generic) << "all specialized now";
  expect_no_validation_errors(*model);
}

TEST_F(VulkanSpecialization, LazyUnderCaptureRecordsAgainOnceSpecialized) {
  auto model = mlp(KS::lazy, nullptr, GraphCapture::whole_graph);
  const Tensor x = Tensor::random(DType::f32, {4, 24}, 5);
  EXPECT_LE(closeness_to_reference(*model, "x", x, 1e-4), 1.0);
  const Module& module = *model->modules()[0];
  EXPECT_EQ(counter(module, "records"), 1u);
  ASSERT_TRUE(run_until_specialized(*model, x));
  EXPECT_EQ(counter(module, "records"), 2u) << "the generic recording, then the specialized one";
  const uint64_t replays = counter(module, "replays");
  for (int i = 0; i < 3; ++i) EXPECT_LE(closeness_to_reference(*model, "x", x, 1e-4), 1.0);
  EXPECT_EQ(counter(module, "records"), 2u);
  EXPECT_EQ(counter(module, "replays"), replays + 3);
  expect_no_validation_errors(*model);
}

TEST_F(VulkanSpecialization, SpecializedPipelinesStartWarmFromTheRuntimeCache) {
  auto cache = std::make_shared<RuntimeCache>();
  const Tensor x = Tensor::random(DType::f32, {4, 24}, 6);
  auto cold = mlp(KS::eager, cache);
  cold->run({{"x", x}});
  const Module& first = *cold->modules()[0];
  const uint64_t specialized = counter(first, "specialized_pipelines");
  EXPECT_GT(specialized, 0u);
  EXPECT_EQ(counter(first, "specialized_cache_misses"), specialized);
  EXPECT_EQ(cache->size(), counter(first, "pipelines_created") + specialized)
      << "one entry per generic and per specialized pipeline";

  auto warm = mlp(KS::eager, cache);
  EXPECT_LE(closeness_to_reference(*warm, "x", x, 1e-4), 1.0);
  const Module& second = *warm->modules()[0];
  EXPECT_EQ(counter(second, "specialized_cache_hits"), specialized);
  EXPECT_EQ(counter(second, "specialized_cache_misses"), 0u);
  EXPECT_EQ(counter(second, "specialized_cache_rejected"), 0u);
  expect_no_validation_errors(*warm);
}

TEST_F(VulkanSpecialization, LazyStartsSpecializedWhenTheCacheHoldsThePipelines) {
  auto cache = std::make_shared<RuntimeCache>();
  const Tensor x = Tensor::random(DType::f32, {4, 24}, 9);
  auto cold = mlp(KS::lazy, cache);
  ASSERT_TRUE(run_until_specialized(*cold, x));
  const uint64_t specialized = counter(*cold->modules()[0], "specialized_pipelines");

  // A second process with the same cache: no generic dispatch at all.
  auto warm = mlp(KS::lazy, cache);
  EXPECT_LE(closeness_to_reference(*warm, "x", x, 1e-4), 1.0);
  const Module& module = *warm->modules()[0];
  EXPECT_EQ(counter(module, "generic_dispatches"), 0u);
  EXPECT_EQ(counter(module, "specialized_dispatches"), counter(module, "dispatches"));
  EXPECT_EQ(counter(module, "specialized_cache_hits"), specialized);
  EXPECT_EQ(counter(module, "specializations_pending"), 0u);
  expect_no_validation_errors(*warm);
}

TEST_F(VulkanSpecialization, ALazyContextLeavingFinishesItsCompilesIntoTheCache) {
  auto cache = std::make_shared<RuntimeCache>();
  // A decoder has enough distinct kernels that its background compile is
  // still running when the model goes away right after its first execute.
  const DecoderParams params = testing::small_decoder_params(DType::f32);
  const std::map<std::string, Tensor> inputs = {
      {"tokens", Tensor::random(DType::i64, {1, 4}, 3, double(params.vocab - 1))},
      {"pos", testing::position_tensor(0)}};
  {
    auto cold = build(build_decoder(params));
    apply(*cold, KS::lazy, cache);
    cold->run(inputs);
  }
  // Eager: which dispatches have no specialized form (ops without shape
  // constants); the warm lazy start runs generic only those.
  auto eager = build(build_decoder(params));
  apply(*eager, KS::eager);
  eager->run(inputs);
  const uint64_t unspecialized = counter(*eager->modules()[0], "generic_dispatches");

  auto warm = build(build_decoder(params));
  apply(*warm, KS::lazy, cache);
  warm->run(inputs);
  const Module& module = *warm->modules()[0];
  EXPECT_EQ(counter(module, "generic_dispatches"), unspecialized)
      << "every specialized pipeline of the first context reached the cache";
  EXPECT_EQ(counter(module, "specialized_cache_misses"), 0u);
  EXPECT_GT(counter(module, "specialized_cache_hits"), 0u);
}

TEST_F(VulkanSpecialization, DestroyingALazyContextWhileItCompilesIsSafe) {
  const Tensor x = Tensor::random(DType::f32, {4, 24}, 7);
  for (int i = 0; i < 3; ++i) {
    auto model = mlp(KS::lazy);
    model->run({{"x", x}});
    apply(*model, KS::none);  // drops the lazy context while it compiles
    EXPECT_LE(closeness_to_reference(*model, "x", x, 1e-4), 1.0);
  }
}

// Linear layers on the decode-step shaders: weights whose K fills 16-byte
// vectors are stored [N, K] on devices with subgroup arithmetic (matvec_t
// for up to 64 rows, the tiled shader with transpose_b above); others
// keep [K, N] (matvec). Each must match the reference in every mode.
struct LinearCase {
  DType dtype;
  int64_t rows, k, n;
};

void PrintTo(const LinearCase& c, std::ostream* out) {
  *out << (c.dtype == DType::f16 ? "f16 " : "f32 ") << c.rows << "x" << c.k << " . " << c.k << "x"
       << c.n;
}

using VulkanLinear = VulkanCaseTest<LinearCase>;

TEST_P(VulkanLinear, MatchesFloat64ReferenceInEveryMode) {
  const LinearCase c = GetParam();
  auto model = build(linear_graph(c.dtype, c.rows, c.k, c.n));
  const Tensor x = Tensor::random(c.dtype, {c.rows, c.k}, 8);
  // Sums of k products of values in [-1, 1] x [-0.5, 0.5]: f16 output
  // rounding dominates (relative 2^-11).
  const double tolerance =
      c.dtype == DType::f16 ? 2e-3 * std::sqrt(static_cast<double>(c.k)) + 1e-3 : 1e-4;
  for (KS mode : {KS::none, KS::eager}) {
    SCOPED_TRACE(to_string(mode));
    apply(*model, mode);
    EXPECT_LE(closeness_to_reference(*model, "x", x, tolerance), 1.0);
  }
  expect_no_validation_errors(*model);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, VulkanLinear,
    ::testing::Values(LinearCase{DType::f32, 1, 64, 40},    // matvec_t, one row
                      LinearCase{DType::f32, 3, 256, 33},   // matvec_t, rows, odd N
                      LinearCase{DType::f16, 1, 512, 96},   // matvec_t f16, long K
                      LinearCase{DType::f16, 4, 40, 24},    // matvec_t f16, K = 5 vectors
                      LinearCase{DType::f16, 2, 36, 24},    // K off the vectors: matvec
                      LinearCase{DType::f32, 2, 30, 17},    // K off the vectors: matvec
                      LinearCase{DType::f32, 19, 64, 40},   // matvec_t, row blocks and a rest
                      LinearCase{DType::f16, 70, 48, 72}),  // transposed weight, tiled
    [](const ::testing::TestParamInfo<LinearCase>& info) {
      const LinearCase& c = info.param;
      return std::string(c.dtype == DType::f16 ? "f16_" : "f32_") + std::to_string(c.rows) + "x" +
             std::to_string(c.k) + "x" + std::to_string(c.n);
    });

}  // namespace
}  // namespace rtscope::vulkan_testing
