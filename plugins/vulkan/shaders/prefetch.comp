#version 450
// Brings a weight region into the GPU's last-level cache ahead of the
// batch that reads it (CommandList::insert_prefetches): a batch that
// leaves memory bandwidth idle (a latency-bound one, or any batch while
// its last workgroups drain) reads the first bytes of the next batch's
// weights, so that the next batch finds them in the cache. Each invocation
// reads one word per 32-byte sector, LOADS sectors in flight.
//
// The loads must not be dropped as dead code: their words are xor-ed and
// the sum stored in binding 1, a sink nothing reads, only when it equals
// a key the sum of real data may happen to equal (harmless there).
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Data { uint data[]; };
layout(std430, binding = 1) writeonly buffer Sink { uint sink[]; };

// Mirrors PrefetchPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint words;  // words of binding 0 to read
  uint key;
} pc;

const uint SECTOR_WORDS = 8u;
const uint LOADS = 8u;

void main() {
  const uint step = gl_WorkGroupSize.x * SECTOR_WORDS;
  const uint first = gl_WorkGroupID.x * step * LOADS + gl_LocalInvocationID.x * SECTOR_WORDS;
  uint sum = 0u;
  [[unroll]] for (uint j = 0u; j < LOADS; ++j) {
    const uint i = first + j * step;
    if (i < pc.words) sum ^= data[i];
  }
  if (sum == pc.key) sink[0] = sum;
}
