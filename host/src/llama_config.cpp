// read_llama_config(), llama_load_options() and llama_decoder_params(): from
// a checkpoint's config.json to the decoder template's parameters.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>

#include "regular_file.hpp"
#include "rtscope/error.hpp"
#include "rtscope/llama_checkpoint.hpp"

namespace rtscope {
namespace {

using nlohmann::json;

// Longest KV cache given without asking: long-context models declare
// 128k positions, whose caches would take more memory than the weights.
constexpr int64_t kDefaultMaxSeqCap = 4096;
constexpr uint64_t kMaxConfigBytes = 16u << 20;

class ConfigReader {
 public:
  explicit ConfigReader(std::filesystem::path path) : path_(std::move(path)) {
    const RegularFile file(path_);
    if (file.missing()) {
      fail(
          "not found; a Hugging Face checkpoint folder has config.json next to its "
          "*.safetensors files");
    }
    if (!file.is_open()) fail(file.problem());
    if (file.size() > kMaxConfigBytes) {
      fail(fmt::format("is {} bytes; a config.json is a few kB (at most {} accepted)", file.size(),
                       kMaxConfigBytes));
    }
    std::string text(static_cast<std::size_t>(file.size()), '\0');
    if (!file.read_all(text.data(), text.size())) fail("could not be read in full");
    config_ = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (config_.is_discarded()) fail("is not valid JSON");
    if (!config_.is_object()) fail("must be a JSON object");
  }

  [[noreturn]] void fail(const std::string& message) const {
    throw InputError(fmt::format("{}: {}", path_.string(), message));
  }
  [[noreturn]] void fail_key(const std::string& key, const std::string& message) const {
    fail(fmt::format("'{}' {}", key, message));
  }

  const json* find(const std::string& key) const {
    const auto found = config_.find(key);
    return found == config_.end() || found->is_null() ? nullptr : &*found;
  }

  int64_t positive(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const {
    const json* value = find(key);
    if (!value) {
      if (fallback) return *fallback;
      fail_key(key, "is missing; a Llama config.json gives it");
    }
    if (!value->is_number_integer() || value->get<int64_t>() < 1) {
      fail_key(key, "must be an integer >= 1; got " + value->dump());
    }
    return value->get<int64_t>();
  }

  double real(const std::string& key, double fallback, bool allow_zero) const {
    const json* value = find(key);
    if (!value) return fallback;
    if (!value->is_number() || !std::isfinite(value->get<double>()) || value->get<double>() < 0.0 ||
        (!allow_zero && value->get<double>() == 0.0)) {
      fail_key(key, std::string("must be a finite number ") + (allow_zero ? ">= 0" : "> 0") +
                        "; got " + value->dump());
    }
    return value->get<double>();
  }

  bool boolean(const std::string& key, bool fallback) const {
    const json* value = find(key);
    if (!value) return fallback;
    if (!value->is_boolean()) fail_key(key, "must be true or false; got " + value->dump());
    return value->get<bool>();
  }

  std::string string(const std::string& key, const std::string& fallback) const {
    const json* value = find(key);
    if (!value) return fallback;
    if (!value->is_string()) fail_key(key, "must be a string; got " + value->dump());
    return value->get<std::string>();
  }

  void check_architecture() const {
    if (const json* archs = find("architectures")) {
      if (!archs->is_array()) fail_key("architectures", "must be a list of names");
      for (const json& arch : *archs) {
        if (arch == "LlamaForCausalLM") return;
      }
      fail_key("architectures", fmt::format("is {}; rtscope loads LlamaForCausalLM checkpoints "
                                            "only",
                                            archs->dump()));
    }
    const std::string type = string("model_type", "");
    if (type != "llama") {
      fail(
          fmt::format("names no architecture (model_type '{}'); rtscope loads LlamaForCausalLM "
                      "checkpoints only (model_type llama)",
                      type));
    }
  }

  // Features of other Llama variants whose weights would load but whose
  // outputs would silently differ.
  void check_unsupported() const {
    for (const char* key : {"rope_scaling", "rope_parameters"}) check_plain_rope(key);
    for (const char* key : {"attention_bias", "mlp_bias"}) {
      if (boolean(key, false)) fail_key(key, "is true; biases are not supported");
    }
    const std::string act = string("hidden_act", "silu");
    if (act != "silu") fail_key("hidden_act", fmt::format("is '{}'; only silu is supported", act));
  }

  // Newer transformers write RoPE settings as a map (`rope_parameters`,
  // or `rope_scaling` in some versions) whose rope_type "default" is plain
  // RoPE; any other type (llama3, linear, yarn, ...) scales positions.
  void check_plain_rope(const std::string& key) const {
    const json* rope = find(key);
    if (!rope) return;
    const json* type = nullptr;
    if (rope->is_object()) {
      for (const char* name : {"rope_type", "type"}) {
        if (rope->contains(name)) type = &(*rope)[name];
      }
    }
    if (!type || *type != "default") {
      fail_key(key, fmt::format("is {}; only plain RoPE (rope_type default) is supported",
                                rope->dump()));
    }
  }

  // rope_theta at the top level or inside the RoPE map of newer versions.
  double rope_theta() const {
    for (const char* key : {"rope_parameters", "rope_scaling"}) {
      const json* rope = find(key);
      if (rope && rope->is_object() && rope->contains("rope_theta")) {
        const json& value = (*rope)["rope_theta"];
        if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() <= 0) {
          fail_key(std::string(key) + ".rope_theta",
                   "must be a finite number > 0; got " + value.dump());
        }
        return value.get<double>();
      }
    }
    return real("rope_theta", 10000.0, /*allow_zero=*/false);
  }

 private:
  std::filesystem::path path_;
  json config_;
};

DType parse_dtype(const std::string& value) {
  if (value == "f32") return DType::f32;
  if (value == "f16") return DType::f16;
  throw InputError(
      fmt::format("checkpoint: parameter 'dtype' must be f32 or f16; got '{}'", value));
}

int64_t parse_int(const std::string& key, const std::string& value) {
  int64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (value.empty() || ec != std::errc() || end != value.data() + value.size() || out < 1) {
    throw InputError(
        fmt::format("checkpoint: parameter '{}' must be an integer >= 1; got '{}'", key, value));
  }
  return out;
}

}  // namespace

LlamaConfig read_llama_config(const std::filesystem::path& dir) {
  const ConfigReader reader(dir / "config.json");
  reader.check_architecture();
  reader.check_unsupported();
  LlamaConfig c;
  c.hidden_size = reader.positive("hidden_size");
  c.intermediate_size = reader.positive("intermediate_size");
  c.num_hidden_layers = reader.positive("num_hidden_layers");
  c.num_attention_heads = reader.positive("num_attention_heads");
  c.num_key_value_heads = reader.positive("num_key_value_heads", c.num_attention_heads);
  c.vocab_size = reader.positive("vocab_size");
  c.max_position_embeddings = reader.positive("max_position_embeddings", 2048);
  c.rms_norm_eps = reader.real("rms_norm_eps", 1e-6, /*allow_zero=*/true);
  c.rope_theta = reader.rope_theta();
  c.tie_word_embeddings = reader.boolean("tie_word_embeddings", false);
  // Newer transformers write `dtype` where older ones wrote `torch_dtype`.
  c.torch_dtype = reader.string("torch_dtype", reader.string("dtype", "float32"));
  if (c.torch_dtype != "float32" && c.torch_dtype != "float16" && c.torch_dtype != "bfloat16") {
    reader.fail_key("torch_dtype",
                    fmt::format("is '{}'; valid: float32, float16, bfloat16", c.torch_dtype));
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    reader.fail(fmt::format("hidden_size {} is not a multiple of num_attention_heads {}",
                            c.hidden_size, c.num_attention_heads));
  }
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    reader.fail(fmt::format("num_attention_heads {} is not a multiple of num_key_value_heads {}",
                            c.num_attention_heads, c.num_key_value_heads));
  }
  const int64_t head_dim = reader.positive("head_dim", c.hidden_size / c.num_attention_heads);
  if (head_dim != c.hidden_size / c.num_attention_heads) {
    reader.fail_key("head_dim", fmt::format("is {}; only hidden_size / num_attention_heads = {} "
                                            "is supported",
                                            head_dim, c.hidden_size / c.num_attention_heads));
  }
  return c;
}

LlamaLoadOptions llama_load_options(const std::map<std::string, std::string>& params) {
  LlamaLoadOptions options;
  for (const auto& [key, value] : params) {
    if (key == "dtype") {
      options.dtype = parse_dtype(value);
    } else if (key == "max_seq") {
      options.max_seq = parse_int(key, value);
    } else if (key == "batch") {
      options.batch = parse_int(key, value);
    } else {
      throw InputError(fmt::format(
          "checkpoint: unknown parameter '{}'; with 'weights' the sizes come from config.json and "
          "the valid parameters are: dtype, max_seq, batch",
          key));
    }
  }
  return options;
}

DecoderParams llama_decoder_params(const LlamaConfig& config, const LlamaLoadOptions& options) {
  if (options.max_seq > config.max_position_embeddings) {
    throw InputError(
        fmt::format("checkpoint: max_seq {} is more than the model's "
                    "max_position_embeddings {}",
                    options.max_seq, config.max_position_embeddings));
  }
  return DecoderParams{
      .layers = config.num_hidden_layers,
      .d_model = config.hidden_size,
      .heads = config.num_attention_heads,
      .kv_heads = config.num_key_value_heads,
      .ffn = config.intermediate_size,
      .vocab = config.vocab_size,
      .max_seq = options.max_seq > 0 ? options.max_seq
                                     : std::min(config.max_position_embeddings, kDefaultMaxSeqCap),
      .batch = options.batch,
      .dtype = options.dtype.value_or(config.torch_dtype == "float32" ? DType::f32 : DType::f16),
      .rope_theta = config.rope_theta,
      .norm_eps = config.rms_norm_eps,
      .tied_embeddings = config.tie_word_embeddings,
      .out_in_weights = true};
}

}  // namespace rtscope
