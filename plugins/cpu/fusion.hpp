// Fusion: elementwise chains that run inside the loop of the node that
// produces or consumes them, decided per execution plan (the shapes must
// agree, so a prefill and a decode step are matched apart).
//
// A group replaces its member nodes by one kernel call that runs where
// the last member ran; the values between members are never stored. The
// groups, as a Llama-style decoder has them:
//   silu(gate) · linear(x, W_up)      the product's output columns become
//                                     silu(gate) · column as they are written
//   r + linear(x, W)                  the product accumulates onto r (in r's
//                                     own storage when nothing reads r after)
//   transpose(rope(x, pos))           rope written straight in the heads-major
//                                     layout; in x's storage when S is 1
//   kv_cache_update(cache, transpose(rope(x, pos)), pos)
//                                     rope written straight into the cache rows
// and, as a CNN has them (a ResNet block's tails):
//   relu(conv(x, W))                  each channel slice of the convolution's
//   r + conv(x, W)                    output is rewritten as it is written
//   relu(r + conv(x, W))
// A transpose that keeps the order of every dim larger than 1 (a decode
// step's [B,1,H,D] <-> [B,H,1,D]) becomes a view of its input.
//
// RTSCOPE_CPU_FUSION=0 turns all of it off for contexts created after.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/fused_elementwise.hpp"
#include "kernels/fused_rope.hpp"
#include "kernels/op_spec.hpp"
#include "kit_names.hpp"

namespace rtscope::cpu {

class Engine;

enum class FusedKind : uint8_t {
  kLinearSiluMul,     // mul(silu(operand), linear/matmul(...))
  kLinearResidual,    // add(operand, linear/matmul(...))
  kRopeToHeads,       // transpose(rope(x, pos), [0,2,1,3])
  kRopeIntoCache,     // kv_cache_update(cache, transpose(rope(x, pos)), pos)
  kConvRelu,          // relu(conv(...))
  kConvResidual,      // add(operand, conv(...))
  kConvResidualRelu,  // relu(add(operand, conv(...)))
};

// Whether the group runs its main node's (tuned) kernel with an epilogue:
// the linear and conv kinds; the rope kinds run the fused rope.
bool runs_main_kernel(FusedKind kind);

struct FusedGroup {
  FusedKind kind = FusedKind::kLinearResidual;
  std::vector<uint32_t> nodes;  // members in graph order; the group runs at the last
  // The node whose kernel runs (linear and conv kinds: the product or the
  // conv, with its tuned variant) or whose attributes apply (rope kinds:
  // the rope).
  uint32_t main = 0;
  // Value ids. Linear and conv kinds read the main node's inputs and
  // `operand` (the gate before silu, or the residual; kConvRelu has none
  // and names the conv's input there); rope kinds read `x` [B,S,H,D],
  // `pos` ([1] or [B]) and, into the cache, `cache` [B,H,L,D].
  uint32_t operand = 0;
  uint32_t x = 0;
  uint32_t pos = 0;
  uint32_t cache = 0;
  uint32_t output = 0;
  // Every value the group reads, for the memory plan.
  std::vector<uint32_t> reads;
  // Rope kinds: cos/sin of every position, shared by the groups of one
  // (base, head_dim) in a plan; a capture keeps it alive too.
  std::shared_ptr<RopeTable> table;
};

// Whether RTSCOPE_CPU_FUSION leaves fusion on: unset, empty or anything
// but "0".
bool fusion_requested();

// The groups of `engine` at the plan's shapes (`dims`, per value id) among
// the nodes before `first_dynamic_node`, in the order of their last
// member. Only f32 nodes fuse. A node belongs to at most one group; a
// value between members is read by nothing else and is no engine output;
// no node between a group's first and last member updates a tensor in
// place (the group reads its inputs later than its first member did).
std::vector<FusedGroup> find_fused_groups(const Engine& engine, std::span<const Dims> dims,
                                          size_t first_dynamic_node);

// Whether a transpose node at these shapes only renames axes: every input
// dim larger than 1 keeps its relative order, so the bytes are the same.
bool transpose_keeps_layout(const NodeDesc& node, const Dims& input);

// The arguments of a group's kernel from its resolved tensors (the
// execute's or a capture's). Linear and conv kinds: the epilogue the
// main kernel applies; rope kinds: the fused rope call (`cache` only into the cache;
// `error_node` is named when a position does not fit).
LinearEpilogue linear_epilogue(const FusedGroup& group, const TensorRef& operand);
FusedRopeArgs fused_rope_args(const FusedGroup& group, const TensorRef& x, const TensorRef& pos,
                              const TensorRef* cache, const TensorRef& output, ThreadPool& pool,
                              const NodeDesc& error_node);

// The profile row name of a group: the first member's name, then the
// other members without the prefix they share ("layers.0.ffn.gate_act+
// up_proj+gate_mul").
std::string group_name(const Engine& engine, const FusedGroup& group);

// What the group runs, for the profile: "silu*mul epilogue", ...
const char* group_kernel_suffix(FusedKind kind);

}  // namespace rtscope::cpu
