// Hugging Face Llama checkpoints (a folder with config.json and
// model.safetensors, or shards listed by model.safetensors.index.json) as
// the built-in decoder with the checkpoint's weights.
//
//   rtscope::Graph graph = rtscope::load_llama_checkpoint("/models/tiny-llama");
//   auto model = rtscope::Model::build(std::move(graph), registry, options);
//
// The safetensors files are memory-mapped: a weight stored in the model's
// dtype reaches the plugin as the mapped bytes (no host copy), and the
// plugin uploads it once when it builds its engine. Other float dtypes
// (bf16, or f32 for an f16 model, ...) are converted once, at load.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "rtscope/graph.hpp"
#include "rtscope/templates.hpp"

namespace rtscope {

// The fields of config.json the decoder uses, with Hugging Face's
// LlamaConfig defaults for the optional ones.
struct LlamaConfig {
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // absent: num_attention_heads
  int64_t vocab_size = 0;
  int64_t max_position_embeddings = 2048;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  std::string torch_dtype = "float32";  // "float32", "float16" or "bfloat16"
};

// Reads and checks DIR/config.json. Throws InputError naming the file and
// key: a missing or non-integer size, an architecture other than
// LlamaForCausalLM, or a feature the decoder does not have (rope_scaling,
// attention or MLP biases, an activation other than silu, a head_dim other
// than hidden_size / num_attention_heads).
LlamaConfig read_llama_config(const std::filesystem::path& dir);

struct LlamaLoadOptions {
  // The model's dtype (f32 or f16). Default: f16 for float16 and bfloat16
  // checkpoints, f32 for float32 ones.
  std::optional<DType> dtype;
  // KV cache length; 0: max_position_embeddings, at most 4096 (a longer
  // cache is asked for explicitly). At most max_position_embeddings.
  int64_t max_seq = 0;
  int64_t batch = 1;
};

// Options from runner-style string parameters (`dtype`, `max_seq`,
// `batch`). Throws InputError naming an unknown key (listing the valid
// ones) or a bad value.
LlamaLoadOptions llama_load_options(const std::map<std::string, std::string>& params);

// What a load did, for reports and tests.
struct LlamaLoadStats {
  int files = 0;                 // safetensors files mapped
  uint64_t mapped_bytes = 0;     // weights used in place from the mapping
  uint64_t converted_bytes = 0;  // weights converted into host memory
  double map_ms = 0;             // opening, mapping and checking the files
  double convert_ms = 0;         // dtype conversions
};

// The decoder parameters a checkpoint's config implies.
DecoderParams llama_decoder_params(const LlamaConfig& config, const LlamaLoadOptions& options);

// Reads DIR's config.json and safetensors files and returns the validated
// decoder graph (see build_decoder: out_in_weights, tied embeddings, GQA)
// whose weights are the checkpoint's. The graph's weights keep the mapping
// alive. Throws InputError with one line naming the file and tensor for a
// missing, truncated or corrupt file, a tensor that is missing, extra, of a
// dtype other than F32/F16/BF16 or of a shape other than config.json
// implies. Not thread-safe with respect to the files changing meanwhile.
Graph load_llama_checkpoint(const std::filesystem::path& dir, const LlamaLoadOptions& options = {},
                            LlamaLoadStats* stats = nullptr);

// Maps the pages of `graph`'s tensor weights (a loaded checkpoint's mapped
// bytes) into the process, in slices, until `stop` returns true or all are
// done; a plugin's upload then reads them without page faults. For time
// that would otherwise be spent waiting (rtscope-run: while the plugins
// load). Returns the bytes made resident this way. `automatic` asks the
// kernel (MADV_POPULATE_READ) and reads each page where it cannot;
// `touch` always reads each page.
enum class PrefaultMethod { automatic, touch };
uint64_t prefault_weights(const Graph& graph, const std::function<bool()>& stop,
                          PrefaultMethod method = PrefaultMethod::automatic);

}  // namespace rtscope
