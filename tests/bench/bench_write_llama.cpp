// Writes a Hugging Face Llama checkpoint (config.json + model.safetensors of
// seeded random weights) with the tests' writer, for start-up measurements
// of rtscope-run from a checkpoint (B14 on the CPU, docs/checkpoints.md):
//
//   bench_write_llama DIR [--layers N] [--hidden D] [--heads H] [--kv-heads K]
//                     [--ffn F] [--vocab V] [--max-positions P] [--dtype F32|F16|BF16]
//
// The defaults are the runner's default decoder (2 layers, d_model 256,
// 4 heads, vocab 1024) with 2 KV heads.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "../support/tiny_llama.hpp"

using rtscope::testing::TinyLlama;

// An integer flag, its value's name in the usage, and the size it sets.
struct SizeFlag {
  const char* flag;
  const char* value;
  int64_t TinyLlama::*size;
};

constexpr SizeFlag kSizeFlags[] = {{"--layers", "N", &TinyLlama::layers},
                                   {"--hidden", "D", &TinyLlama::hidden},
                                   {"--heads", "H", &TinyLlama::heads},
                                   {"--kv-heads", "K", &TinyLlama::kv_heads},
                                   {"--ffn", "F", &TinyLlama::intermediate},
                                   {"--vocab", "V", &TinyLlama::vocab},
                                   {"--max-positions", "P", &TinyLlama::max_positions}};

std::string usage_flags() {
  std::string text;
  for (const SizeFlag& f : kSizeFlags) text += std::string(" [") + f.flag + " " + f.value + "]";
  return text + " [--dtype F32|F16|BF16]";
}

// The runner's default decoder with 2 KV heads.
TinyLlama default_decoder() {
  return TinyLlama{.hidden = 256,
                   .intermediate = 1024,
                   .layers = 2,
                   .heads = 4,
                   .kv_heads = 2,
                   .vocab = 1024,
                   .max_positions = 256,
                   .rope_theta = 10000};
}

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {
    std::fprintf(stderr, "usage: %s DIR%s\n", argv[0], usage_flags().c_str());
    return 2;
  }
  TinyLlama c = default_decoder();
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--dtype") {
      c.dtype = value;
      continue;
    }
    char* end = nullptr;
    const long long number = std::strtoll(value, &end, 10);
    if (end == value || *end != '\0' || number <= 0) {
      std::fprintf(stderr, "%s: '%s' is not a positive integer\n", flag.c_str(), value);
      return 2;
    }
    const auto* size = std::find_if(std::begin(kSizeFlags), std::end(kSizeFlags),
                                    [&flag](const SizeFlag& f) { return flag == f.flag; });
    if (size == std::end(kSizeFlags)) {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
    c.*(size->size) = number;
  }
  if (c.dtype != "F32" && c.dtype != "F16" && c.dtype != "BF16") {
    std::fprintf(stderr, "--dtype: expected F32, F16 or BF16, got %s\n", c.dtype.c_str());
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  rtscope::testing::write_tiny_llama(argv[1], c);
  std::printf(
      "wrote %s: %lld layers, d_model %lld, %lld heads (%lld KV), ffn %lld, vocab %lld, %s\n",
      argv[1], static_cast<long long>(c.layers), static_cast<long long>(c.hidden),
      static_cast<long long>(c.heads), static_cast<long long>(c.kv_heads),
      static_cast<long long>(c.intermediate), static_cast<long long>(c.vocab), c.dtype.c_str());
  return 0;
}
