// load_llama_checkpoint(): the decoder graph with the weights of a Hugging
// Face Llama checkpoint, mapped from its safetensors files.
#include "rtscope/llama_checkpoint.hpp"

#include <fmt/format.h>

#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <set>

#include "for_ranges.hpp"
#include "mapped_file.hpp"
#include "regular_file.hpp"
#include "rtscope/error.hpp"
#include "safetensors.hpp"

namespace rtscope {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";
constexpr uint64_t kMaxIndexBytes = 64u << 20;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// A tensor of the checkpoint and the mapped file it lives in.
struct Stored {
  std::shared_ptr<const MappedFile> file;
  SafetensorsTensor tensor;
};

// Every tensor of the checkpoint by name, with the files that hold them.
class Checkpoint {
 public:
  explicit Checkpoint(const std::filesystem::path& dir) : dir_(dir) {
    if (RegularFile(dir / kIndexFile).is_open()) {
      read_sharded();
    } else if (RegularFile(dir / kSingleFile).is_open()) {
      add_file(kSingleFile);
    } else {
      throw InputError(fmt::format(
          "{}: no {} or {}; save the model with save_pretrained(DIR) (safetensors is its default)",
          dir.string(), kSingleFile, kIndexFile));
    }
  }

  const std::map<std::string, Stored>& tensors() const { return tensors_; }
  int files() const { return files_; }

 private:
  void add_file(const std::string& name) {
    const std::filesystem::path path = dir_ / name;
    auto file = MappedFile::open(path);
    SafetensorsHeader header = parse_safetensors(file->bytes(), path.string());
    ++files_;
    for (auto& [tensor, entry] : header.tensors) {
      auto [it, inserted] = tensors_.emplace(tensor, Stored{file, entry});
      if (!inserted) {
        throw InputError(
            fmt::format("{}: tensor '{}' is also in {}; a checkpoint holds each "
                        "tensor once",
                        path.string(), tensor, it->second.file->path().string()));
      }
    }
  }

  void read_sharded() {
    const std::filesystem::path path = dir_ / kIndexFile;
    const RegularFile file(path);
    if (file.size() > kMaxIndexBytes) {
      throw InputError(fmt::format("{}: {} bytes is too large for an index (at most {})",
                                   path.string(), file.size(), kMaxIndexBytes));
    }
    std::string text(static_cast<std::size_t>(file.size()), '\0');
    if (!file.read_all(text.data(), text.size())) {
      throw InputError(path.string() + ": could not be read in full");
    }
    const json index = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (index.is_discarded() || !index.is_object() || !index.contains("weight_map") ||
        !index["weight_map"].is_object()) {
      throw InputError(path.string() +
                       ": expected JSON with a 'weight_map' object (tensor name -> file name)");
    }
    std::set<std::string> shards;
    for (const auto& [tensor, shard] : index["weight_map"].items()) {
      const std::string name = shard.is_string() ? shard.get<std::string>() : "";
      // Shards are plain names in the folder: never a path that leaves it.
      if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
        throw InputError(
            fmt::format("{}: tensor '{}' maps to {}; expected a file name in the "
                        "checkpoint folder",
                        path.string(), tensor, shard.dump()));
      }
      shards.insert(name);
    }
    for (const std::string& shard : shards) add_file(shard);
    for (const auto& [tensor, shard] : index["weight_map"].items()) {
      const auto found = tensors_.find(tensor);
      const std::string expected = (dir_ / shard.get<std::string>()).string();
      if (found == tensors_.end() || found->second.file->path().string() != expected) {
        throw InputError(fmt::format("{}: tensor '{}' is not in {}, where {} says it is", expected,
                                     tensor, expected, kIndexFile));
      }
    }
  }

  std::filesystem::path dir_;
  std::map<std::string, Stored> tensors_;
  int files_ = 0;
};

// The Hugging Face name of a template weight ("layers.3.attn.wq" ->
// "model.layers.3.self_attn.q_proj.weight").
std::string checkpoint_name(const std::string& weight) {
  static const std::map<std::string, std::string> kGlobal = {{"embed", "model.embed_tokens.weight"},
                                                             {"final_norm", "model.norm.weight"},
                                                             {"lm_head", "lm_head.weight"}};
  static const std::map<std::string, std::string> kLayer = {
      {"attn_norm", "input_layernorm"}, {"ffn_norm", "post_attention_layernorm"},
      {"attn.wq", "self_attn.q_proj"},  {"attn.wk", "self_attn.k_proj"},
      {"attn.wv", "self_attn.v_proj"},  {"attn.wo", "self_attn.o_proj"},
      {"ffn.w_gate", "mlp.gate_proj"},  {"ffn.w_up", "mlp.up_proj"},
      {"ffn.w_down", "mlp.down_proj"}};
  if (auto found = kGlobal.find(weight); found != kGlobal.end()) return found->second;
  // "layers.<l>.<suffix>"
  const std::size_t dot = weight.find('.', 7);
  const std::string layer = weight.substr(7, dot - 7);
  return fmt::format("model.layers.{}.{}.weight", layer, kLayer.at(weight.substr(dot + 1)));
}

// Tensors a Llama checkpoint may hold that the decoder does not read:
// RoPE frequencies (computed from rope_theta instead) and, with tied
// embeddings, a copy of the table as the LM head.
bool ignorable(const std::string& name, bool tied) {
  return name.ends_with(".rotary_emb.inv_freq") || (tied && name == "lm_head.weight");
}

// Source element decoders; the dtype is chosen once per tensor, not per
// element.
float from_f32(const unsigned char* bytes, std::size_t i) {
  float value;
  std::memcpy(&value, bytes + 4 * i, 4);
  return value;
}
float from_f16(const unsigned char* bytes, std::size_t i) {
  uint16_t bits;
  std::memcpy(&bits, bytes + 2 * i, 2);
  return half_to_float(bits);
}
float from_bf16(const unsigned char* bytes, std::size_t i) {
  uint16_t bits;
  std::memcpy(&bits, bytes + 2 * i, 2);
  return std::bit_cast<float>(uint32_t{bits} << 16);  // bf16 is the top half of an f32
}

// The tensor's values in `dtype`, converted once into host memory, on all
// cores for large tensors.
Tensor convert(const Stored& stored, const std::string& name, DType dtype, Shape shape) {
  Tensor out = Tensor::empty(dtype, std::move(shape));
  const unsigned char* bytes = stored.file->bytes().data() + stored.tensor.offset;
  const std::string& from = stored.tensor.dtype;
  float (*read)(const unsigned char*, std::size_t) = from == "F32"   ? from_f32
                                                     : from == "F16" ? from_f16
                                                                     : from_bf16;
  if (dtype == DType::f32) {
    auto* dst = out.data_as<float>();
    for_ranges(out.numel(), [&](int64_t begin, int64_t end) {
      for (auto i = static_cast<std::size_t>(begin); i < static_cast<std::size_t>(end); ++i) {
        dst[i] = read(bytes, i);
      }
    });
    return out;
  }
  auto* dst = out.data_as<uint16_t>();
  // The first element that f16 cannot hold, if any (workers must not throw).
  std::atomic<int64_t> overflow{out.numel()};
  for_ranges(out.numel(), [&](int64_t begin, int64_t end) {
    for (auto i = static_cast<std::size_t>(begin); i < static_cast<std::size_t>(end); ++i) {
      const float value = read(bytes, i);
      dst[i] = float_to_half(value);
      if (std::isfinite(value) && !std::isfinite(half_to_float(dst[i]))) {
        int64_t seen = overflow.load();
        while (static_cast<int64_t>(i) < seen &&
               !overflow.compare_exchange_weak(seen, int64_t(i))) {
        }
        return;
      }
    }
  });
  if (const int64_t i = overflow.load(); i < out.numel()) {
    throw InputError(fmt::format(
        "{}: tensor '{}' holds {} at element {}, beyond f16's range; "
        "load the model with dtype f32",
        stored.file->path().string(), name, read(bytes, static_cast<std::size_t>(i)), i));
  }
  return out;
}

DType native_dtype(const std::string& dtype) { return dtype == "F32" ? DType::f32 : DType::f16; }

}  // namespace

Graph load_llama_checkpoint(const std::filesystem::path& dir, const LlamaLoadOptions& options,
                            LlamaLoadStats* stats) {
  if constexpr (std::endian::native != std::endian::little) {
    throw InputError(dir.string() + ": safetensors files are little-endian; this host is not");
  }
  const LlamaConfig config = read_llama_config(dir);
  Graph graph;
  try {
    graph = build_decoder(llama_decoder_params(config, options));
  } catch (const InputError& e) {
    // Sizes that cannot be built (e.g. more memory than the machine has)
    // came from config.json.
    throw InputError((dir / "config.json").string() + ": " + e.what());
  }
  graph.name =
      dir.filename().empty() ? dir.parent_path().filename().string() : dir.filename().string();

  LlamaLoadStats local;
  LlamaLoadStats& s = stats ? *stats : local;
  s = {};
  auto start = Clock::now();
  const Checkpoint checkpoint(dir);
  s.files = checkpoint.files();
  s.map_ms = ms_since(start);

  start = Clock::now();
  std::set<std::string> used;
  for (Weight& weight : graph.weights) {
    const std::string name = checkpoint_name(weight.info.name);
    const auto found = checkpoint.tensors().find(name);
    if (found == checkpoint.tensors().end()) {
      throw InputError(
          fmt::format("{}: tensor '{}' is missing (config.json: {} layers, "
                      "tie_word_embeddings {}); the checkpoint is incomplete or not "
                      "a Llama",
                      dir.string(), name, config.num_hidden_layers, config.tie_word_embeddings));
    }
    const Stored& stored = found->second;
    const std::string file = stored.file->path().string();
    Shape shape;
    for (const Dim& dim : weight.info.type.shape) shape.push_back(dim.value);
    if (stored.tensor.shape != shape) {
      throw InputError(fmt::format("{}: tensor '{}' has shape {}, config.json implies {}", file,
                                   name, shape_to_string(stored.tensor.shape),
                                   shape_to_string(shape)));
    }
    const std::string& dtype = stored.tensor.dtype;
    if (dtype != "F32" && dtype != "F16" && dtype != "BF16") {
      throw InputError(
          fmt::format("{}: tensor '{}' has dtype {}; Llama weights are F32, F16 or "
                      "BF16 (config.json torch_dtype: {})",
                      file, name, dtype, config.torch_dtype));
    }
    const DType model_dtype = weight.info.type.dtype;
    const unsigned char* bytes = stored.file->bytes().data() + stored.tensor.offset;
    const bool aligned = reinterpret_cast<uintptr_t>(bytes) % dtype_size(model_dtype) == 0;
    weight.init = WeightInit{};
    weight.init.kind = WeightInit::Kind::tensor;
    if (dtype != "BF16" && native_dtype(dtype) == model_dtype && aligned) {
      // Plugins only read constants, so the read-only mapping is handed on
      // as it is; the tensor keeps the file mapped.
      auto* data = const_cast<unsigned char*>(bytes);
      weight.init.data = Tensor::wrap(model_dtype, std::move(shape), data,
                                      std::shared_ptr<void>(stored.file, data));
      s.mapped_bytes += stored.tensor.size;
    } else {
      weight.init.data = convert(stored, name, model_dtype, std::move(shape));
      s.converted_bytes += weight.init.data.size_bytes();
    }
    used.insert(name);
  }
  for (const auto& [name, stored] : checkpoint.tensors()) {
    if (used.count(name) || ignorable(name, config.tie_word_embeddings)) continue;
    throw InputError(fmt::format(
        "{}: tensor '{}' is not part of a Llama decoder with this "
        "config.json ({} layers, tie_word_embeddings {}); check the "
        "checkpoint's architecture",
        stored.file->path().string(), name, config.num_hidden_layers, config.tie_word_embeddings));
  }
  s.convert_ms = ms_since(start);
  return graph;
}

}  // namespace rtscope
