// Pipeline-cache entries in the host's runtime cache: the first context
// stores one per pipeline, a later context starts from them, and an entry
// that is not a valid blob for this device and key is rejected before the
// driver sees it (and the pipeline is compiled from SPIR-V instead).
#include <gtest/gtest.h>

#include <cstring>
#include <set>

#include "rtscope/graph.hpp"
#include "rtscope/kit/blob_io.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/runtime_settings.hpp"
#include "support/abi_values.hpp"
#include "support/tiny_graphs.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {
namespace {

using VulkanPipelineCache = VulkanTest;

// y = a + b, f32[n]; runs the binary_f32 pipeline only.
Graph add_graph(int64_t n) {
  return testing::GraphBuilder("add")
      .input("a", DType::f32, {n})
      .input("b", DType::f32, {n})
      .node("add", "add", {"a", "b"}, "y")
      .outputs({"y"})
      .build();
}

// A cache store over a RuntimeCache, as the host's, that also records the
// keys and bytes the plugin stores: the test corrupts exactly those
// entries without knowing how the plugin names them.
struct RecordingStore {
  RuntimeCache* cache;
  std::map<std::string, std::vector<uint8_t>> puts;
  rts_cache_store store{};

  explicit RecordingStore(RuntimeCache& runtime_cache) : cache(&runtime_cache) {
    store.struct_size = sizeof(store);
    store.user = this;
    store.get = [](void* user, const char* fingerprint, const char* key,
                   const rts_blob_sink* sink) {
      auto* self = static_cast<RecordingStore*>(user);
      auto bytes = self->cache->get({"vulkan", fingerprint, key});
      if (!bytes) return RTS_ERROR_NOT_FOUND;
      return sink->write(sink->user, bytes->data(), bytes->size()) == 0 ? RTS_OK
                                                                        : RTS_ERROR_INTERNAL;
    };
    store.put = [](void* user, const char* fingerprint, const char* key, const void* data,
                   uint64_t size) {
      auto* self = static_cast<RecordingStore*>(user);
      self->cache->put({"vulkan", fingerprint, key}, data, size);
      const auto* begin = static_cast<const uint8_t*>(data);
      self->puts[key].assign(begin, begin + size);
      return RTS_OK;
    };
  }
};

// Builds an engine for `add_graph` through the ABI and creates one context
// with `store`, so the test sees the keys the plugin uses.
void create_context_through_abi(const Plugin& plugin, RecordingStore& store) {
  const testing::TwoInputGraph add("add", "add", testing::static_value("a", RTS_DTYPE_F32, {8}),
                                   testing::static_value("b", RTS_DTYPE_F32, {8}),
                                   testing::static_value("y", RTS_DTYPE_F32, {8}));

  const rts_plugin_api& api = plugin.api();
  PluginCall call;
  rts_engine* engine = nullptr;
  call.check(api.build_engine(plugin.handle(), 0, &add.graph, &engine, call.sink()), "vulkan",
             "build_engine");
  rts_runtime_settings settings{};
  settings.struct_size = sizeof(settings);
  settings.kernel_specialization = RTS_KERNEL_SPECIALIZATION_NONE;
  settings.cache = &store.store;
  rts_context* context = nullptr;
  PluginCall context_call;
  const rts_status status = api.create_context(engine, &settings, &context, context_call.sink());
  if (context != nullptr) api.destroy_context(context);
  api.destroy_engine(engine);
  context_call.check(status, "vulkan", "create_context");
}

std::vector<float> run_add(Module& module, int64_t n) {
  Tensor a = Tensor::random(DType::f32, {n}, 1);
  Tensor b = Tensor::random(DType::f32, {n}, 2);
  const std::vector<Tensor> out = module.execute({a, b});
  std::vector<float> y(out[0].data_as<float>(), out[0].data_as<float>() + n);
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(y[i], a.data_as<float>()[i] + b.data_as<float>()[i]) << "element " << i;
  }
  return y;
}

// Generic pipelines under `capture` (the tests count generic pipelines
// and their entries; lazy specialization would add entries in the
// background).
RuntimeSettings with_cache(std::shared_ptr<RuntimeCache> cache, GraphCapture capture) {
  RuntimeSettings settings;
  settings.kernel_specialization = KernelSpecialization::none;
  settings.graph_capture = capture;
  settings.runtime_cache = std::move(cache);
  return settings;
}

TEST_F(VulkanPipelineCache, FirstContextStoresEntriesSecondStartsFromThem) {
  auto cache = std::make_shared<RuntimeCache>();
  auto model = build(add_graph(64));
  Module& module = *model->modules()[0];

  module.set_runtime_settings(with_cache(cache, GraphCapture::disabled));
  run_add(module, 64);
  EXPECT_EQ(counter(module, "pipelines_created"), 1u);
  EXPECT_EQ(counter(module, "pipeline_cache_misses"), 1u);
  EXPECT_EQ(counter(module, "pipeline_cache_hits"), 0u);
  EXPECT_EQ(cache->size(), 1u) << "one entry per pipeline";

  // New settings, same shared cache: the next execute creates a new context.
  module.set_runtime_settings(with_cache(cache, GraphCapture::whole_graph));
  run_add(module, 64);
  EXPECT_EQ(module.stats().contexts_created, 2u);
  EXPECT_GT(counter(module, "pipeline_cache_hits"), 0u);
  EXPECT_EQ(counter(module, "pipeline_cache_misses"), 0u);
  EXPECT_EQ(counter(module, "pipeline_cache_rejected"), 0u);
  EXPECT_EQ(cache->size(), 1u);
  expect_no_validation_errors(*model);
}

// Each corruption of a stored entry: the plugin must reject it (counted),
// warn, compile from SPIR-V, store a good entry again, and compute right.
TEST_F(VulkanPipelineCache, CorruptEntriesAreRejectedBeforeTheDriver) {
  const Plugin& plugin = *registry_.get("vulkan");
  const std::string fingerprint = plugin.devices().at(0).fingerprint;

  auto cache = std::make_shared<RuntimeCache>();
  RecordingStore recorder(*cache);
  create_context_through_abi(plugin, recorder);
  ASSERT_EQ(recorder.puts.size(), 1u) << "the add engine runs one pipeline";
  const std::string key = recorder.puts.begin()->first;
  const std::vector<uint8_t> good = recorder.puts.begin()->second;
  ASSERT_GT(good.size(), 64u) << "our header plus the driver's pipeline-cache data";

  struct Corruption {
    const char* what;
    std::vector<uint8_t> bytes;
  };
  std::vector<Corruption> corruptions;
  corruptions.push_back({"garbage", std::vector<uint8_t>(200, 0xAB)});
  corruptions.push_back({"truncated", std::vector<uint8_t>(good.begin(), good.begin() + 40)});
  std::vector<uint8_t> flipped_payload = good;
  flipped_payload.back() ^= 0x5A;
  corruptions.push_back({"payload bit flip", flipped_payload});
  std::vector<uint8_t> other_driver = good;
  other_driver[20] ^= 0x01;  // driverVersion in the header
  corruptions.push_back({"other driver version", other_driver});
  // A consistent blob of ours whose driver data claims another device: only
  // the check of the driver's own header catches it.
  constexpr size_t kHeaderBytes = 64;
  constexpr size_t kPayloadHashOffset = 56;
  std::vector<uint8_t> other_device = good;
  other_device[kHeaderBytes + 16] ^= 0xFF;  // pipelineCacheUUID in the driver's header
  // The plugin checksums its payload with FNV-1a 64, as the kit's blobs do.
  const uint64_t rehashed = kit::fnv1a(kit::kFnvOffset, other_device.data() + kHeaderBytes,
                                       other_device.size() - kHeaderBytes);
  std::memcpy(other_device.data() + kPayloadHashOffset, &rehashed, sizeof(rehashed));
  corruptions.push_back({"driver header of another device", other_device});
  std::vector<uint8_t> extra = good;
  extra.push_back(0);
  corruptions.push_back({"trailing byte", extra});

  auto model = build(add_graph(8));
  Module& module = *model->modules()[0];
  GraphCapture mode = GraphCapture::disabled;
  for (const Corruption& corruption : corruptions) {
    SCOPED_TRACE(corruption.what);
    cache->put(CacheKey{"vulkan", fingerprint, key}, corruption.bytes.data(),
               corruption.bytes.size());
    // Alternate the settings so that every round creates a new context.
    mode = mode == GraphCapture::disabled ? GraphCapture::whole_graph : GraphCapture::disabled;
    module.set_runtime_settings(with_cache(cache, mode));
    run_add(module, 8);
    EXPECT_EQ(counter(module, "pipeline_cache_rejected"), 1u);
    EXPECT_EQ(counter(module, "pipeline_cache_hits"), 0u);
    EXPECT_EQ(counter(module, "pipelines_created"), 1u);
    // The rejected entry was replaced by a fresh one (drivers may differ by
    // a few bytes between compilations, so the size is not compared; the
    // final round checks the replacement is accepted).
    auto stored = cache->get(CacheKey{"vulkan", fingerprint, key});
    ASSERT_TRUE(stored.has_value());
    EXPECT_GT(stored->size(), kHeaderBytes);
    EXPECT_NE(*stored, corruption.bytes);
  }
  // And the replacement is a hit for the next context.
  module.set_runtime_settings(with_cache(
      cache, mode == GraphCapture::disabled ? GraphCapture::whole_graph : GraphCapture::disabled));
  run_add(module, 8);
  EXPECT_EQ(counter(module, "pipeline_cache_hits"), 1u);
  EXPECT_EQ(counter(module, "pipeline_cache_rejected"), 0u);
  expect_no_validation_errors(*model);
}

}  // namespace
}  // namespace rtscope::vulkan_testing
