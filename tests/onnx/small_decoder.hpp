// The built-in decoder at a size the importer's tests run in seconds,
// exported as ONNX and imported again with the KV cache shapes its
// export declares.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "rtscope/graph.hpp"
#include "rtscope/onnx_export.hpp"
#include "rtscope/templates.hpp"

namespace rtscope::testing {

// Two layers, d_model 32, 4 heads (`kv_heads` of them for keys and
// values; 0: all), ffn 48, vocab 64, max_seq 16.
DecoderParams small_decoder(int64_t kv_heads, uint64_t seed, DType dtype = DType::f32);

// `p` exported with `style` as decoder.onnx in the fresh folder `dir`.
std::filesystem::path export_decoder(const DecoderParams& p, KvCacheStyle style,
                                     const std::string& dir);

// The export at `path` imported for steps of `seq` tokens (static plans:
// a prompt and the decode steps are two imports that share their state);
// concat-style pasts get `p.max_seq` rows.
Graph import_decoder(const std::filesystem::path& path, const DecoderParams& p, int64_t seq,
                     bool fuse);

}  // namespace rtscope::testing
