#include "small_decoder.hpp"

#include "onnx_model_builder.hpp"
#include "rtscope/onnx_import.hpp"

namespace rtscope::testing {

DecoderParams small_decoder(int64_t kv_heads, uint64_t seed, DType dtype) {
  DecoderParams p;
  p.dtype = dtype;
  p.layers = 2;
  p.d_model = 32;
  p.heads = 4;
  p.kv_heads = kv_heads;
  p.ffn = 48;
  p.vocab = 64;
  p.max_seq = 16;
  p.seed = seed;
  return p;
}

std::filesystem::path export_decoder(const DecoderParams& p, KvCacheStyle style,
                                     const std::string& dir) {
  const auto path = fresh_dir(dir) / "decoder.onnx";
  export_decoder_onnx(p, style, path);
  return path;
}

Graph import_decoder(const std::filesystem::path& path, const DecoderParams& p, int64_t seq,
                     bool fuse) {
  OnnxImportOptions options;
  options.fuse = fuse;
  options.shapes["input_ids"] = {1, seq};
  const int64_t kv = p.kv_heads == 0 ? p.heads : p.kv_heads;
  options.shapes["past_key_values.0.key"] = {1, kv, p.max_seq, p.d_model / p.heads};
  return import_onnx(path, options);
}

}  // namespace rtscope::testing
