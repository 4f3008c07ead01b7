// Fusion at import (OnnxImportOptions::fuse): the exported decoder comes
// back as the built-in decoder's ops with the matched constants, Hugging
// Face's RMSNorm variant fuses, and altered patterns stay decomposed and
// still compute what the file says (against the float64 reference of the
// unfused import).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <string>

#include "onnx_model_builder.hpp"
#include "rtscope/half.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_export.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/reference/reference.hpp"
#include "rtscope/templates.hpp"
#include "small_decoder.hpp"

namespace rtscope {
namespace {

using Histogram = std::map<std::string, int>;

Histogram histogram(const Graph& g) {
  Histogram h;
  for (const Node& n : g.nodes) ++h[n.op];
  return h;
}

std::vector<const Node*> nodes_of(const Graph& g, const std::string& op) {
  std::vector<const Node*> found;
  for (const Node& n : g.nodes) {
    if (n.op == op) found.push_back(&n);
  }
  return found;
}

DecoderParams small_params(int64_t kv_heads, DType dtype = DType::f32) {
  return testing::small_decoder(kv_heads, /*seed=*/11, dtype);
}

using testing::export_decoder;
using testing::import_decoder;

// The f32 values of an initializer written as raw_data.
std::vector<float> raw_values(const onnx::TensorProto& t) {
  std::vector<float> v(t.raw_data().size() / sizeof(float));
  std::memcpy(v.data(), t.raw_data().data(), v.size() * sizeof(float));
  return v;
}

void set_raw(onnx::TensorProto& t, const std::vector<int64_t>& dims,
             const std::vector<float>& values) {
  t.clear_dims();
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * 4));
}

// Rewrites one initializer of the model at `path` in place.
template <typename Edit>
void edit_initializer(const std::filesystem::path& path, const std::string& name, Edit edit) {
  onnx::ModelProto model;
  {
    std::ifstream in(path, std::ios::binary);
    ASSERT_TRUE(model.ParseFromIstream(&in)) << path;
  }
  bool found = false;
  for (auto& init : *model.mutable_graph()->mutable_initializer()) {
    if (init.name() == name) {
      edit(init);
      found = true;
    }
  }
  ASSERT_TRUE(found) << name;
  std::ofstream(path, std::ios::binary) << model.SerializeAsString();
}

Tensor positions(int64_t first, int64_t count) {
  Tensor t = Tensor::empty(DType::i64, {1, count});
  for (int64_t i = 0; i < count; ++i) t.data_as<int64_t>()[i] = first + i;
  return t;
}

// A 5-token prompt through `graph` on cpu against the float64 reference
// of `semantics` (the same file imported without fusion), from empty caches.
void expect_prompt_matches(const Graph& graph, const Graph& semantics, const DecoderParams& p,
                           double tol) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(graph, registry, {.backends = {"cpu"}});
  const Tensor tokens = Tensor::random(DType::i64, {1, 5}, 5, double(p.vocab - 1));
  const auto out = model->run({{"input_ids", tokens}, {"position_ids", positions(0, 5)}});
  std::map<std::string, reference::RefTensor> states;
  const auto expected =
      reference::run_graph(semantics,
                           {{"input_ids", reference::RefTensor::from(tokens)},
                            {"position_ids", reference::RefTensor::from(positions(0, 5))}},
                           states);
  EXPECT_LE(reference::closeness(out.at("logits").to_host(), expected.at("logits"), tol, tol), 1.0);
}

struct Shape4 {
  KvCacheStyle style;
  int64_t kv_heads;
  DType dtype;
};

// Fused, the exported decoder has the built-in decoder's ops, node for
// node, except: its embedding is the export's Gather, and the step
// position comes from position_ids (a reshape of [1, 1] for a decode
// step; a slice and a reshape for a prompt). Unfused, none of the fused
// ops appear.
TEST(OnnxFusion, ExportedDecoderHasTheBuiltinOps) {
  for (const Shape4& c :
       {Shape4{KvCacheStyle::concat, 0, DType::f32}, Shape4{KvCacheStyle::fixed, 0, DType::f32},
        Shape4{KvCacheStyle::concat, 2, DType::f16}, Shape4{KvCacheStyle::fixed, 2, DType::f32},
        Shape4{KvCacheStyle::fixed, 0, DType::f16}}) {
    const DecoderParams p = small_params(c.kv_heads, c.dtype);
    SCOPED_TRACE(std::string(c.style == KvCacheStyle::concat ? "concat" : "fixed") +
                 (c.kv_heads ? " gqa " : " mha ") + std::string(to_string(c.dtype)));
    const auto path = export_decoder(p, c.style, "fusion_histogram");
    Histogram want = histogram(build_decoder(p));
    want.erase("embedding");
    ++want["gather"];
    ++want["reshape"];
    EXPECT_EQ(histogram(import_decoder(path, p, 1, true)), want);
    ++want["slice"];
    EXPECT_EQ(histogram(import_decoder(path, p, 5, true)), want);

    const Graph unfused = import_decoder(path, p, 1, false);
    for (const char* op : {"rmsnorm", "rope", "attention", "silu", "linear"}) {
      EXPECT_TRUE(nodes_of(unfused, op).empty()) << op;
    }
    EXPECT_GT(unfused.nodes.size(), 2 * build_decoder(p).nodes.size());
  }
}

// The fused ops take the constants the file was written with: rope's base
// from the cos/sin tables, rmsnorm's eps from the Add, attention's scale
// from the Mul; a prompt gives the built-in decoder's logits.
TEST(OnnxFusion, FusedOpsTakeTheMatchedConstants) {
  DecoderParams p = small_params(0);
  p.rope_theta = 500000.0;
  p.norm_eps = 1e-6;
  const auto path = export_decoder(p, KvCacheStyle::fixed, "fusion_constants");
  const Graph g = import_decoder(path, p, 5, true);
  ASSERT_EQ(nodes_of(g, "rope").size(), 4u);
  for (const Node* n : nodes_of(g, "rope")) EXPECT_EQ(std::get<double>(n->attrs.at("base")), 5e5);
  ASSERT_EQ(nodes_of(g, "rmsnorm").size(), 5u);
  for (const Node* n : nodes_of(g, "rmsnorm")) {
    EXPECT_DOUBLE_EQ(std::get<double>(n->attrs.at("eps")), static_cast<double>(1e-6f));
  }
  ASSERT_EQ(nodes_of(g, "attention").size(), 2u);
  for (const Node* n : nodes_of(g, "attention")) {
    EXPECT_NEAR(std::get<double>(n->attrs.at("scale")), 1.0 / std::sqrt(8.0), 1e-7);
  }
  const Graph builtin = build_decoder(p);
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(g, registry, {.backends = {"cpu"}});
  const Tensor tokens = Tensor::random(DType::i64, {1, 5}, 3, double(p.vocab - 1));
  const auto out = model->run({{"input_ids", tokens}, {"position_ids", positions(0, 5)}});
  Tensor pos = Tensor::empty(DType::i64, {1});
  pos.data_as<int64_t>()[0] = 0;
  std::map<std::string, reference::RefTensor> states;
  const auto expected = reference::run_graph(
      builtin,
      {{"tokens", reference::RefTensor::from(tokens)}, {"pos", reference::RefTensor::from(pos)}},
      states);
  EXPECT_LE(reference::closeness(out.at("logits").to_host(), expected.at("logits"), 1e-4, 1e-4),
            1.0);
}

// A pattern altered so that the fused op would compute something else
// stays decomposed, and the import still computes what the file says.
TEST(OnnxFusion, AlteredPatternsStayDecomposed) {
  const DecoderParams p = small_params(2);
  struct Alteration {
    const char* initializer;
    const char* kept_op;  // the fused op that must not appear
    std::function<void(onnx::TensorProto&)> edit;
  };
  const std::vector<Alteration> alterations = {
      // eps as a [D] constant (same value): not a one-element constant.
      {"/const/norm_eps", "rmsnorm",
       [&](onnx::TensorProto& t) {
         set_raw(t, {p.d_model}, std::vector<float>(static_cast<std::size_t>(p.d_model), 1e-5f));
       }},
      // One cos entry off: no base gives this table.
      {"/rope/cos_table", "rope",
       [](onnx::TensorProto& t) {
         std::vector<float> v = raw_values(t);
         v[3 * 8 + 1] += 0.01f;
         set_raw(t, {16, 8}, v);
       }},
      // A mask that only lowers future keys (-1) instead of removing them.
      {"/const/mask_lowest", "attention", [](onnx::TensorProto& t) { set_raw(t, {}, {-1.0f}); }},
  };
  for (const Alteration& a : alterations) {
    SCOPED_TRACE(a.initializer);
    const auto path = export_decoder(p, KvCacheStyle::fixed, "fusion_altered");
    edit_initializer(path, a.initializer, a.edit);
    const Graph fused = import_decoder(path, p, 5, true);
    EXPECT_TRUE(nodes_of(fused, a.kept_op).empty());
    // The other patterns still fuse.
    EXPECT_EQ(nodes_of(fused, "silu").size(), 2u);
    EXPECT_EQ(nodes_of(fused, "rmsnorm").size(), std::string(a.kept_op) == "rmsnorm" ? 0u : 5u);
    expect_prompt_matches(fused, import_decoder(path, p, 5, false), p, 1e-4);
  }
}

onnx::TensorProto& f16_initializer(testing::OnnxModelBuilder& b, const std::string& name,
                                   const std::vector<int64_t>& dims, const Tensor& values) {
  auto& t = *b.model().mutable_graph()->add_initializer();
  t.set_name(name);
  t.set_data_type(onnx::TensorProto::FLOAT16);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(static_cast<const char*>(values.data()), values.size_bytes()));
  return t;
}

// Hugging Face's LlamaRMSNorm under f16 (Cast to f32, Pow, ReduceMean,
// Add, Sqrt, Reciprocal, Mul, Cast back, weight · x), a projection with a
// bias and x·Sigmoid(x): three fused nodes, computing what the file says.
TEST(OnnxFusion, HuggingFaceRmsNormVariantFuses) {
  testing::OnnxModelBuilder b(17);
  b.input("x", {1, 3, 16}, onnx::TensorProto::FLOAT16)
      .output("y", {1, 3, 8}, onnx::TensorProto::FLOAT16);
  f16_initializer(b, "gain", {16}, Tensor::random(DType::f16, {16}, 1, 1.0));
  f16_initializer(b, "w", {16, 8}, Tensor::random(DType::f16, {16, 8}, 2, 0.25));
  f16_initializer(b, "bias", {8}, Tensor::random(DType::f16, {8}, 3, 1.0));
  b.raw_floats("two", {}, {2.0f}).raw_floats("eps", {}, {1e-5f});
  testing::set_attr(b.node("Cast", {"x"}, {"xf"}), "to", int64_t{onnx::TensorProto::FLOAT});
  b.node("Pow", {"xf", "two"}, {"sq"});
  auto& mean = b.node("ReduceMean", {"sq"}, {"ms"});
  testing::set_attr(mean, "axes", std::vector<int64_t>{-1});
  testing::set_attr(mean, "keepdims", int64_t{1});
  b.node("Add", {"ms", "eps"}, {"var"});
  b.node("Sqrt", {"var"}, {"rms"});
  b.node("Reciprocal", {"rms"}, {"inv"});
  b.node("Mul", {"xf", "inv"}, {"normed"});
  testing::set_attr(b.node("Cast", {"normed"}, {"nh"}), "to", int64_t{onnx::TensorProto::FLOAT16});
  b.node("Mul", {"gain", "nh"}, {"n"});
  b.node("MatMul", {"n", "w"}, {"h"});
  b.node("Add", {"h", "bias"}, {"hb"});
  b.node("Sigmoid", {"hb"}, {"s"});
  b.node("Mul", {"hb", "s"}, {"y"});
  const auto path = b.write(testing::fresh_dir("fusion_hf_rmsnorm"));
  OnnxImportOptions off;
  off.fuse = false;
  const Graph fused = import_onnx(path);
  const Graph unfused = import_onnx(path, off);
  EXPECT_EQ(histogram(fused), (Histogram{{"rmsnorm", 1}, {"linear", 1}, {"silu", 1}}));
  ASSERT_EQ(nodes_of(fused, "rmsnorm").size(), 1u);
  EXPECT_DOUBLE_EQ(std::get<double>(nodes_of(fused, "rmsnorm")[0]->attrs.at("eps")),
                   static_cast<double>(1e-5f));
  EXPECT_EQ(nodes_of(fused, "linear")[0]->inputs.size(), 3u) << "the bias joins the linear";

  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(fused, registry, {.backends = {"cpu"}});
  const Tensor x = Tensor::random(DType::f16, {1, 3, 16}, 9, 2.0);
  const auto out = model->run({{"x", x}});
  std::map<std::string, reference::RefTensor> states;
  const auto expected =
      reference::run_graph(unfused, {{"x", reference::RefTensor::from(x)}}, states);
  EXPECT_LE(reference::closeness(out.at("y").to_host(), expected.at("y"), 2e-2, 2e-2), 1.0);
}

// One attention block written the way Hugging Face's Llama export has it:
// heads transposed before RoPE (cos/sin [B, 1, S, Dh]), a fixed cache
// written by ScatterElements, repeat_kv as Unsqueeze/Expand/Reshape after
// the cache, scores divided by √Dh and a mask Where(keys > positions,
// lowest, 0). It fuses into two ropes between transposes and one grouped
// attention over the KV-head caches (the repeat gone), and computes what
// the unfused import computes.
TEST(OnnxFusion, HuggingFaceAttentionBlockFuses) {
  constexpr int64_t S = 3, D = 16, H = 4, KV = 2, Dh = 4, T = 8;
  testing::OnnxModelBuilder b(17);
  b.input("x", {1, S, D})
      .input("position_ids", {1, S}, onnx::TensorProto::INT64)
      .input("past_key_values.0.key", {1, KV, T, Dh})
      .input("past_key_values.0.value", {1, KV, T, Dh});
  b.output("out", {1, S, D})
      .output("present.0.key", {1, KV, T, Dh})
      .output("present.0.value", {1, KV, T, Dh});
  auto floats = [](const Tensor& t) {
    return std::vector<float>(t.data_as<float>(), t.data_as<float>() + t.numel());
  };
  b.raw_floats("wq", {D, H * Dh}, floats(Tensor::random(DType::f32, {D, H * Dh}, 1, 0.5)));
  b.raw_floats("wk", {D, KV * Dh}, floats(Tensor::random(DType::f32, {D, KV * Dh}, 2, 0.5)));
  b.raw_floats("wv", {D, KV * Dh}, floats(Tensor::random(DType::f32, {D, KV * Dh}, 3, 0.5)));
  b.raw_floats("wo", {H * Dh, D}, floats(Tensor::random(DType::f32, {H * Dh, D}, 4, 0.5)));
  std::vector<float> cos, sin;
  for (int64_t p = 0; p < T; ++p) {
    for (int64_t j = 0; j < Dh; ++j) {
      const double angle = double(p) * std::pow(10000.0, -2.0 * double(j % (Dh / 2)) / double(Dh));
      cos.push_back(static_cast<float>(std::cos(angle)));
      sin.push_back(static_cast<float>(std::sin(angle)));
    }
  }
  b.raw_floats("cos_table", {T, Dh}, cos).raw_floats("sin_table", {T, Dh}, sin);
  b.raw_floats("sqrt_dh", {}, {2.0f}).raw_floats("zero", {}, {0.0f});
  b.raw_floats("lowest", {}, {std::numeric_limits<float>::lowest()});
  std::vector<int64_t> keys(T);
  for (int64_t i = 0; i < T; ++i) keys[static_cast<std::size_t>(i)] = i;
  b.ints("keys", {T}, keys).ints("axis1", {1}, {1}).ints("axes13", {2}, {1, 3});
  b.ints("q_shape", {4}, {0, 0, H, Dh}).ints("kv_shape", {4}, {0, 0, KV, Dh});
  b.ints("rows_shape", {4}, {1, KV, S, Dh}).ints("axis2", {1}, {2});
  b.ints("expand_shape", {5}, {1, KV, H / KV, T, Dh}).ints("rep_shape", {4}, {1, H, T, Dh});
  b.ints("out_shape", {3}, {0, 0, H * Dh});
  b.ints("zero_i", {1}, {0}).ints("half", {1}, {Dh / 2}).ints("end", {1}, {Dh});
  b.ints("last", {1}, {-1});
  auto perm = [&](onnx::NodeProto& n, std::vector<int64_t> p) { testing::set_attr(n, "perm", p); };
  for (const char* f : {"cos", "sin"}) {
    b.node("Gather", {std::string(f) + "_table", "position_ids"}, {std::string(f) + "_g"});
    b.node("Unsqueeze", {std::string(f) + "_g", "axis1"}, {f});
  }
  auto heads = [&](const std::string& t, const char* w, const char* shape) {
    b.node("MatMul", {"x", w}, {t + "_p"});
    b.node("Reshape", {t + "_p", shape}, {t + "_bshd"});
    perm(b.node("Transpose", {t + "_bshd"}, {t + "_h"}), {0, 2, 1, 3});
    return t + "_h";
  };
  auto rope = [&](const std::string& t) {
    b.node("Slice", {t, "zero_i", "half", "last"}, {t + "_x1"});
    b.node("Slice", {t, "half", "end", "last"}, {t + "_x2"});
    b.node("Neg", {t + "_x2"}, {t + "_nx2"});
    testing::set_attr(b.node("Concat", {t + "_nx2", t + "_x1"}, {t + "_rot"}), "axis", int64_t{-1});
    b.node("Mul", {t, "cos"}, {t + "_c"});
    b.node("Mul", {t + "_rot", "sin"}, {t + "_s"});
    b.node("Add", {t + "_c", t + "_s"}, {t + "_r"});
    return t + "_r";
  };
  const std::string q = rope(heads("q", "wq", "q_shape"));
  const std::string k = rope(heads("k", "wk", "kv_shape"));
  const std::string v = heads("v", "wv", "kv_shape");
  b.node("Unsqueeze", {"position_ids", "axes13"}, {"qpos"});
  b.node("Expand", {"qpos", "rows_shape"}, {"rows"});
  testing::set_attr(
      b.node("ScatterElements", {"past_key_values.0.key", "rows", k}, {"present.0.key"}), "axis",
      int64_t{2});
  testing::set_attr(
      b.node("ScatterElements", {"past_key_values.0.value", "rows", v}, {"present.0.value"}),
      "axis", int64_t{2});
  for (const char* t : {"key", "value"}) {
    const std::string c = std::string("present.0.") + t;
    b.node("Unsqueeze", {c, "axis2"}, {c + "_u"});
    b.node("Expand", {c + "_u", "expand_shape"}, {c + "_e"});
    b.node("Reshape", {c + "_e", "rep_shape"}, {c + "_rep"});
  }
  perm(b.node("Transpose", {"present.0.key_rep"}, {"k_t"}), {0, 1, 3, 2});
  b.node("MatMul", {q, "k_t"}, {"scores"});
  b.node("Div", {"scores", "sqrt_dh"}, {"scaled"});
  b.node("Greater", {"keys", "qpos"}, {"future"});
  b.node("Where", {"future", "lowest", "zero"}, {"mask"});
  b.node("Add", {"scaled", "mask"}, {"masked"});
  testing::set_attr(b.node("Softmax", {"masked"}, {"probs"}), "axis", int64_t{-1});
  b.node("MatMul", {"probs", "present.0.value_rep"}, {"ctx"});
  perm(b.node("Transpose", {"ctx"}, {"ctx_t"}), {0, 2, 1, 3});
  b.node("Reshape", {"ctx_t", "out_shape"}, {"merged"});
  b.node("MatMul", {"merged", "wo"}, {"out"});
  const auto path = b.write(testing::fresh_dir("fusion_hf_attention"));

  OnnxImportOptions off;
  off.fuse = false;
  const Graph fused = import_onnx(path);
  const Graph unfused = import_onnx(path, off);
  EXPECT_EQ(nodes_of(fused, "rope").size(), 2u);
  EXPECT_EQ(nodes_of(fused, "attention").size(), 1u);
  ASSERT_EQ(nodes_of(fused, "attention").size(), 1u);
  EXPECT_DOUBLE_EQ(std::get<double>(nodes_of(fused, "attention")[0]->attrs.at("scale")), 0.5);
  for (const char* op : {"softmax", "where", "expand", "neg"}) {
    EXPECT_TRUE(nodes_of(fused, op).empty()) << op;
  }
  for (const StateBuffer& state : fused.states) {
    EXPECT_EQ(state.info.type.shape[1], Dim::fixed(KV)) << state.info.name;
  }
  ASSERT_EQ(nodes_of(fused, "attention").size(), 1u);
  for (int i : {1, 2}) {
    EXPECT_EQ(fused.values.at(nodes_of(fused, "attention")[0]->inputs[i]).shape[1], Dim::fixed(KV))
        << "the attention reads the caches' KV heads";
  }
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  auto model = Model::build(fused, registry, {.backends = {"cpu"}});
  const Tensor x = Tensor::random(DType::f32, {1, S, D}, 8, 1.0);
  const auto out = model->run({{"x", x}, {"position_ids", positions(0, S)}});
  std::map<std::string, reference::RefTensor> states;
  const auto expected =
      reference::run_graph(unfused,
                           {{"x", reference::RefTensor::from(x)},
                            {"position_ids", reference::RefTensor::from(positions(0, S))}},
                           states);
  EXPECT_LE(reference::closeness(out.at("out").to_host(), expected.at("out"), 1e-4, 1e-4), 1.0);
}

}  // namespace
}  // namespace rtscope
