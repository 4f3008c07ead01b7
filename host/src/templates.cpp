// The built-in `mlp` template and build_template(), which builds either
// template from string parameters as written in YAML configs.
#include "rtscope/templates.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "graph_builder.hpp"
#include "rtscope/error.hpp"
#include "template_params.hpp"
#include "template_size.hpp"

namespace rtscope {
namespace {

constexpr const char* kMlpOrigin = "builtin:mlp";

const TemplateParams kMlpParams{kMlpOrigin};

void check_mlp(const MlpParams& p) {
  for (const auto& [name, value] :
       {std::pair{"layers", p.layers}, std::pair{"d_in", p.d_in}, std::pair{"hidden", p.hidden},
        std::pair{"d_out", p.d_out}, std::pair{"max_batch", p.max_batch}}) {
    kMlpParams.require_positive(name, value);
  }
  kMlpParams.require_float(p.dtype);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : ", ") + item;
  return out;
}

// One named template parameter and how to store its parsed value.
struct Param {
  std::string name;
  std::function<void(const std::string& value)> set;
};

int64_t parse_int(const std::string& tmpl, const std::string& name, const std::string& value) {
  int64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    throw InputError(fmt::format("template '{}': parameter '{}' must be an integer; got '{}'", tmpl,
                                 name, value));
  }
  return out;
}

uint64_t parse_seed(const std::string& tmpl, const std::string& value) {
  uint64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    throw InputError(fmt::format(
        "template '{}': parameter 'seed' must be a non-negative integer; got '{}'", tmpl, value));
  }
  return out;
}

DType parse_dtype(const std::string& tmpl, const std::string& value) {
  for (DType d : {DType::f32, DType::f16}) {
    if (to_string(d) == value) return d;
  }
  throw InputError(fmt::format("template '{}': parameter 'dtype' must be one of f32, f16; got '{}'",
                               tmpl, value));
}

double parse_real(const std::string& tmpl, const std::string& name, const std::string& value) {
  double out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
    throw InputError(
        fmt::format("template '{}': parameter '{}' must be a number; got '{}'", tmpl, name, value));
  }
  return out;
}

bool parse_bool(const std::string& tmpl, const std::string& name, const std::string& value) {
  if (value == "true") return true;
  if (value == "false") return false;
  throw InputError(fmt::format("template '{}': parameter '{}' must be true or false; got '{}'",
                               tmpl, name, value));
}

Param int_param(const std::string& tmpl, const std::string& name, int64_t& field) {
  return Param{name,
               [tmpl, name, &field](const std::string& v) { field = parse_int(tmpl, name, v); }};
}

void apply(const std::string& tmpl, const std::vector<Param>& accepted,
           const std::map<std::string, std::string>& params) {
  for (const auto& entry : params) {
    // Named, not a structured binding: clang (the fuzz build) cannot
    // capture those in a lambda before C++20's P1091 support.
    const std::string& key = entry.first;
    const std::string& value = entry.second;
    auto it = std::find_if(accepted.begin(), accepted.end(),
                           [&key](const Param& p) { return p.name == key; });
    if (it == accepted.end()) {
      std::vector<std::string> names;
      for (const Param& p : accepted) names.push_back(p.name);
      throw InputError(fmt::format("template '{}': unknown parameter '{}'; valid parameters: {}",
                                   tmpl, key, join(names)));
    }
    it->set(value);
  }
}

}  // namespace

Graph build_mlp(const MlpParams& params) {
  check_mlp(params);
  const MlpParams& p = params;
  // Everything the model allocates, checked before a node is built.
  TemplateSize size(kMlpOrigin, p.dtype);
  if (p.layers == 1) {
    size.add("layers.0.weight", {p.d_in, p.d_out});
  } else {
    size.add("layers.0.weight", {p.d_in, p.hidden});
    size.add("layers.*.weight", {p.hidden, p.hidden}, p.layers - 2);
    size.add(fmt::format("layers.{}.weight", p.layers - 1), {p.hidden, p.d_out});
  }
  size.check();
  GraphBuilder g("mlp", kMlpOrigin);
  g.symbol("batch", SymbolRange{1, p.max_batch, p.max_batch});
  g.input("x", p.dtype, {Dim::named("batch"), Dim::fixed(p.d_in)});
  std::string x = "x";
  for (int64_t i = 0; i < p.layers; ++i) {
    const bool last = i + 1 == p.layers;
    const int64_t in = i == 0 ? p.d_in : p.hidden;
    const int64_t out = last ? p.d_out : p.hidden;
    const std::string prefix = fmt::format("layers.{}.", i);
    // Uniform with scale 1/sqrt(fan_in) keeps activations of order one.
    g.weight(prefix + "weight", p.dtype, {in, out},
             seeded_init(p.seed, 1.0 / std::sqrt(static_cast<double>(in))));
    x = g.node(prefix + "linear", "linear", {x, prefix + "weight"}, last ? "y" : prefix + "pre");
    if (!last) x = g.node(prefix + "relu", "relu", {x}, prefix + "act");
  }
  g.output("y");
  return g.finish();
}

DecoderParams decoder_params(const std::map<std::string, std::string>& params) {
  const std::string name = "decoder";
  DecoderParams p;
  apply(name,
        {int_param(name, "layers", p.layers), int_param(name, "d_model", p.d_model),
         int_param(name, "heads", p.heads), int_param(name, "kv_heads", p.kv_heads),
         int_param(name, "ffn", p.ffn), int_param(name, "vocab", p.vocab),
         int_param(name, "max_seq", p.max_seq), int_param(name, "batch", p.batch),
         Param{"rope_theta",
               [&](const std::string& v) { p.rope_theta = parse_real(name, "rope_theta", v); }},
         Param{"norm_eps",
               [&](const std::string& v) { p.norm_eps = parse_real(name, "norm_eps", v); }},
         Param{"tied_embeddings",
               [&](const std::string& v) {
                 p.tied_embeddings = parse_bool(name, "tied_embeddings", v);
               }},
         Param{"dtype", [&](const std::string& v) { p.dtype = parse_dtype(name, v); }},
         Param{"seed", [&](const std::string& v) { p.seed = parse_seed(name, v); }}},
        params);
  return p;
}

Graph build_template(const std::string& name, const std::map<std::string, std::string>& params) {
  if (name == "mlp") {
    MlpParams p;
    apply(name,
          {int_param(name, "layers", p.layers), int_param(name, "d_in", p.d_in),
           int_param(name, "hidden", p.hidden), int_param(name, "d_out", p.d_out),
           int_param(name, "max_batch", p.max_batch),
           Param{"dtype", [&](const std::string& v) { p.dtype = parse_dtype(name, v); }},
           Param{"seed", [&](const std::string& v) { p.seed = parse_seed(name, v); }}},
          params);
    return build_mlp(p);
  }
  if (name == "decoder") return build_decoder(decoder_params(params));
  throw InputError(fmt::format("unknown template '{}'; valid templates: mlp, decoder", name));
}

}  // namespace rtscope
