// Past/present KV pairs of exported decoders onto rtscope's in-place state:
// `present.N.key = Concat(past_key_values.N.key, new rows)` on the sequence
// axis, or a ScatterElements/ScatterND of the new rows into a fixed-size
// past, becomes a state buffer `past_key_values.N.key` updated in place by
// kv_cache_update at the step's first position, so a decode step neither
// takes the cache as an input nor returns it.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

#include "context.hpp"
#include "rtscope/onnx_import.hpp"

namespace rtscope::onnx_import {

// The positions input of decoder exports ([batch, seq] i64), and the
// value holding a step's first position (position_ids[0, 0] as i64 [1])
// that kv_cache_update, and the fused rope and attention, read.
inline constexpr const char* kPositionIds = "position_ids";
inline constexpr const char* kStepPosition = "/kv_cache/pos";

struct KvPair {
  std::string past;     // graph input, becomes the state
  std::string present;  // graph output, the state's next value
  std::string fresh;    // the step's rows [B, H, S, Dh]
  std::string op_type;  // of the update node as the file has it
  std::size_t node = 0;
};

// The pairs declared in options.alias (present → past) and, with
// options.detect_kv_alias, those found in the graph. Each update node is
// rewritten to Concat(past, fresh) (a scatter's indices are not needed:
// rows go at the step's positions), so dead-node removal drops their
// arithmetic. A declared pair whose present is not such an update of its
// past is an InputError naming both.
std::map<std::size_t, KvPair> find_kv_pairs(const Context& ctx, onnx::GraphProto& graph,
                                            const OnnxImportOptions& options);

// Moves the pasts from the graph inputs to states (static shapes required).
void make_kv_states(Context& ctx, const std::map<std::size_t, KvPair>& pairs);

// Emits kv_cache_update(past, fresh, pos) as `present` for the pair's node.
void map_kv_update(Context& ctx, const KvPair& pair);

// A decoder with aliased caches samples on the device, as the built-in
// does: next_token = argmax(logits) joins the outputs.
void add_next_token(Context& ctx);

}  // namespace rtscope::onnx_import
