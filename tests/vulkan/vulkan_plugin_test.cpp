// The Vulkan plugin as a plugin: device description and selection, the
// validation layer, query_node answers, engine files, f16 without 16-bit
// storage, data movement of every dtype, settings changes, and contexts
// executing concurrently on one device.
#include <gtest/gtest.h>

#include <cstring>
#include <regex>
#include <sstream>
#include <thread>

#include "conformance/op_cases.hpp"
#include "rtscope/model.hpp"
#include "rtscope/op_registry.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/env_guard.hpp"
#include "support/reference_outputs.hpp"
#include "support/small_models.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/cache_update_graph.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using conformance::OpCase;
using ::rtscope::testing::EnvGuard;

const OpCase& find_case(const std::string& label) {
  for (const OpCase& c : conformance::op_cases()) {
    if (c.label == label) return c;
  }
  throw std::runtime_error("no op case " + label);
}

// Runs `c` with `dtype` on `registry`'s vulkan plugin and checks it against
// the reference; returns the placement reason of its node.
std::string run_case(PluginRegistry& registry, const OpCase& c, DType dtype, double tol) {
  auto model =
      Model::build(conformance::single_op_graph(c, dtype), registry, {.backends = {"vulkan"}});
  const auto inputs = conformance::random_inputs(c, dtype, 42);
  std::vector<reference::RefTensor> ref_inputs;
  for (const auto& in : c.inputs) {
    ref_inputs.push_back(reference::RefTensor::from(inputs.at(in.name)));
  }
  const auto actual = model->run(inputs);
  const auto expected = reference::run_op(c.op, ref_inputs, resolve_attrs(*find_op(c.op), c.attrs));
  const Tensor& out = actual.at("out0");
  EXPECT_EQ(out.shape(), expected[0].shape) << c.label;
  EXPECT_LE(reference::closeness(out, expected[0], tol, tol), 1.0)
      << c.label << " " << to_string(dtype);
  expect_no_validation_errors(*model);
  return model->placements().at(0).reason;
}

using VulkanPlugin = VulkanTest;

// The plugin loaded as on a device without 16-bit storage: it keeps f16 as
// f32.
class VulkanPluginWithoutF16Storage : public VulkanTest {
  const EnvGuard no_f16_{"RTSCOPE_VULKAN_F16_STORAGE", "0"};
};

TEST_F(VulkanPlugin, DescribesItsDevicesWithStableFingerprints) {
  const Plugin& plugin = *registry_.get("vulkan");
  EXPECT_EQ(plugin.version(), "0.1.0");
  ASSERT_FALSE(plugin.devices().empty());
  const DeviceInfo& device = plugin.devices()[0];
  EXPECT_FALSE(device.name.empty());
  EXPECT_GT(device.memory_bytes, 0u);
  EXPECT_TRUE(std::regex_match(device.fingerprint,
                               std::regex("vulkan/[0-9a-f]+/[0-9a-f]+/[0-9]+/[0-9a-f]{32}")))
      << device.fingerprint;
  PluginRegistry second;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(second);
  EXPECT_EQ(second.get("vulkan")->devices()[0].fingerprint, device.fingerprint);
}

TEST_F(VulkanPlugin, RunsUnderTheValidationLayer) {
  auto model = build(conformance::single_op_graph(find_case("softmax_last"), DType::f32));
  model->run(conformance::random_inputs(find_case("softmax_last"), DType::f32, 1));
  EXPECT_EQ(counter(*model->modules()[0], "validation_enabled"), 1u)
      << "RTSCOPE_VULKAN_VALIDATION=1 but VK_LAYER_KHRONOS_validation is not active; install "
         "vulkan-validationlayers (scripts/install-deps.sh)";
  expect_no_validation_errors(*model);
}

TEST_F(VulkanPlugin, DeviceSelectionByIndexAndName) {
  const std::string default_name = registry_.get("vulkan")->devices()[0].name;
  {
    EnvGuard env("RTSCOPE_VULKAN_DEVICE", "0");
    PluginRegistry registry;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  }
  {
    // A case-insensitive part of the name.
    std::string part = default_name.substr(0, std::min<size_t>(4, default_name.size()));
    for (char& c : part) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EnvGuard env("RTSCOPE_VULKAN_DEVICE", part);
    PluginRegistry registry;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
    EXPECT_EQ(registry.get("vulkan")->devices()[0].name, default_name);
  }
  {
    EnvGuard env("RTSCOPE_VULKAN_DEVICE", "no-such-device");
    PluginRegistry registry;
    const LoadResult load = load_vulkan(registry);
    EXPECT_NE(load.failure.find("RTSCOPE_VULKAN_DEVICE='no-such-device'"), std::string::npos)
        << load.failure;
    EXPECT_NE(load.failure.find(default_name), std::string::npos)
        << "the message lists the devices: " << load.failure;
  }
}

TEST_F(VulkanPlugin, QueryNodeNamesTheKernelAndTheF16Handling) {
  DecoderParams params{
      .layers = 1, .d_model = 32, .heads = 2, .vocab = 50, .max_seq = 16, .dtype = DType::f16};
  auto model = build(build_decoder(params));
  bool saw_linear = false;
  for (const NodePlacement& placement : model->placements()) {
    EXPECT_EQ(placement.plugin, "vulkan") << placement.node;
    if (placement.op == "linear") {
      saw_linear = true;
      // Devices with cooperative matrices list matmul_coop_f16 third.
      EXPECT_NE(placement.reason.find("vulkan.linear.tiled_shared (matmul_f16, matvec_f16"),
                std::string::npos)
          << placement.reason;
      EXPECT_NE(placement.reason.find("f16 storage, f32 math"), std::string::npos)
          << placement.reason;
    }
  }
  EXPECT_TRUE(saw_linear);
  // The cache update aliases its input (in place when the host binds so).
  const auto& aliases = model->modules()[0]->aliases();
  ASSERT_EQ(aliases.size(), 2u);
  EXPECT_EQ(aliases[0].kind, RTS_ALIAS_KV_CACHE_UPDATE);
}

TEST_F(VulkanPluginWithoutF16Storage, F16ThroughF32WithoutSixteenBitStorage) {
  for (const OpCase& c : conformance::op_cases()) {
    const std::string reason = run_case(registry_, c, DType::f16, 2e-2);
    if (c.op != "reshape") {
      EXPECT_NE(reason.find("converted while staging"), std::string::npos) << reason;
    }
  }
}

// Few rows take the skinny matvec shader instead of the tiles: every row
// count it handles, odd K and N, with and without bias, f32 and f16.
TEST_F(VulkanPlugin, SkinnyMatmulMatchesReference) {
  using conformance::InputSpec;
  auto f = [](std::string name, Shape shape) {
    return InputSpec{std::move(name), InputSpec::Kind::floating, std::move(shape)};
  };
  std::vector<OpCase> cases;
  for (int64_t rows = 1; rows <= 4; ++rows) {
    cases.push_back({"linear_rows" + std::to_string(rows),
                     "linear",
                     {f("x", {1, rows, 71}), f("w", {71, 45})},
                     {}});
    cases.push_back({"linear_bias_rows" + std::to_string(rows),
                     "linear",
                     {f("x", {rows, 300}), f("w", {300, 33}), f("bias", {33})},
                     {}});
  }
  cases.push_back({"matmul_rhs2d_rows3", "matmul", {f("a", {3, 64}), f("b", {64, 100})}, {}});
  // Rows of B a multiple of 16 bytes: the shader's vector loads.
  cases.push_back({"matmul_rows2_wide", "matmul", {f("a", {2, 96}), f("b", {96, 256})}, {}});
  for (const OpCase& c : cases) {
    for (DType dtype : {DType::f32, DType::f16}) {
      SCOPED_TRACE(c.label + " " + std::string(to_string(dtype)));
      run_case(registry_, c, dtype, dtype == DType::f16 ? 2e-2 : 1e-4);
    }
  }
}

// When a later node still reads the old cache, kv_cache_update cannot
// update it in place on the device: it copies the cache first.
TEST_F(VulkanPlugin, CacheUpdateCopiesWhenTheOldCacheIsStillRead) {
  auto model = build(cache_update_graph("cache_reread")
                         .node("old", "scale", {"cache"}, "old_scaled", {{"factor", 2.0}})
                         .node("sum", "add", {"updated", "old_scaled"}, "y")
                         .outputs({"y"})
                         .build());
  testing::expect_matches_reference(*model,
                                    {{"cache", Tensor::random(DType::f32, {1, 2, 16, 8}, 1)},
                                     {"new", Tensor::random(DType::f32, {1, 2, 3, 8}, 2)},
                                     {"pos", testing::position_tensor(6)}},
                                    1e-6);
  EXPECT_EQ(counter(*model->modules()[0], "in_place_updates"), 0u);
  expect_no_validation_errors(*model);
}

// Data movement of the non-float dtypes, bit-exact against the reference.
TEST_F(VulkanPlugin, DataMovementOfEveryDtype) {
  for (const char* label : {"reshape", "transpose", "transpose_2d", "concat", "slice"}) {
    for (DType dtype : {DType::i64, DType::i32, DType::boolean}) {
      SCOPED_TRACE(std::string(label) + " " + std::string(to_string(dtype)));
      run_case(registry_, find_case(label), dtype, 0.0);
    }
  }
}

TEST_F(VulkanPlugin, IdsOutsideTheVocabularyFailBeforeSubmitting) {
  const OpCase& c = find_case("embedding_i32");
  auto model = build(conformance::single_op_graph(c, DType::f32));
  auto inputs = conformance::random_inputs(c, DType::f32, 5);
  inputs.at("ids").data_as<int32_t>()[3] = 50;
  try {
    model->run(inputs);
    FAIL() << "expected an error for id 50 with a vocabulary of 50";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("outside [0, 50)"), std::string::npos) << error.what();
  }
  EXPECT_EQ(counter(*model->modules()[0], "submits"), 0u);
}

MlpParams small_mlp() {
  return MlpParams{.layers = 2, .d_in = 24, .hidden = 40, .d_out = 12, .max_batch = 16, .seed = 5};
}

TEST_F(VulkanPlugin, EngineFileRoundTripGivesIdenticalResults) {
  auto model = build(build_mlp(small_mlp()));
  Module& original = *model->modules()[0];
  std::stringstream file;
  original.save(file);
  std::unique_ptr<Module> loaded = Module::load(file, "memory", registry_);
  Tensor x = Tensor::random(DType::f32, {7, 24}, 9);
  const Tensor a = original.execute({x})[0];
  const Tensor b = loaded->execute({x})[0];
  ASSERT_EQ(a.shape(), b.shape());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size_bytes()), 0);
  const auto expected = testing::reference_outputs(model->graph(), {{"x", x}});
  EXPECT_LE(reference::closeness(b, expected.at("y"), 1e-4, 1e-4), 1.0);
  EXPECT_EQ(counter(*loaded, "validation_errors"), 0u);
}

TEST_F(VulkanPlugin, SettingsChangesCreateNewContexts) {
  auto model = build(build_mlp(small_mlp()));
  Module& module = *model->modules()[0];
  Tensor x = Tensor::random(DType::f32, {4, 24}, 3);
  const Tensor before = module.execute({x})[0];
  {
    auto scope = runtime_config(
        *model, {{"graph_capture", "whole_graph"}, {"kernel_specialization", "eager"}});
    const Tensor inside = module.execute({x})[0];
    EXPECT_EQ(std::memcmp(before.data(), inside.data(), before.size_bytes()), 0);
  }
  module.execute({x});
  EXPECT_EQ(module.stats().contexts_created, 3u);
  expect_no_validation_errors(*model);
}

// Distinct contexts may execute concurrently: they share the device's
// queue and allocators.
TEST_F(VulkanPlugin, ContextsExecuteConcurrently) {
  auto first = build(build_mlp(small_mlp()));
  auto second = build(build_mlp(small_mlp()));
  Tensor x = Tensor::random(DType::f32, {5, 24}, 4);
  const Tensor expected = first->modules()[0]->execute({x})[0];
  auto work = [&](Model& model, int* mismatches) {
    for (int i = 0; i < 20; ++i) {
      // Alternate shapes so plans are built while the other thread runs.
      Tensor input = i % 2 == 0 ? x : Tensor::random(DType::f32, {3 + i % 5, 24}, i);
      const Tensor y = model.modules()[0]->execute({input})[0];
      if (i % 2 == 0 && std::memcmp(y.data(), expected.data(), y.size_bytes()) != 0) ++*mismatches;
    }
  };
  int first_mismatches = 0;
  int second_mismatches = 0;
  std::thread a(work, std::ref(*first), &first_mismatches);
  std::thread b(work, std::ref(*second), &second_mismatches);
  a.join();
  b.join();
  EXPECT_EQ(first_mismatches, 0);
  EXPECT_EQ(second_mismatches, 0);
  expect_no_validation_errors(*first);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
