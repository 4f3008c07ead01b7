// The built-in decoder exported as ONNX with past/present KV I/O
// (concat-style and a fixed in-place cache) and imported again: its pairs
// become in-place state, and a streamed prompt plus decode steps give the
// built-in decoder's logits (against the float64 reference of the built-in
// graph) and tokens, on cpu and on vulkan, eager and captured.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "onnx_model_builder.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_export.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "small_decoder.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope {
namespace {

struct Case {
  KvCacheStyle style;
  int64_t kv_heads;
  const char* backend;
  bool capture;
  DType dtype = DType::f32;
  bool fuse = true;  // OnnxImportOptions::fuse
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  return std::string(c.style == KvCacheStyle::concat ? "Concat" : "Fixed") +
         (c.kv_heads == 2 ? "Gqa" : "Mha") + "_" + c.backend + (c.capture ? "_Captured" : "") +
         (c.dtype == DType::f16 ? "_F16" : "") + (c.fuse ? "" : "_Unfused");
}

DecoderParams small_params(int64_t kv_heads, DType dtype = DType::f32) {
  return testing::small_decoder(kv_heads, /*seed=*/7, dtype);
}

Graph exported_and_imported(const DecoderParams& p, KvCacheStyle style, const std::string& dir,
                            int64_t seq = 1, bool fuse = true) {
  return testing::import_decoder(testing::export_decoder(p, style, dir), p, seq, fuse);
}

Tensor positions(int64_t first, int64_t count) {
  Tensor t = Tensor::empty(DType::i64, {1, count});
  for (int64_t i = 0; i < count; ++i) t.data_as<int64_t>()[i] = first + i;
  return t;
}

Tensor pos_scalar(int64_t pos) {
  Tensor t = Tensor::empty(DType::i64, {1});
  t.data_as<int64_t>()[0] = pos;
  return t;
}

// The caches keep the export's kv_heads (2), fused or not: fused, the
// grouped attention reads them directly, as the built-in decoder's does,
// and the export's repeat of the K/V heads is gone.
TEST(OnnxDecoderImport, PastPresentPairsBecomeInPlaceState) {
  for (const auto& [style, fuse] :
       {std::pair{KvCacheStyle::concat, false}, std::pair{KvCacheStyle::fixed, false},
        std::pair{KvCacheStyle::concat, true}, std::pair{KvCacheStyle::fixed, true}}) {
    SCOPED_TRACE(fuse ? "fused" : "unfused");
    const Graph g = exported_and_imported(small_params(2), style, "decoder_pairs", 1, fuse);
    const int64_t heads = 2;
    std::vector<std::string> inputs;
    for (const ValueInfo& in : g.inputs) inputs.push_back(in.name);
    EXPECT_THAT(inputs, ::testing::ElementsAre("input_ids", "position_ids"));
    EXPECT_THAT(g.outputs, ::testing::ElementsAre("logits", "next_token"));
    ASSERT_EQ(g.states.size(), 4u);
    for (const StateBuffer& state : g.states) {
      EXPECT_EQ(state.info.type.shape,
                (SymShape{Dim::fixed(1), Dim::fixed(heads), Dim::fixed(16), Dim::fixed(8)}))
          << state.info.name;
      const auto producer = std::find_if(g.nodes.begin(), g.nodes.end(), [&](const Node& n) {
        return n.outputs[0] == state.update_from;
      });
      ASSERT_NE(producer, g.nodes.end());
      EXPECT_EQ(producer->op, "kv_cache_update") << state.info.name;
      EXPECT_EQ(producer->inputs[0], state.info.name);
      if (!fuse) continue;
      // Fused, only the attention reads the updated cache: no repeat.
      for (const Node& reader : g.nodes) {
        if (std::find(reader.inputs.begin(), reader.inputs.end(), state.update_from) !=
            reader.inputs.end()) {
          EXPECT_EQ(reader.op, "attention") << state.info.name << " read by " << reader.name;
        }
      }
    }
    EXPECT_TRUE(g.symbols.empty());
  }
}

class OnnxDecoderStream : public ::testing::TestWithParam<Case> {};

// A 5-token prompt and 4 fed-back decode steps on the imported decoder and
// on the built-in one: logits against the float64 reference of the
// built-in graph, tokens equal, caches written in place (same storage, no
// state uploads).
TEST_P(OnnxDecoderStream, MatchesTheBuiltinDecoder) {
  const Case& c = GetParam();
  const DecoderParams p = small_params(c.kv_heads, c.dtype);
  const double tol = c.dtype == DType::f16 ? 3e-2 : 1e-4;
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  if (std::string(c.backend) == "vulkan") RTSCOPE_LOAD_VULKAN_OR_SKIP(registry);
  const Graph builtin = build_decoder(p);
  const Graph prompt_graph = exported_and_imported(p, c.style, "decoder_prompt", 5, c.fuse);
  const Graph step_graph = exported_and_imported(p, c.style, "decoder_stream", 1, c.fuse);
  // Fused, each layer runs the built-in's attention; unfused, none does.
  for (const Graph* g : {&prompt_graph, &step_graph}) {
    EXPECT_EQ(std::count_if(g->nodes.begin(), g->nodes.end(),
                            [](const Node& n) { return n.op == "attention"; }),
              c.fuse ? p.layers : 0);
  }
  auto prompt = Model::build(prompt_graph, registry, {.backends = {c.backend, "cpu"}});
  auto imported = Model::build(step_graph, registry, {.backends = {c.backend, "cpu"}});
  // The decode steps continue in the prompt's caches.
  imported->share_state(*prompt);
  auto native = Model::build(builtin, registry, {.backends = {c.backend, "cpu"}});
  std::unique_ptr<RuntimeConfigScope> capture;
  if (c.capture) capture = std::make_unique<RuntimeConfigScope>(graph_capture(*imported));

  std::map<std::string, reference::RefTensor> ref_states;
  Tensor tokens = Tensor::random(DType::i64, {1, 5}, 77, double(p.vocab - 1));
  const void* cache = prompt->state().at("past_key_values.1.value").data();
  int64_t pos = 0;
  for (int step = 0; step < 5; ++step) {
    const int64_t seq = tokens.shape()[1];
    Model& step_model = step == 0 ? *prompt : *imported;
    const auto out = step_model.run({{"input_ids", tokens}, {"position_ids", positions(pos, seq)}});
    const auto want = native->run({{"tokens", tokens}, {"pos", pos_scalar(pos)}});
    const auto expected =
        reference::run_graph(builtin,
                             {{"tokens", reference::RefTensor::from(tokens)},
                              {"pos", reference::RefTensor::from(pos_scalar(pos))}},
                             ref_states);
    const Tensor logits = out.at("logits").to_host();
    EXPECT_LE(reference::closeness(logits, expected.at("logits"), tol, tol), 1.0)
        << "step " << step;
    EXPECT_EQ(out.at("next_token").to_host().to_doubles(),
              want.at("next_token").to_host().to_doubles())
        << "step " << step;
    EXPECT_EQ(step_model.state().at("past_key_values.1.value").data(), cache)
        << "the cache must stay where it is";
    pos += seq;
    const Tensor next = out.at("next_token").to_host();
    tokens = Tensor::empty(DType::i64, {1, 1});
    tokens.data_as<int64_t>()[0] = next.data_as<int64_t>()[next.numel() - 1];
  }
  EXPECT_EQ(imported->stats().state_upload_bytes + prompt->stats().state_upload_bytes, 0u)
      << "a step must not copy the KV cache";
  if (std::string(c.backend) == "vulkan" && !c.capture) {
    // Fused, the Vulkan plugin's own fusions (rmsnorm into projections,
    // gated products, rope into projections, residual adds) fire as on
    // the built-in decoder: the same steps, the same counts.
    for (const char* name :
         {"fused_row_norms", "fused_gated_products", "fused_ropes", "fused_residual_adds"}) {
      const uint64_t ours = vulkan_testing::counter(*prompt->modules()[0], name) +
                            vulkan_testing::counter(*imported->modules()[0], name);
      const uint64_t builtin_count = vulkan_testing::counter(*native->modules()[0], name);
      if (c.fuse) {
        EXPECT_EQ(ours, builtin_count) << name;
        EXPECT_GT(builtin_count, 0u) << name;
      } else {
        EXPECT_EQ(ours, 0u) << name;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Styles, OnnxDecoderStream,
    ::testing::Values(Case{KvCacheStyle::concat, 0, "cpu", false},
                      Case{KvCacheStyle::fixed, 0, "cpu", false},
                      Case{KvCacheStyle::concat, 2, "cpu", false},
                      Case{KvCacheStyle::fixed, 2, "cpu", true},
                      Case{KvCacheStyle::fixed, 0, "cpu", false, DType::f16},
                      Case{KvCacheStyle::concat, 2, "cpu", false, DType::f16},
                      Case{KvCacheStyle::concat, 0, "cpu", false, DType::f32, false},
                      Case{KvCacheStyle::fixed, 2, "cpu", true, DType::f16, false}),
    case_name);

#ifdef RTSCOPE_HAVE_VULKAN_PLUGIN
INSTANTIATE_TEST_SUITE_P(
    VulkanStyles, OnnxDecoderStream,
    ::testing::Values(Case{KvCacheStyle::concat, 2, "vulkan", false},
                      Case{KvCacheStyle::fixed, 0, "vulkan", true},
                      Case{KvCacheStyle::fixed, 2, "vulkan", false, DType::f16},
                      Case{KvCacheStyle::concat, 0, "vulkan", false, DType::f32, false}),
    case_name);
#endif

// A declared pair whose new rows do not fit the cache: one line naming both.
TEST(OnnxDecoderImport, MismatchedPairIsNamed) {
  testing::OnnxModelBuilder b(17);
  b.input("past", {1, 2, 8, 4})
      .input("rows", {1, 3, 1, 4})
      .input("idx", {1, 3, 1, 4}, onnx::TensorProto::INT64);
  b.input("position_ids", {1, 1}, onnx::TensorProto::INT64);
  testing::set_attr(b.node("ScatterElements", {"past", "idx", "rows"}, {"present"}), "axis",
                    int64_t{2});
  b.output("present", {1, 2, 8, 4});
  const auto path = b.write(testing::fresh_dir("decoder_mismatch"));
  OnnxImportOptions options;
  options.alias["present"] = "past";
  options.check = false;
  try {
    import_onnx(path, options);
    FAIL() << "imported";
  } catch (const InputError& e) {
    const std::string text = e.what();
    EXPECT_THAT(text, ::testing::HasSubstr("'present' cannot alias 'past'"));
    EXPECT_THAT(text, ::testing::HasSubstr("f32[1,3,1,4] but the cache is f32[1,2,8,4]"));
    EXPECT_EQ(text.find('\n'), std::string::npos);
  }
}

// A declared pair that is no update of its past, and a concat-style cache
// without a size, are named too.
TEST(OnnxDecoderImport, UnaliasablePairsAreNamed) {
  testing::OnnxModelBuilder b(17);
  b.input("past", {1, 2, -1, 4}, onnx::TensorProto::FLOAT, "past_len")
      .input("rows", {1, 2, 1, 4})
      .input("position_ids", {1, 1}, onnx::TensorProto::INT64);
  b.node("Add", {"rows", "rows"}, {"other"});
  testing::set_attr(b.node("Concat", {"past", "rows"}, {"present"}), "axis", int64_t{2});
  b.output("present", {1, 2, -1, 4}).output("other", {1, 2, 1, 4});
  const auto path = b.write(testing::fresh_dir("decoder_unaliasable"));
  OnnxImportOptions declared;
  declared.alias["other"] = "past";
  EXPECT_THAT([&] { import_onnx(path, declared); },
              ::testing::ThrowsMessage<InputError>(::testing::HasSubstr(
                  "'other' cannot alias 'past': node 'Add1' (Add) is not a Concat")));
  EXPECT_THAT([&] { import_onnx(path); }, ::testing::ThrowsMessage<InputError>(::testing::AllOf(
                                              ::testing::HasSubstr("'present' cannot alias 'past'"),
                                              ::testing::HasSubstr("--shapes past:1x2x256x4"))));
}

}  // namespace
}  // namespace rtscope
