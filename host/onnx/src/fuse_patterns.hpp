// Fusion of exported decoders' decomposed blocks back into rtscope's
// fused ops, on the imported rtscope graph (after mapping, so constant
// folding and dead-node removal have run and every constant is a weight):
//
//   MatMul with a constant [in, out] weight (+ Add of a bias)  -> linear
//   x * Sigmoid(x)                                             -> silu
//   x / sqrt(mean(x², -1) + eps) * w (and its variants)        -> rmsnorm
//   rotate-half RoPE from cos/sin tables gathered by positions -> rope
//   softmax(q·kᵀ·scale + causal mask)·v over an in-place cache -> attention
//
// A rewrite replaces the node writing a pattern's result; the pattern's
// other nodes go when nothing else reads them (dead-node removal at the
// end), so a value shared with the rest of the graph is never lost. A
// pattern that does not match exactly, in structure, constants and types,
// stays decomposed. RoPE and attention fuse only in decoders whose KV
// pairs are in-place state (kv_alias.hpp): those already take a step's
// positions as position_ids[0, 0] + s, which is what rope and attention
// compute with.
#pragma once

#include <cstddef>
#include <optional>

#include "context.hpp"

namespace rtscope::onnx_import {

class FuseGraph;

// What the passes replaced, for tests and logs.
struct FuseCounts {
  std::size_t linear = 0;
  std::size_t silu = 0;
  std::size_t rmsnorm = 0;
  std::size_t rope = 0;
  std::size_t attention = 0;
  std::size_t grouped_attention = 0;  // of the attentions, those over grouped-query caches
};

// Runs every pass on ctx.graph, then removes dead nodes and weights.
FuseCounts fuse_patterns(Context& ctx);

// The base of rotate-half RoPE tables cos/sin [P, Dh] (row p, column j:
// cos/sin of p·base^(−2(j mod Dh/2)/Dh)), when every entry matches the
// base to the tables' precision; nullopt when no base does. The base is
// estimated from the unwrapped phase of the frequency that pins it best,
// and the roundest value (fewest significant digits) that matches wins.
std::optional<double> rope_table_base(const Tensor& cos_table, const Tensor& sin_table);

// The passes, each returning how many patterns it replaced.
std::size_t fuse_linear(FuseGraph& g);
std::size_t fuse_silu(FuseGraph& g);
std::size_t fuse_rmsnorm(FuseGraph& g);
std::size_t fuse_rope(FuseGraph& g);
// Also counts the attentions over grouped-query caches
// (FuseCounts::grouped_attention).
std::size_t fuse_attention(FuseGraph& g, std::size_t& grouped);

}  // namespace rtscope::onnx_import
