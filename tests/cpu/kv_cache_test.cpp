// Streaming decode through KV caches on the CPU plugin: caches updated in
// place (same storage every step) and equal to the float64 reference's;
// prefill plus single steps equal to one longer prefill; reset then a fresh
// stream; the copying fallback when an output is not bound onto its cache;
// and graph-capture replay equal to eager over a 64-token stream.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "support/abi_values.hpp"
#include "support/small_models.hpp"

namespace rtscope {
namespace {

using reference::RefTensor;
using Inputs = std::map<std::string, Tensor>;

constexpr double kTol = 1e-4;

DecoderParams small_decoder() {
  return DecoderParams{
      .layers = 2, .d_model = 64, .heads = 4, .vocab = 97, .max_seq = 80, .seed = 11};
}

Tensor token_row(const std::vector<int64_t>& ids) {
  Tensor t = Tensor::empty(DType::i64, {1, static_cast<int64_t>(ids.size())});
  std::copy(ids.begin(), ids.end(), t.data_as<int64_t>());
  return t;
}

std::vector<int64_t> random_tokens(int64_t count, uint64_t seed, int64_t vocab) {
  const Tensor t = Tensor::random(DType::i64, {1, count}, seed, double(vocab - 1));
  return {t.data_as<int64_t>(), t.data_as<int64_t>() + count};
}

std::map<std::string, RefTensor> to_ref(const Inputs& inputs) {
  std::map<std::string, RefTensor> ref;
  for (const auto& [name, t] : inputs) ref[name] = RefTensor::from(t);
  return ref;
}

int64_t last_token(const Tensor& next_token) {
  return next_token.data_as<int64_t>()[next_token.numel() - 1];
}

uint64_t counter(const Model& model, const std::string& name) {
  const auto all = model.modules().at(0)->stats().plugin_counters;
  const auto found = all.find(name);
  return found == all.end() ? 0 : found->second;
}

std::map<std::string, const void*> state_addresses(const Model& model) {
  std::map<std::string, const void*> addresses;
  for (const auto& [name, tensor] : model.state()) addresses[name] = tensor.data();
  return addresses;
}

std::map<std::string, std::vector<double>> state_values(const Model& model) {
  std::map<std::string, std::vector<double>> values;
  for (const auto& [name, tensor] : model.state()) values[name] = tensor.to_doubles();
  return values;
}

// Sum of |x| over cache row `t` (all heads) of a [1, H, T, Dh] cache.
double row_magnitude(const Tensor& cache, int64_t t) {
  const Shape& s = cache.shape();
  const std::vector<double> v = cache.to_doubles();
  double sum = 0;
  for (int64_t h = 0; h < s[1]; ++h) {
    for (int64_t d = 0; d < s[3]; ++d) sum += std::abs(v[(h * s[2] + t) * s[3] + d]);
  }
  return sum;
}

class KvCache : public ::testing::Test {
 protected:
  void SetUp() override { registry_.load({.name = "cpu"}); }

  std::unique_ptr<Model> build(const Graph& graph) {
    auto model = Model::build(graph, registry_, {.backends = {"cpu"}});
    EXPECT_EQ(model->modules().size(), 1u);
    return model;
  }

  PluginRegistry registry_;
};

TEST_F(KvCache, InPlaceDecodeKeepsStorageAndMatchesReference) {
  const DecoderParams params = small_decoder();
  auto model = build(build_decoder(params));
  std::map<std::string, RefTensor> ref_states;
  const auto addresses = state_addresses(*model);
  ASSERT_EQ(addresses.size(), 4u) << "k_cache_<l> and v_cache_<l> for 2 layers";

  constexpr int kPrompt = 8;
  constexpr int kSteps = 12;
  Tensor tokens = token_row(random_tokens(kPrompt, 77, params.vocab));
  int64_t pos = 0;
  for (int step = 0; step <= kSteps; ++step) {
    const Inputs inputs = {{"tokens", tokens}, {"pos", testing::position_tensor(pos)}};
    const auto out = model->run(inputs);
    const auto expected = reference::run_graph(model->graph(), to_ref(inputs), ref_states);
    const double worst = reference::closeness(out.at("logits"), expected.at("logits"), kTol, kTol);
    EXPECT_LE(worst, 1.0) << "step " << step << ": logits off by " << worst << "x tolerance";
    EXPECT_EQ(state_addresses(*model), addresses) << "step " << step << ": a cache moved";
    pos += tokens.shape()[1];
    tokens = token_row({last_token(out.at("next_token"))});
  }

  // After the stream, every cache equals the reference's, K and V alike.
  for (const auto& [name, state] : model->state()) {
    EXPECT_LE(reference::closeness(state, ref_states.at(name), kTol, kTol), 1.0) << name;
  }
  // K and V of a layer are written in step: rows [0, pos) hold data, the
  // rest of the static cache is still zero.
  for (int64_t layer = 0; layer < params.layers; ++layer) {
    const Tensor& k = model->state().at("k_cache_" + std::to_string(layer));
    const Tensor& v = model->state().at("v_cache_" + std::to_string(layer));
    EXPECT_NE(k.data(), v.data());
    for (int64_t t = 0; t < params.max_seq; ++t) {
      EXPECT_EQ(row_magnitude(k, t) > 0, t < pos) << "k layer " << layer << " row " << t;
      EXPECT_EQ(row_magnitude(v, t) > 0, t < pos) << "v layer " << layer << " row " << t;
    }
  }
  // Each execute updated all four caches in place, none through a copy.
  EXPECT_EQ(counter(*model, "in_place_updates"), 4u * (kSteps + 1));
}

TEST_F(KvCache, PrefillThenSingleStepsEqualsOneLongerPrefill) {
  const DecoderParams params = small_decoder();
  const Graph graph = build_decoder(params);
  auto streamed = build(graph);
  auto prefilled = build(graph);
  const std::vector<int64_t> ids = random_tokens(14, 21, params.vocab);
  constexpr int kPrompt = 8;

  Tensor last_logits;
  streamed->run({{"tokens", token_row({ids.begin(), ids.begin() + kPrompt})},
                 {"pos", testing::position_tensor(0)}});
  for (int64_t t = kPrompt; t < static_cast<int64_t>(ids.size()); ++t) {
    last_logits =
        streamed->run({{"tokens", token_row({ids[t]})}, {"pos", testing::position_tensor(t)}})
            .at("logits");
  }
  const Tensor all_logits =
      prefilled->run({{"tokens", token_row(ids)}, {"pos", testing::position_tensor(0)}})
          .at("logits");

  for (const auto& [name, state] : streamed->state()) {
    const RefTensor expected = RefTensor::from(prefilled->state().at(name));
    EXPECT_LE(reference::closeness(state, expected, 1e-5, 1e-5), 1.0) << name;
  }
  // The last single step's logits equal the long prefill's last row.
  const std::vector<double> rows = all_logits.to_doubles();
  RefTensor last_row{DType::f32, {1, 1, params.vocab}, {}};
  last_row.data.assign(rows.end() - params.vocab, rows.end());
  EXPECT_LE(reference::closeness(last_logits, last_row, 1e-5, 1e-5), 1.0);
}

TEST_F(KvCache, ResetThenAFreshStreamRepeatsTheFirst) {
  const DecoderParams params = small_decoder();
  auto model = build(build_decoder(params));
  // Bit-for-bit repeats need the same kernels in both streams: a kernel
  // tuned between the streams (lazily, or eagerly per shape as the prompt
  // and step shapes first appear) may sum in another order. Without
  // specialization every node runs its generic kernel in both.
  auto config = runtime_config(*model, {{"kernel_specialization", "none"}});
  const auto addresses = state_addresses(*model);

  auto stream = [&] {
    std::vector<std::vector<double>> logits;
    Tensor tokens = token_row(random_tokens(5, 33, params.vocab));
    int64_t pos = 0;
    for (int step = 0; step < 9; ++step) {
      const auto out = model->run({{"tokens", tokens}, {"pos", testing::position_tensor(pos)}});
      logits.push_back(out.at("logits").to_doubles());
      pos += tokens.shape()[1];
      tokens = token_row({last_token(out.at("next_token"))});
    }
    return logits;
  };
  const auto first_logits = stream();
  const auto first_states = state_values(*model);

  model->reset_state();
  EXPECT_EQ(state_addresses(*model), addresses);
  for (const auto& [name, values] : state_values(*model)) {
    for (double v : values) ASSERT_EQ(v, 0.0) << name;
  }
  const auto second_logits = stream();
  EXPECT_EQ(second_logits, first_logits);
  EXPECT_EQ(state_values(*model), first_states);
  EXPECT_EQ(state_addresses(*model), addresses);
}

// ---------------------------------------------------------------------------
// Fallback: outputs not bound onto their cache
// ---------------------------------------------------------------------------

constexpr int64_t kHeads = 2, kSeq = 8, kHeadDim = 4, kNew = 2;
constexpr double kScale = 0.5;

// Caches as graph inputs (not states), updated caches as graph outputs:
//   k_next = kv_cache_update(k_cache, k_new, pos)   (v alike)
//   ctx    = attention(q, k_next, v_next, pos)
Graph cache_io_graph() {
  auto type = [](int64_t steps) {
    return ValueType{DType::f32,
                     {Dim::fixed(1), Dim::fixed(kHeads), Dim::fixed(steps), Dim::fixed(kHeadDim)}};
  };
  Graph g;
  g.name = "cache_io";
  g.inputs = {{"k_cache", type(kSeq), {}}, {"v_cache", type(kSeq), {}},
              {"q", type(kNew), {}},       {"k_new", type(kNew), {}},
              {"v_new", type(kNew), {}},   {"pos", {DType::i64, {Dim::fixed(1)}}, {}}};
  g.nodes.push_back(
      {"k_write", "kv_cache_update", {"k_cache", "k_new", "pos"}, {"k_next"}, {}, {}});
  g.nodes.push_back(
      {"v_write", "kv_cache_update", {"v_cache", "v_new", "pos"}, {"v_next"}, {}, {}});
  g.nodes.push_back(
      {"sdpa", "attention", {"q", "k_next", "v_next", "pos"}, {"ctx"}, {{"scale", kScale}}, {}});
  g.outputs = {"ctx", "k_next", "v_next"};
  validate(g);
  return g;
}

Inputs cache_io_inputs(int64_t pos) {
  // Caches start with data so a copy that dropped the old rows would show.
  return {{"k_cache", Tensor::random(DType::f32, {1, kHeads, kSeq, kHeadDim}, 1)},
          {"v_cache", Tensor::random(DType::f32, {1, kHeads, kSeq, kHeadDim}, 2)},
          {"q", Tensor::random(DType::f32, {1, kHeads, kNew, kHeadDim}, 3)},
          {"k_new", Tensor::random(DType::f32, {1, kHeads, kNew, kHeadDim}, 4)},
          {"v_new", Tensor::random(DType::f32, {1, kHeads, kNew, kHeadDim}, 5)},
          {"pos", testing::position_tensor(pos)}};
}

std::map<std::string, RefTensor> cache_io_expected(const Graph& graph, const Inputs& inputs) {
  std::map<std::string, RefTensor> states;
  return reference::run_graph(graph, to_ref(inputs), states);
}

TEST_F(KvCache, CacheAsGraphInputThroughTheModelIsCorrect) {
  const Graph graph = cache_io_graph();
  auto model = build(graph);
  for (int64_t pos : {int64_t{0}, int64_t{3}, kSeq - kNew}) {
    const Inputs inputs = cache_io_inputs(pos);
    // Whatever storage the host binds the updated caches to, the results
    // are the reference's for the inputs as they were before the run.
    const auto expected = cache_io_expected(graph, inputs);
    const auto out = model->run(inputs);
    for (const char* name : {"ctx", "k_next", "v_next"}) {
      EXPECT_LE(reference::closeness(out.at(name), expected.at(name), 1e-6, 1e-6), 1.0)
          << name << " at pos " << pos;
    }
  }
}

// The cpu plugin driven through its C ABI, so the test decides where each
// output is bound: onto the cache input (in place) or separate storage.
class RawCacheEngine {
 public:
  RawCacheEngine(Plugin& plugin, rts_graph_capture capture) : plugin_(plugin), api_(plugin.api()) {
    using testing::static_value;
    const std::vector<int64_t> cache = {1, kHeads, kSeq, kHeadDim};
    const std::vector<int64_t> fresh = {1, kHeads, kNew, kHeadDim};
    inputs_ = {static_value("k_cache", RTS_DTYPE_F32, cache),
               static_value("v_cache", RTS_DTYPE_F32, cache),
               static_value("q", RTS_DTYPE_F32, fresh),
               static_value("k_new", RTS_DTYPE_F32, fresh),
               static_value("v_new", RTS_DTYPE_F32, fresh),
               static_value("pos", RTS_DTYPE_I64, {1})};
    outputs_ = {static_value("ctx", RTS_DTYPE_F32, fresh),
                static_value("k_next", RTS_DTYPE_F32, cache),
                static_value("v_next", RTS_DTYPE_F32, cache)};
    scale_.name = "scale";
    scale_.type = RTS_ATTR_FLOAT;
    scale_.f = kScale;
    nodes_ = {node("k_write", "kv_cache_update", k_write_in_, k_write_out_),
              node("v_write", "kv_cache_update", v_write_in_, v_write_out_),
              node("sdpa", "attention", sdpa_in_, sdpa_out_)};
    nodes_[2].attrs = &scale_;
    nodes_[2].n_attrs = 1;
    rts_graph graph{};
    graph.struct_size = sizeof(graph);
    graph.name = "cache_io_raw";
    graph.inputs = inputs_.data();
    graph.n_inputs = static_cast<uint32_t>(inputs_.size());
    graph.outputs = outputs_.data();
    graph.n_outputs = static_cast<uint32_t>(outputs_.size());
    graph.nodes = nodes_.data();
    graph.n_nodes = static_cast<uint32_t>(nodes_.size());
    check(api_.build_engine(plugin_.handle(), 0, &graph, &engine_, &sink_), "build_engine");
    rts_runtime_settings settings{};
    settings.struct_size = sizeof(settings);
    settings.kernel_specialization = RTS_KERNEL_SPECIALIZATION_NONE;
    settings.graph_capture = capture;
    check(api_.create_context(engine_, &settings, &context_, &sink_), "create_context");
  }
  ~RawCacheEngine() {
    if (context_) api_.destroy_context(context_);
    if (engine_) api_.destroy_engine(engine_);
  }

  uint32_t aliases() {
    rts_engine_info info{};
    info.struct_size = sizeof(info);
    check(api_.engine_info(engine_, &info, &sink_), "engine_info");
    return info.n_aliases;
  }

  // Runs with `inputs` in graph order and `outputs` (ctx, k_next, v_next)
  // bound where they point.
  void execute(std::vector<Tensor>& inputs, std::vector<Tensor>& outputs) {
    std::vector<rts_tensor> in(inputs.size()), out(outputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) in[i] = binding(inputs_[i], inputs[i]);
    for (size_t o = 0; o < outputs.size(); ++o) out[o] = binding(outputs_[o], outputs[o]);
    const rts_execute_args args = execute_args(in, out);
    check(api_.execute(context_, &args, &sink_), "execute");
  }

  uint64_t counter(const std::string& name) {
    std::map<std::string, uint64_t> values;
    const rts_counter_sink sink{&values, [](void* user, const char* key, uint64_t value) {
                                  (*static_cast<std::map<std::string, uint64_t>*>(user))[key] =
                                      value;
                                }};
    api_.context_counters(context_, &sink);
    return values[name];
  }

 private:
  rts_node node(const char* name, const char* op, const char* const* in, const char* const* out) {
    rts_node n{};
    n.struct_size = sizeof(n);
    n.name = name;
    n.op = op;
    n.inputs = in;
    n.n_inputs = std::strcmp(op, "attention") == 0 ? 4 : 3;
    n.outputs = out;
    n.n_outputs = 1;
    return n;
  }

  static rts_tensor binding(const rts_value& value, Tensor& tensor) {
    rts_tensor t{};
    t.struct_size = sizeof(t);
    t.name = value.name;
    t.dtype = value.dtype;
    t.rank = value.rank;
    std::copy(value.dims, value.dims + value.rank, t.dims);
    t.data = tensor.data();
    t.size_bytes = tensor.size_bytes();
    t.residency = RTS_RESIDENCY_HOST;
    return t;
  }

  void check(rts_status status, const char* what) {
    if (status != RTS_OK) throw std::runtime_error(std::string(what) + ": " + error_);
  }

  Plugin& plugin_;
  const rts_plugin_api& api_;
  std::string error_;
  rts_error_sink sink_{this, [](void* user, rts_status, const char* message) {
                         static_cast<RawCacheEngine*>(user)->error_ = message;
                       }};
  std::vector<rts_value> inputs_, outputs_;
  const char* const k_write_in_[3] = {"k_cache", "k_new", "pos"};
  const char* const k_write_out_[1] = {"k_next"};
  const char* const v_write_in_[3] = {"v_cache", "v_new", "pos"};
  const char* const v_write_out_[1] = {"v_next"};
  const char* const sdpa_in_[4] = {"q", "k_next", "v_next", "pos"};
  const char* const sdpa_out_[1] = {"ctx"};
  rts_attr scale_{};
  std::vector<rts_node> nodes_;
  rts_engine* engine_ = nullptr;
  rts_context* context_ = nullptr;
};

class KvCacheFallback : public KvCache, public ::testing::WithParamInterface<rts_graph_capture> {};

TEST_P(KvCacheFallback, SeparateOutputStorageCopiesTheCacheAndLeavesTheInput) {
  const Graph graph = cache_io_graph();
  RawCacheEngine engine(*registry_.get("cpu"), GetParam());
  EXPECT_EQ(engine.aliases(), 2u) << "k_next aliases k_cache, v_next aliases v_cache";
  const Inputs named = cache_io_inputs(3);
  const auto expected = cache_io_expected(graph, named);
  std::vector<Tensor> inputs;
  for (const auto& value : graph.inputs) inputs.push_back(named.at(value.name));
  const std::vector<double> k_before = inputs[0].to_doubles();
  const std::vector<double> v_before = inputs[1].to_doubles();

  // Twice: under capture the second run replays the recording.
  for (int run = 0; run < 2; ++run) {
    std::vector<Tensor> outputs = {Tensor::zeros(DType::f32, {1, kHeads, kNew, kHeadDim}),
                                   Tensor::zeros(DType::f32, {1, kHeads, kSeq, kHeadDim}),
                                   Tensor::zeros(DType::f32, {1, kHeads, kSeq, kHeadDim})};
    engine.execute(inputs, outputs);
    EXPECT_LE(reference::closeness(outputs[0], expected.at("ctx"), 1e-6, 1e-6), 1.0) << run;
    EXPECT_LE(reference::closeness(outputs[1], expected.at("k_next"), 1e-7, 0), 1.0) << run;
    EXPECT_LE(reference::closeness(outputs[2], expected.at("v_next"), 1e-7, 0), 1.0) << run;
    EXPECT_EQ(inputs[0].to_doubles(), k_before) << "the cache input is read-only here";
    EXPECT_EQ(inputs[1].to_doubles(), v_before);
  }
  EXPECT_EQ(engine.counter("in_place_updates"), 0u);
}

TEST_P(KvCacheFallback, OutputBoundOntoTheCacheUpdatesItInPlace) {
  const Graph graph = cache_io_graph();
  RawCacheEngine engine(*registry_.get("cpu"), GetParam());
  const Inputs named = cache_io_inputs(3);
  const auto expected = cache_io_expected(graph, named);
  std::vector<Tensor> inputs;
  for (const auto& value : graph.inputs) inputs.push_back(named.at(value.name));

  // Writing the same steps at the same position again changes nothing, so
  // the second (replayed) run must give the same caches.
  for (int run = 0; run < 2; ++run) {
    std::vector<Tensor> outputs = {Tensor::zeros(DType::f32, {1, kHeads, kNew, kHeadDim}),
                                   inputs[0], inputs[1]};
    engine.execute(inputs, outputs);
    EXPECT_EQ(outputs[1].data(), inputs[0].data());
    EXPECT_LE(reference::closeness(outputs[0], expected.at("ctx"), 1e-6, 1e-6), 1.0) << run;
    EXPECT_LE(reference::closeness(inputs[0], expected.at("k_next"), 1e-7, 0), 1.0) << run;
    EXPECT_LE(reference::closeness(inputs[1], expected.at("v_next"), 1e-7, 0), 1.0) << run;
  }
  EXPECT_EQ(engine.counter("in_place_updates"), 4u);
}

INSTANTIATE_TEST_SUITE_P(Capture, KvCacheFallback,
                         ::testing::Values(RTS_GRAPH_CAPTURE_DISABLED,
                                           RTS_GRAPH_CAPTURE_WHOLE_GRAPH),
                         [](const auto& info) {
                           return info.param == RTS_GRAPH_CAPTURE_DISABLED ? "Planned" : "Captured";
                         });

// ---------------------------------------------------------------------------
// Graph capture with aliased caches
// ---------------------------------------------------------------------------

TEST_F(KvCache, CaptureReplayEqualsEagerOverA64TokenStream) {
  const DecoderParams params = small_decoder();
  const Graph graph = build_decoder(params);
  auto eager = build(graph);
  auto captured = build(graph);
  // The same (generic) kernels on both sides: only the capture differs.
  auto config = runtime_config({*eager, *captured}, {{"kernel_specialization", "none"}});
  auto capture = graph_capture(*captured);
  const auto addresses = state_addresses(*captured);

  constexpr int kPrompt = 8;
  constexpr int kTokens = 64;
  Tensor tokens = token_row(random_tokens(kPrompt, 5, params.vocab));
  int64_t pos = 0;
  int steps = 0;
  while (pos < kTokens) {
    const Inputs inputs = {{"tokens", tokens}, {"pos", testing::position_tensor(pos)}};
    const auto expected = eager->run(inputs);
    const auto out = captured->run(inputs);
    const RefTensor eager_logits = RefTensor::from(expected.at("logits"));
    EXPECT_LE(reference::closeness(out.at("logits"), eager_logits, 1e-5, 1e-5), 1.0)
        << "step " << steps << " at pos " << pos;
    EXPECT_EQ(out.at("next_token").to_doubles(), expected.at("next_token").to_doubles())
        << "step " << steps;
    EXPECT_EQ(state_addresses(*captured), addresses) << "step " << steps;
    pos += tokens.shape()[1];
    tokens = token_row({last_token(expected.at("next_token"))});
    ++steps;
  }
  for (const auto& [name, state] : captured->state()) {
    const RefTensor expected = RefTensor::from(eager->state().at(name));
    EXPECT_LE(reference::closeness(state, expected, 1e-5, 1e-5), 1.0) << name;
  }
  // One recording for the prompt's shape, one for the decode step's; every
  // other step replays, with the four caches bound directly.
  EXPECT_EQ(counter(*captured, "records"), 2u);
  EXPECT_EQ(counter(*captured, "replays"), static_cast<uint64_t>(steps - 2));
  EXPECT_EQ(counter(*captured, "in_place_updates"), 4u * steps);
}

}  // namespace
}  // namespace rtscope
