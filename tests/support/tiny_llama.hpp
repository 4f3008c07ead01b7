// A tiny Hugging Face Llama checkpoint written at test time (config.json and
// one or more safetensors files of seeded random weights, stored as F32,
// F16 or BF16), and an independent float64 Llama forward pass over the
// stored values: RMSNorm, rotate-half RoPE with rope_theta, grouped-query
// causal attention, SwiGLU MLP and a tied or separate LM head, written from
// the Llama definition rather than from rtscope's graph.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "rtscope/half.hpp"

namespace rtscope::testing {

struct TinyLlama {
  int64_t hidden = 32, intermediate = 48;
  int64_t layers = 2;
  int64_t heads = 4, kv_heads = 2;  // two query heads per KV head
  int64_t vocab = 61, max_positions = 64;
  double rms_norm_eps = 1e-5;
  double rope_theta = 500.0;  // far from 10000, so a default base shows
  bool tied = false;
  std::string dtype = "F32";  // storage: F32, F16 or BF16
  int shards = 1;             // > 1 writes model.safetensors.index.json
  uint64_t seed = 5;

  int64_t head_dim() const { return hidden / heads; }
  std::string torch_dtype() const {
    return dtype == "F32" ? "float32" : dtype == "F16" ? "float16" : "bfloat16";
  }
};

// Values rounded to what the storage dtype holds, so the reference sees
// exactly the checkpoint's numbers.
inline double stored_value(const std::string& dtype, double value) {
  if (dtype == "F32") return static_cast<float>(value);
  if (dtype == "F16") return half_to_float(float_to_half(static_cast<float>(value)));
  // bf16: round to nearest even on the top 16 bits of the f32.
  uint32_t bits = std::bit_cast<uint32_t>(static_cast<float>(value));
  bits += 0x7FFF + ((bits >> 16) & 1);
  return std::bit_cast<float>(bits & 0xFFFF0000u);
}

inline void append_stored(std::string& out, const std::string& dtype, double value) {
  if (dtype == "I32") {  // for tests of a weight with a non-float dtype
    const auto i = static_cast<int32_t>(value * 100);
    out.append(reinterpret_cast<const char*>(&i), 4);
    return;
  }
  if (dtype == "F32") {
    const float f = static_cast<float>(value);
    out.append(reinterpret_cast<const char*>(&f), 4);
    return;
  }
  uint16_t bits =
      dtype == "F16"
          ? float_to_half(static_cast<float>(value))
          : static_cast<uint16_t>(std::bit_cast<uint32_t>(static_cast<float>(value)) >> 16);
  out.append(reinterpret_cast<const char*>(&bits), 2);
}

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<double> values;  // as stored
};

// The checkpoint's tensors with Hugging Face names and [out, in] layout.
inline std::vector<NamedTensor> tiny_llama_tensors(const TinyLlama& c) {
  std::mt19937_64 rng(c.seed);
  std::uniform_real_distribution<double> unit(-1.0, 1.0);
  std::vector<NamedTensor> out;
  auto add = [&](std::string name, std::vector<int64_t> shape, double scale, double offset) {
    int64_t count = 1;
    for (int64_t d : shape) count *= d;
    NamedTensor t{std::move(name), std::move(shape), {}};
    for (int64_t i = 0; i < count; ++i) {
      t.values.push_back(stored_value(c.dtype, offset + scale * unit(rng)));
    }
    out.push_back(std::move(t));
  };
  const int64_t d = c.hidden;
  const int64_t kv = c.kv_heads * c.head_dim();
  const double proj = 1.0 / std::sqrt(static_cast<double>(d));
  add("model.embed_tokens.weight", {c.vocab, d}, 1.0, 0.0);
  for (int64_t l = 0; l < c.layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {d}, 0.1, 1.0);
    add(p + "self_attn.q_proj.weight", {d, d}, proj, 0.0);
    add(p + "self_attn.k_proj.weight", {kv, d}, proj, 0.0);
    add(p + "self_attn.v_proj.weight", {kv, d}, proj, 0.0);
    add(p + "self_attn.o_proj.weight", {d, d}, proj, 0.0);
    add(p + "post_attention_layernorm.weight", {d}, 0.1, 1.0);
    add(p + "mlp.gate_proj.weight", {c.intermediate, d}, proj, 0.0);
    add(p + "mlp.up_proj.weight", {c.intermediate, d}, proj, 0.0);
    add(p + "mlp.down_proj.weight", {d, c.intermediate},
        1.0 / std::sqrt(static_cast<double>(c.intermediate)), 0.0);
  }
  add("model.norm.weight", {d}, 0.1, 1.0);
  if (!c.tied) add("lm_head.weight", {c.vocab, d}, proj, 0.0);
  return out;
}

// One safetensors file of `tensors` with dtype `dtype` (`dtypes` overrides
// it per tensor name).
inline void write_safetensors(const std::filesystem::path& path,
                              const std::vector<const NamedTensor*>& tensors,
                              const std::string& dtype,
                              const std::map<std::string, std::string>& dtypes = {}) {
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  header["__metadata__"] = {{"format", "pt"}};
  std::string data;
  for (const NamedTensor* t : tensors) {
    const auto found = dtypes.find(t->name);
    const std::string& type = found == dtypes.end() ? dtype : found->second;
    const std::size_t begin = data.size();
    for (double v : t->values) append_stored(data, type, v);
    header[t->name] = {
        {"dtype", type}, {"shape", t->shape}, {"data_offsets", {begin, data.size()}}};
  }
  std::string text = header.dump();
  while (text.size() % 8 != 0) text.push_back(' ');  // tensors start 8-byte aligned
  std::ofstream out(path, std::ios::binary);
  const uint64_t length = text.size();
  out.write(reinterpret_cast<const char*>(&length), 8);
  out << text << data;
}

// config.json's sizes and the fields that hold them.
inline constexpr std::pair<const char*, int64_t TinyLlama::*> kConfigSizes[] = {
    {"hidden_size", &TinyLlama::hidden},
    {"intermediate_size", &TinyLlama::intermediate},
    {"num_hidden_layers", &TinyLlama::layers},
    {"num_attention_heads", &TinyLlama::heads},
    {"num_key_value_heads", &TinyLlama::kv_heads},
    {"vocab_size", &TinyLlama::vocab},
    {"max_position_embeddings", &TinyLlama::max_positions}};

inline nlohmann::json tiny_llama_config(const TinyLlama& c) {
  nlohmann::json config = {{"architectures", {"LlamaForCausalLM"}},
                           {"model_type", "llama"},
                           {"rms_norm_eps", c.rms_norm_eps},
                           {"rope_theta", c.rope_theta},
                           {"tie_word_embeddings", c.tied},
                           {"hidden_act", "silu"},
                           {"attention_bias", false},
                           {"rope_scaling", nullptr},
                           {"torch_dtype", c.torch_dtype()}};
  for (const auto& [key, size] : kConfigSizes) config[key] = c.*size;
  return config;
}

inline void write_json(const std::filesystem::path& path, const nlohmann::json& value) {
  std::ofstream(path) << value.dump(2);
}

// Writes the checkpoint into `dir` and returns its tensors.
inline std::vector<NamedTensor> write_tiny_llama(const std::filesystem::path& dir,
                                                 const TinyLlama& c) {
  std::vector<NamedTensor> tensors = tiny_llama_tensors(c);
  write_json(dir / "config.json", tiny_llama_config(c));
  if (c.shards <= 1) {
    std::vector<const NamedTensor*> all;
    for (const auto& t : tensors) all.push_back(&t);
    write_safetensors(dir / "model.safetensors", all, c.dtype);
    return tensors;
  }
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  for (int s = 0; s < c.shards; ++s) {
    const std::string file = "model-0000" + std::to_string(s + 1) + "-of-0000" +
                             std::to_string(c.shards) + ".safetensors";
    std::vector<const NamedTensor*> part;
    for (std::size_t i = s; i < tensors.size(); i += static_cast<std::size_t>(c.shards)) {
      part.push_back(&tensors[i]);
      index["weight_map"][tensors[i].name] = file;
    }
    write_safetensors(dir / file, part, c.dtype);
  }
  write_json(dir / "model.safetensors.index.json", index);
  return tensors;
}

// The float64 Llama forward pass, one position at a time with its own KV
// cache (batch 1).
class LlamaReference {
 public:
  LlamaReference(const TinyLlama& c, const std::vector<NamedTensor>& tensors) : c_(c) {
    for (const auto& t : tensors) w_[t.name] = t.values;
    k_.resize(c.layers);
    v_.resize(c.layers);
  }

  // Logits [vocab] after feeding `token` at the next position.
  std::vector<double> step(int64_t token) {
    const int64_t d = c_.hidden;
    const int64_t pos = static_cast<int64_t>(k_[0].size());
    const auto& embed = w_.at("model.embed_tokens.weight");
    std::vector<double> x(embed.begin() + token * d, embed.begin() + (token + 1) * d);
    for (int64_t l = 0; l < c_.layers; ++l) {
      const std::string p = "model.layers." + std::to_string(l) + ".";
      const std::vector<double> h = rmsnorm(x, w_.at(p + "input_layernorm.weight"));
      std::vector<double> q = matvec(p + "self_attn.q_proj.weight", h);
      std::vector<double> k = matvec(p + "self_attn.k_proj.weight", h);
      const std::vector<double> v = matvec(p + "self_attn.v_proj.weight", h);
      rope(q, c_.heads, pos);
      rope(k, c_.kv_heads, pos);
      k_[l].push_back(k);
      v_[l].push_back(v);
      const std::vector<double> ctx = attend(q, l);
      add(x, matvec(p + "self_attn.o_proj.weight", ctx));
      const std::vector<double> h2 = rmsnorm(x, w_.at(p + "post_attention_layernorm.weight"));
      std::vector<double> gate = matvec(p + "mlp.gate_proj.weight", h2);
      const std::vector<double> up = matvec(p + "mlp.up_proj.weight", h2);
      for (std::size_t i = 0; i < gate.size(); ++i) {
        gate[i] = gate[i] / (1.0 + std::exp(-gate[i])) * up[i];
      }
      add(x, matvec(p + "mlp.down_proj.weight", gate));
    }
    const std::vector<double> xf = rmsnorm(x, w_.at("model.norm.weight"));
    return matvec(c_.tied ? "model.embed_tokens.weight" : "lm_head.weight", xf);
  }

 private:
  std::vector<double> rmsnorm(const std::vector<double>& x, const std::vector<double>& gain) const {
    double sum = 0;
    for (double v : x) sum += v * v;
    const double inv = 1.0 / std::sqrt(sum / static_cast<double>(x.size()) + c_.rms_norm_eps);
    std::vector<double> out(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) out[i] = x[i] * inv * gain[i];
    return out;
  }

  // W [out, in] · x, as nn.Linear computes.
  std::vector<double> matvec(const std::string& name, const std::vector<double>& x) const {
    const auto& w = w_.at(name);
    const std::size_t in = x.size();
    std::vector<double> out(w.size() / in);
    for (std::size_t o = 0; o < out.size(); ++o) {
      double sum = 0;
      for (std::size_t i = 0; i < in; ++i) sum += w[o * in + i] * x[i];
      out[o] = sum;
    }
    return out;
  }

  // Rotate-half RoPE on each head of x.
  void rope(std::vector<double>& x, int64_t heads, int64_t pos) const {
    const int64_t dh = c_.head_dim();
    const int64_t half = dh / 2;
    for (int64_t h = 0; h < heads; ++h) {
      double* v = x.data() + h * dh;
      for (int64_t i = 0; i < half; ++i) {
        const double theta = static_cast<double>(pos) *
                             std::pow(c_.rope_theta, -2.0 * static_cast<double>(i) / double(dh));
        const double a = v[i];
        const double b = v[i + half];
        v[i] = a * std::cos(theta) - b * std::sin(theta);
        v[i + half] = b * std::cos(theta) + a * std::sin(theta);
      }
    }
  }

  // Causal attention of the newest position over the cache; query head h
  // reads K/V head h / (heads / kv_heads).
  std::vector<double> attend(const std::vector<double>& q, int64_t layer) const {
    const int64_t dh = c_.head_dim();
    const int64_t group = c_.heads / c_.kv_heads;
    const auto& keys = k_[layer];
    const auto& values = v_[layer];
    std::vector<double> out(q.size(), 0.0);
    for (int64_t h = 0; h < c_.heads; ++h) {
      const int64_t kvh = h / group;
      std::vector<double> scores;
      double top = -INFINITY;
      for (const auto& k : keys) {
        double dot = 0;
        for (int64_t i = 0; i < dh; ++i) dot += q[h * dh + i] * k[kvh * dh + i];
        scores.push_back(dot / std::sqrt(static_cast<double>(dh)));
        top = std::max(top, scores.back());
      }
      double total = 0;
      for (double& s : scores) total += (s = std::exp(s - top));
      for (std::size_t j = 0; j < keys.size(); ++j) {
        for (int64_t i = 0; i < dh; ++i) {
          out[h * dh + i] += scores[j] / total * values[j][kvh * dh + i];
        }
      }
    }
    return out;
  }

  static void add(std::vector<double>& x, const std::vector<double>& y) {
    for (std::size_t i = 0; i < x.size(); ++i) x[i] += y[i];
  }

  TinyLlama c_;
  std::map<std::string, std::vector<double>> w_;
  std::vector<std::vector<std::vector<double>>> k_, v_;  // [layer][pos][kv_heads * head_dim]
};

}  // namespace rtscope::testing
