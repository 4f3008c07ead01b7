// kit::plugin_api: the C function table generated from a Backend. Every
// trampoline turns whatever its backend throws - Error, bad_alloc, a
// std::exception, even an int - into a status and one message, and checks
// its pointers before any backend code runs.
#include "rtscope/kit/plugin_api.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

namespace rtscope::kit {
namespace {

// What the next call into the test backend throws.
enum class Throw { kNothing, kError, kBadAlloc, kStdException, kInt };
Throw g_throw = Throw::kNothing;

void maybe_throw() {
  switch (g_throw) {
    case Throw::kNothing:
      return;
    case Throw::kError:
      fail(RTS_ERROR_DEVICE, "test: the device fell over");
    case Throw::kBadAlloc:
      throw std::bad_alloc();
    case Throw::kStdException:
      throw std::logic_error("broken invariant");
    case Throw::kInt:
      throw 42;
  }
}

class TestContext : public Context {
 public:
  void execute(const rts_execute_args&) override { maybe_throw(); }
  void report_counters(const rts_counter_sink& sink) const override {
    sink.counter(sink.user, "executes", 1);
    maybe_throw();
  }
};

class TestEngine : public Engine {
 public:
  TestEngine(const Backend& backend, GraphDesc graph) : Engine(backend), graph_(std::move(graph)) {}
  const GraphDesc& graph() const override { return graph_; }
  void fill_info(rts_engine_info& info) const override {
    maybe_throw();
    info.needs_output_allocation = 1;
  }
  std::unique_ptr<Context> create_context(const rts_runtime_settings*) const override {
    maybe_throw();
    return std::make_unique<TestContext>();
  }

 private:
  GraphDesc graph_;
};

class TestBackend : public Backend {
 public:
  static constexpr EngineBlobFormat kFormat = {
      "testkit", {'T', 'E', 'S', 'T', 'K', 'I', 'T', '1'}, 1, "9.9.9"};
  static constexpr bool kDeviceMemory = false;

  TestBackend(const rts_host_api* host, uint32_t abi_minor) : Backend(host, abi_minor, kFormat) {
    device_.struct_size = sizeof(device_);
    std::snprintf(device_.name, sizeof(device_.name), "test device");
    maybe_throw();
  }
  uint32_t device_count() const override { return 1; }
  const rts_device_info& device_info(uint32_t device) const override {
    if (device != 0) fail_invalid("the testkit plugin has one device (0), got device ", device);
    return device_;
  }
  rts_support query_node(uint32_t, const NodeDesc& node, const rts_value*,
                         const rts_value*) override {
    maybe_throw();
    rts_support answer{};
    answer.supported = node.op == "add" ? 1 : 0;
    answer.detail = answer.supported ? "add kernel" : refusal(node, "not an add");
    return answer;
  }
  std::unique_ptr<Engine> build_engine(uint32_t, GraphDesc graph) override {
    maybe_throw();
    return std::make_unique<TestEngine>(*this, std::move(graph));
  }

 private:
  rts_device_info device_{};
};

class WithDeviceMemory : public TestBackend {
 public:
  static constexpr bool kDeviceMemory = true;
  using TestBackend::TestBackend;
};

struct Sink {
  rts_error_sink sink{this, [](void* user, rts_status status, const char* message) {
                        auto* self = static_cast<Sink*>(user);
                        self->statuses.push_back(status);
                        self->messages.push_back(message);
                      }};
  std::vector<rts_status> statuses;
  std::vector<std::string> messages;
};

class PluginApi : public ::testing::Test {
 protected:
  void SetUp() override {
    g_throw = Throw::kNothing;
    ASSERT_EQ(api.init(nullptr, RTS_ABI_VERSION_MINOR, &plugin, &errors.sink), RTS_OK);
  }
  void TearDown() override {
    g_throw = Throw::kNothing;
    api.shutdown(plugin);
  }

  rts_engine* build() {
    rts_graph graph{};
    graph.name = "g";
    rts_engine* engine = nullptr;
    EXPECT_EQ(api.build_engine(plugin, 0, &graph, &engine, &errors.sink), RTS_OK);
    return engine;
  }

  const rts_plugin_api& api = plugin_api<TestBackend>();
  rts_plugin* plugin = nullptr;
  Sink errors;
};

TEST_F(PluginApi, DescribesTheBackend) {
  EXPECT_EQ(api.struct_size, sizeof(rts_plugin_api));
  EXPECT_EQ(api.abi_major, RTS_ABI_VERSION_MAJOR);
  EXPECT_STREQ(api.id, "testkit");
  EXPECT_STREQ(api.version, "9.9.9");
  EXPECT_EQ(api.device_alloc, nullptr);
  EXPECT_EQ(api.device_free, nullptr);
  EXPECT_EQ(api.device_copy, nullptr);
  const rts_plugin_api& with_memory = plugin_api<WithDeviceMemory>();
  EXPECT_NE(with_memory.device_alloc, nullptr);
  EXPECT_NE(with_memory.device_copy, nullptr);
  EXPECT_EQ(api.device_count(plugin), 1u);
  EXPECT_EQ(api.device_count(nullptr), 0u);
}

TEST_F(PluginApi, CatchesExceptionsOfEveryTypeWithOneMessageEach) {
  rts_engine* engine = build();
  ASSERT_NE(engine, nullptr);
  struct Case {
    Throw what;
    rts_status status;
    std::string message;
  };
  const Case cases[] = {
      {Throw::kError, RTS_ERROR_DEVICE, "test: the device fell over"},
      {Throw::kBadAlloc, RTS_ERROR_OUT_OF_MEMORY, "testkit: out of memory"},
      {Throw::kStdException, RTS_ERROR_INTERNAL, "testkit: internal error: broken invariant"},
      {Throw::kInt, RTS_ERROR_INTERNAL, "testkit: internal error: unknown exception"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    g_throw = c.what;
    errors = Sink{};
    errors.sink.user = &errors;
    rts_graph graph{};
    rts_engine* built = nullptr;
    EXPECT_EQ(api.build_engine(plugin, 0, &graph, &built, &errors.sink), c.status);
    EXPECT_EQ(built, nullptr);
    rts_engine_info info{};
    info.struct_size = sizeof(info);
    EXPECT_EQ(api.engine_info(engine, &info, &errors.sink), c.status);
    rts_context* context = nullptr;
    EXPECT_EQ(api.create_context(engine, nullptr, &context, &errors.sink), c.status);
    EXPECT_EQ(context, nullptr);
    rts_plugin* second = nullptr;
    EXPECT_EQ(api.init(nullptr, RTS_ABI_VERSION_MINOR, &second, &errors.sink), c.status);
    EXPECT_EQ(second, nullptr);
    ASSERT_EQ(errors.messages.size(), 4u);
    for (size_t i = 0; i < errors.messages.size(); ++i) {
      EXPECT_EQ(errors.statuses[i], c.status);
      EXPECT_EQ(errors.messages[i], c.message);
    }
  }
  g_throw = Throw::kNothing;
  api.destroy_engine(engine);
}

TEST_F(PluginApi, ExecuteAndCountersNeverLetAnExceptionOut) {
  rts_engine* engine = build();
  rts_context* context = nullptr;
  ASSERT_EQ(api.create_context(engine, nullptr, &context, &errors.sink), RTS_OK);
  rts_execute_args args{};
  args.struct_size = sizeof(args);
  g_throw = Throw::kInt;
  EXPECT_EQ(api.execute(context, &args, &errors.sink), RTS_ERROR_INTERNAL);
  uint64_t counted = 0;
  const rts_counter_sink counters{&counted, [](void* user, const char*, uint64_t value) {
                                    *static_cast<uint64_t*>(user) += value;
                                  }};
  api.context_counters(context, &counters);  // throws inside: swallowed
  EXPECT_EQ(counted, 1u);
  g_throw = Throw::kNothing;
  EXPECT_EQ(api.execute(context, &args, &errors.sink), RTS_OK);
  api.destroy_context(context);
  api.destroy_engine(engine);
}

TEST_F(PluginApi, RefusesNullPointersAndBadDevicesBeforeTheBackendRuns) {
  rts_engine* engine = nullptr;
  rts_graph graph{};
  EXPECT_EQ(api.build_engine(plugin, 0, nullptr, &engine, &errors.sink),
            RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(api.build_engine(plugin, 3, &graph, &engine, &errors.sink), RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_EQ(api.execute(nullptr, nullptr, &errors.sink), RTS_ERROR_INVALID_ARGUMENT);
  rts_plugin* newer = nullptr;  // the fixture's plugin stays for TearDown
  EXPECT_EQ(api.init(nullptr, RTS_ABI_VERSION_MINOR + 1, &newer, nullptr), RTS_ERROR_VERSION);
  EXPECT_EQ(newer, nullptr);
  ASSERT_EQ(errors.messages.size(), 3u);
  EXPECT_EQ(errors.messages[0], "graph is NULL");
  EXPECT_EQ(errors.messages[1], "the testkit plugin has one device (0), got device 3");
  EXPECT_EQ(errors.messages[2], "context is NULL");
}

TEST_F(PluginApi, QueryNodeFillsTheAnswerAndInternsRefusals) {
  rts_node node{};
  node.name = "n";
  node.op = "mul";
  rts_support support{};
  support.struct_size = sizeof(support);
  ASSERT_EQ(api.query_node(plugin, 0, &node, nullptr, nullptr, &support, &errors.sink), RTS_OK);
  EXPECT_EQ(support.supported, 0);
  EXPECT_STREQ(support.detail, "testkit: mul: not an add");
  node.op = "add";
  ASSERT_EQ(api.query_node(plugin, 0, &node, nullptr, nullptr, &support, &errors.sink), RTS_OK);
  EXPECT_EQ(support.supported, 1);
  EXPECT_STREQ(support.detail, "add kernel");
}

TEST_F(PluginApi, SerializesTheGraphAndBuildsItBackFromTheBlob) {
  rts_engine* engine = build();
  std::vector<unsigned char> blob;
  const rts_blob_sink sink{&blob, [](void* user, const void* data, uint64_t size) {
                             auto* out = static_cast<std::vector<unsigned char>*>(user);
                             const auto* bytes = static_cast<const unsigned char*>(data);
                             out->insert(out->end(), bytes, bytes + size);
                             return 0;
                           }};
  ASSERT_EQ(api.serialize_engine(engine, &sink, &errors.sink), RTS_OK);
  ASSERT_GT(blob.size(), 8u);
  EXPECT_EQ(std::string(blob.begin(), blob.begin() + 8), "TESTKIT1");
  rts_engine* loaded = nullptr;
  ASSERT_EQ(api.deserialize_engine(plugin, 0, blob.data(), blob.size(), &loaded, &errors.sink),
            RTS_OK);
  EXPECT_EQ(reinterpret_cast<Engine*>(loaded)->graph().name, "g");
  blob[blob.size() - 1] ^= 0xff;  // checksum
  rts_engine* corrupt = nullptr;
  EXPECT_NE(api.deserialize_engine(plugin, 0, blob.data(), blob.size(), &corrupt, &errors.sink),
            RTS_OK);
  EXPECT_EQ(corrupt, nullptr);
  api.destroy_engine(loaded);
  api.destroy_engine(engine);
}

TEST(StaticShapeError, ReportsTheInferenceErrorWithoutTheNodeLabel) {
  NodeDesc desc;
  desc.name = "mm";
  desc.op = "matmul";
  desc.inputs = {"a"};
  desc.outputs = {"y"};
  rts_value input{};
  input.name = "a";
  input.dtype = RTS_DTYPE_F32;
  input.rank = 1;
  input.dims[0] = 3;
  input.min_dims[0] = 3;
  input.max_dims[0] = 3;
  const auto rejects = [&](std::span<const Dims* const> inputs, std::span<Dims>) {
    fail_invalid(desc.label(), ": needs rank 2, got ", inputs[0]->size());
  };
  EXPECT_EQ(static_shape_error(desc, &input, rejects), "needs rank 2, got 1");
  input.dims[0] = -1;  // not all known: nothing to check yet
  input.max_dims[0] = 8;
  EXPECT_EQ(static_shape_error(desc, &input, rejects), "");
}

}  // namespace
}  // namespace rtscope::kit
