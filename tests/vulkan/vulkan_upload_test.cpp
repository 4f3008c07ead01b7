// Constant uploads on the Vulkan plugin, every path: written in place into
// host-visible device memory (direct), or staged through a ring of chunks
// (one chunk in flight, or several), with tensors larger than a chunk,
// odd element counts and a weight the engine stores transposed. The device
// must hold exactly the weights' bytes: each weight comes back through an
// exact op (w + 0, or an identity matrix times w) and is compared bit for
// bit, and the plugin's counters say which path ran. Each path runs
// written in the background after the build (the default) and during it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan_test_support.hpp"

namespace rtscope {
namespace {

using testing::fixed_shape;
using vulkan_testing::counter;
using vulkan_testing::expect_no_validation_errors;

constexpr int64_t kIdentity = 16;  // rows of the identity the linear reads

Weight tensor_weight(const std::string& name, DType dtype, Shape shape, uint64_t seed) {
  Weight weight;
  weight.info = {name, {dtype, fixed_shape(shape)}, {}};
  weight.init.kind = WeightInit::Kind::tensor;
  // Seeded values in [-1, 1]: a target left unwritten (zeros) cannot pass.
  weight.init.data = Tensor::random(dtype, std::move(shape), seed, 1.0);
  return weight;
}

// big16 [2500001] f16 (about 5 MB: several 1 MiB chunks), odd32 [3, 333335]
// f32 (4 MB), tiny16 [7] f16, each read back as w + 0; lin [16, 70001] f32
// (4.5 MB), stored transposed for `linear` on devices with subgroup
// arithmetic, read back as identity · w.
Graph upload_graph() {
  Graph g;
  g.name = "upload_paths";
  g.inputs.push_back({"zero16", {DType::f16, fixed_shape({1})}, {}});
  g.inputs.push_back({"zero32", {DType::f32, fixed_shape({1})}, {}});
  g.inputs.push_back({"eye", {DType::f32, fixed_shape({kIdentity, kIdentity})}, {}});
  g.weights.push_back(tensor_weight("big16", DType::f16, {2500001}, 11));
  g.weights.push_back(tensor_weight("odd32", DType::f32, {3, 333335}, 12));
  g.weights.push_back(tensor_weight("tiny16", DType::f16, {7}, 13));
  g.weights.push_back(tensor_weight("lin", DType::f32, {kIdentity, 70001}, 14));
  g.nodes = {
      {"big16_out", "add", {"big16", "zero16"}, {"big16_copy"}, {}, {}},
      {"odd32_out", "add", {"odd32", "zero32"}, {"odd32_copy"}, {}, {}},
      {"tiny16_out", "add", {"tiny16", "zero16"}, {"tiny16_copy"}, {}, {}},
      {"lin_out", "linear", {"eye", "lin"}, {"lin_copy"}, {}, {}},
  };
  g.outputs = {"big16_copy", "odd32_copy", "tiny16_copy", "lin_copy"};
  validate(g);
  return g;
}

uint64_t constant_bytes(const Graph& graph) {
  uint64_t bytes = 0;
  for (const Weight& weight : graph.weights) bytes += weight.init.data.size_bytes();
  return bytes;
}

// Every weight of `model` read back bit for bit.
void expect_weights_on_device(Model& model, const Graph& graph) {
  Tensor eye = Tensor::zeros(DType::f32, {kIdentity, kIdentity});
  for (int64_t i = 0; i < kIdentity; ++i) eye.data_as<float>()[i * kIdentity + i] = 1.0f;
  const auto out = model.run({{"zero16", Tensor::zeros(DType::f16, {1})},
                              {"zero32", Tensor::zeros(DType::f32, {1})},
                              {"eye", eye}});
  for (const Weight& weight : graph.weights) {
    const Tensor& got = out.at(weight.info.name + "_copy");
    const Tensor& want = weight.init.data;
    ASSERT_EQ(got.size_bytes(), want.size_bytes()) << weight.info.name;
    EXPECT_EQ(
        std::memcmp(got.data_as<unsigned char>(), want.data_as<unsigned char>(), want.size_bytes()),
        0)
        << weight.info.name << ": the device's copy differs from the weight";
  }
}

struct Case {
  const char* name;
  const char* mode;               // RTSCOPE_VULKAN_UPLOAD
  const char* ring;               // RTSCOPE_VULKAN_UPLOAD_RING; nullptr: default
  const char* chunk;              // RTSCOPE_VULKAN_UPLOAD_CHUNK_MB; nullptr: default
  bool direct;                    // every constant written in place
  const char* overlap = nullptr;  // RTSCOPE_VULKAN_UPLOAD_OVERLAP; nullptr: default (on)
};

class VulkanUpload : public ::testing::TestWithParam<Case> {
 protected:
  void TearDown() override {
    for (const char* name : {"RTSCOPE_VULKAN_UPLOAD", "RTSCOPE_VULKAN_UPLOAD_RING",
                             "RTSCOPE_VULKAN_UPLOAD_CHUNK_MB", "RTSCOPE_VULKAN_UPLOAD_OVERLAP"}) {
      unsetenv(name);
    }
  }
};

void set_or_unset(const char* name, const char* value) {
  if (value != nullptr) {
    setenv(name, value, 1);
  } else {
    unsetenv(name);
  }
}

TEST_P(VulkanUpload, DeviceHoldsTheWeightsBitForBit) {
  const Case c = GetParam();
  set_or_unset("RTSCOPE_VULKAN_UPLOAD", c.mode);
  set_or_unset("RTSCOPE_VULKAN_UPLOAD_RING", c.ring);
  set_or_unset("RTSCOPE_VULKAN_UPLOAD_CHUNK_MB", c.chunk);
  set_or_unset("RTSCOPE_VULKAN_UPLOAD_OVERLAP", c.overlap);
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const Graph graph = upload_graph();
  auto model = Model::build(graph, registry, {.backends = {"vulkan"}});
  ASSERT_EQ(model->modules().size(), 1u);
  expect_weights_on_device(*model, graph);

  const Module& module = *model->modules()[0];
  const uint64_t bytes = constant_bytes(graph);
  if (c.direct) {
    EXPECT_EQ(counter(module, "upload_direct_bytes"), bytes);
    EXPECT_EQ(counter(module, "upload_staged_bytes"), 0u);
    EXPECT_EQ(counter(module, "upload_chunks"), 0u);
  } else {
    EXPECT_EQ(counter(module, "upload_staged_bytes"), bytes);
    EXPECT_EQ(counter(module, "upload_direct_bytes"), 0u);
    // 1 MiB chunks: at least one per MiB of weights.
    EXPECT_GE(counter(module, "upload_chunks"), bytes >> 20);
  }
  EXPECT_GT(counter(module, "startup_device_create_ns"), 0u);
  EXPECT_GT(counter(module, "startup_upload_fill_ns"), 0u);
  const bool overlapped = c.overlap == nullptr || std::string(c.overlap) != "0";
  EXPECT_EQ(counter(module, "upload_overlapped"), overlapped ? 1u : 0u);
  if (!overlapped) EXPECT_EQ(counter(module, "startup_upload_wait_ns"), 0u);
  expect_no_validation_errors(*model);
}

// lavapipe maps all of its memory, so `auto` writes in place there.
INSTANTIATE_TEST_SUITE_P(
    Paths, VulkanUpload,
    ::testing::Values(Case{"staged_one_chunk_in_flight", "staged", "1", "1", false},
                      Case{"staged_ring_of_three", "staged", "3", "1", false},
                      Case{"direct", "direct", nullptr, nullptr, true},
                      // The same, written during the engine build.
                      Case{"staged_in_build", "staged", "3", "1", false, "0"},
                      Case{"direct_in_build", "direct", nullptr, nullptr, true, "0"}),
    [](const auto& info) { return std::string(info.param.name); });

// An engine destroyed while its weights are still being written in the
// background waits for the writing, then frees them; another model built
// next on the same device is unaffected.
TEST(VulkanUploadOverlap, AModelDestroyedBeforeItsFirstRunWaitsForItsUpload) {
  unsetenv("RTSCOPE_VULKAN_UPLOAD_OVERLAP");
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const Graph graph = upload_graph();
  for (int i = 0; i < 3; ++i) {
    auto model = Model::build(graph, registry, {.backends = {"vulkan"}});
    ASSERT_EQ(model->modules().size(), 1u);
  }
  auto model = Model::build(graph, registry, {.backends = {"vulkan"}});
  const auto out = model->run({{"zero16", Tensor::zeros(DType::f16, {1})},
                               {"zero32", Tensor::zeros(DType::f32, {1})},
                               {"eye", Tensor::zeros(DType::f32, {kIdentity, kIdentity})}});
  const Tensor& want = graph.weights[0].init.data;
  const Tensor& got = out.at("big16_copy");
  ASSERT_EQ(got.size_bytes(), want.size_bytes());
  EXPECT_EQ(
      std::memcmp(got.data_as<unsigned char>(), want.data_as<unsigned char>(), want.size_bytes()),
      0);
}

// Two models of the same weights (a decoder and its prefill model, say)
// hold one device copy: the second shares what the first uploads, and
// keeps it when the first is destroyed. Both read every weight back bit
// for bit, in either order of first run.
TEST(VulkanSharedConstants, ASecondModelOfTheSameWeightsSharesTheDeviceCopy) {
  for (const char* overlap : {"1", "0"}) {
    SCOPED_TRACE(std::string("RTSCOPE_VULKAN_UPLOAD_OVERLAP=") + overlap);
    setenv("RTSCOPE_VULKAN_UPLOAD_OVERLAP", overlap, 1);
    unsetenv("RTSCOPE_VULKAN_SHARE_CONSTANTS");
    PluginRegistry registry;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
    const Graph graph = upload_graph();
    auto first = Model::build(graph, registry, {.backends = {"vulkan"}});
    auto second = Model::build(graph, registry, {.backends = {"vulkan"}});
    // The sharing model runs first: it waits for the first model's upload.
    expect_weights_on_device(*second, graph);
    expect_weights_on_device(*first, graph);
    EXPECT_EQ(counter(*first->modules()[0], "upload_shared_bytes"), 0u);
    EXPECT_EQ(counter(*second->modules()[0], "upload_shared_bytes"), constant_bytes(graph));
    EXPECT_EQ(counter(*second->modules()[0], "upload_direct_bytes") +
                  counter(*second->modules()[0], "upload_staged_bytes"),
              0u)
        << "the sharing model wrote weights of its own";
    first.reset();
    expect_weights_on_device(*second, graph);
    // Once no model holds them, the next one uploads its own again.
    second.reset();
    auto third = Model::build(graph, registry, {.backends = {"vulkan"}});
    expect_weights_on_device(*third, graph);
    EXPECT_EQ(counter(*third->modules()[0], "upload_shared_bytes"), 0u);
    expect_no_validation_errors(*third);
  }
  unsetenv("RTSCOPE_VULKAN_UPLOAD_OVERLAP");
}

// Equal values at different host addresses are different constants; and
// RTSCOPE_VULKAN_SHARE_CONSTANTS=0 gives every model its own copy.
TEST(VulkanSharedConstants, OnlyTheSameBytesAreSharedAndSharingCanBeTurnedOff) {
  PluginRegistry registry;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const Graph graph = upload_graph();
  Graph copy = graph;
  for (Weight& weight : copy.weights) weight.init.data = weight.init.data.clone();
  auto first = Model::build(graph, registry, {.backends = {"vulkan"}});
  auto other = Model::build(copy, registry, {.backends = {"vulkan"}});
  expect_weights_on_device(*other, copy);
  EXPECT_EQ(counter(*other->modules()[0], "upload_shared_bytes"), 0u);

  setenv("RTSCOPE_VULKAN_SHARE_CONSTANTS", "0", 1);
  PluginRegistry unshared;
  RTSCOPE_LOAD_VULKAN_OR_SKIP(unshared);
  auto a = Model::build(graph, unshared, {.backends = {"vulkan"}});
  auto b = Model::build(graph, unshared, {.backends = {"vulkan"}});
  unsetenv("RTSCOPE_VULKAN_SHARE_CONSTANTS");
  expect_weights_on_device(*b, graph);
  EXPECT_EQ(counter(*b->modules()[0], "upload_shared_bytes"), 0u);
  EXPECT_EQ(counter(*b->modules()[0], "upload_direct_bytes") +
                counter(*b->modules()[0], "upload_staged_bytes"),
            constant_bytes(graph));
}

// A bad value of each switch fails the model build with a message naming
// the variable and the value.
TEST(VulkanUploadOptions, ABadSwitchIsAnErrorNamingIt) {
  const std::pair<const char*, const char*> cases[] = {
      {"RTSCOPE_VULKAN_UPLOAD", "fastest"},
      {"RTSCOPE_VULKAN_UPLOAD_OVERLAP", "yes"},
      {"RTSCOPE_VULKAN_SHARE_CONSTANTS", "2"},
  };
  for (const auto& [name, value] : cases) {
    setenv(name, value, 1);
    PluginRegistry registry;
    RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
    const std::string expected = std::string(name) + "='" + value + "'";
    try {
      Model::build(upload_graph(), registry, {.backends = {"vulkan"}});
      ADD_FAILURE() << expected << " was accepted";
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
    unsetenv(name);
  }
}

}  // namespace
}  // namespace rtscope
