#version 450
// Probe: a chain of dependent matrix-vector products shaped like the
// reference decoder's decode step (per layer q/k/v 6144x2048, output
// 2048x2048, gated gate/up 2x8192x2048, down 2048x8192; then an lm head
// 32000x2048; f16 weights stored [N, K], f32 activations), run either as
// one dispatch per stage with a pipeline barrier between them, or as one
// persistent dispatch whose workgroups meet at a device counter between
// stages. With `prefetch`, a workgroup sends for its first row's weights
// before it waits for the stage before, so they are in flight during the
// wait. Each output row is one subgroup's dot product in a fixed order,
// so both forms store the same bits.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 256) in;

struct Stage {
  uint n;        // output rows
  uint k;        // inputs (a multiple of 8)
  uint gated;    // 1: silu(W x) * (U x)
  uint w;        // first 16-byte vector of W [n, k]
  uint u;        // first 16-byte vector of U [n, k]
  uint in_at;    // first input float
  uint out_at;   // first output float
  uint unused;
};

layout(std430, binding = 0) readonly buffer Weights { uvec4 w4[]; };
layout(std430, binding = 1) coherent buffer Activations { float act[]; };
// The same as 16-byte vectors (every stage's input starts at a multiple of 4).
layout(std430, binding = 1) coherent buffer ActivationVectors { vec4 act4[]; };
layout(std430, binding = 2) readonly buffer Stages { Stage stages[]; };
layout(std430, binding = 3) volatile coherent buffer Counters { uint counters[]; };

layout(push_constant) uniform Push {
  uint first;     // first stage
  uint count;     // stages this dispatch runs
  uint persistent;  // 0: one dispatch per stage; 1: persistent; 3: persistent, no waits
  uint prefetch;
} pc;

const uint MAX_K = 8192u;
const uint IN_FLIGHT = 8u;
// The stage's input as f16, 8 to a 16-byte vector (as the plugin stores
// activations): 16 KB at most, one shared load per weight vector.
shared uvec4 xs[MAX_K / 8u];

float dot8(uvec4 w, uint at) {
  const uvec4 x = xs[at];
  float acc = 0.0;
  [[unroll]] for (uint i = 0u; i < 4u; ++i) {
    const vec2 p = unpackHalf2x16(w[i]);
    const vec2 q = unpackHalf2x16(x[i]);
    acc = fma(p.x, q.x, acc);
    acc = fma(p.y, q.y, acc);
  }
  return acc;
}

// A wait that gives up counts itself in the word after the stages'.
void wait_for(uint counter, uint count) {
  if (gl_LocalInvocationIndex == 0u) {
    bool held = false;
    for (uint round = 0u; round < 256u && !held; ++round) {
      for (uint poll = 0u; poll < 4096u; ++poll) {
        if (counters[counter] >= count) {
          held = true;
          break;
        }
      }
    }
    if (!held) atomicAdd(counters[pc.first + pc.count], 1u);
  }
  barrier();
  memoryBarrierBuffer();
}

void main() {
  const uint lane = gl_SubgroupInvocationID;
  const uint lanes = gl_SubgroupSize;
  const uint subgroups = gl_NumWorkGroups.x * gl_NumSubgroups;
  const uint first_task = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
  for (uint s = pc.first; s < pc.first + pc.count; ++s) {
    const Stage st = stages[s];
    const uint vecs = st.k / 8u;
    // A subgroup streams two weight rows at a time: W and U of one output
    // (gated), or W's rows t and t + subgroups.
    const bool gated = st.gated != 0u;
    const uint step = gated ? subgroups : 2u * subgroups;
    uvec4 w[IN_FLIGHT];
    uvec4 u[IN_FLIGHT];
    // The first pair's first weights, sent for before the wait, into the
    // registers its first round uses.
    const bool has_pre = pc.prefetch != 0u && first_task < st.n;
    if (has_pre) {
      const uint second = gated ? st.u + first_task * vecs : st.w + (first_task + subgroups) * vecs;
      const bool has_second = gated || first_task + subgroups < st.n;
      [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
        const uint v = lane + j * lanes;
        if (v < vecs) {
          w[j] = w4[st.w + first_task * vecs + v];
          if (has_second) u[j] = w4[second + v];
        }
      }
    }
    // Bit 1 of `persistent`: no waits (a control; results wrong).
    if (pc.persistent == 1u && s > pc.first) wait_for(s - 1u, gl_NumWorkGroups.x);
    // The input in one round trip, every load sent before any store.
    vec4 staged[MAX_K / 4u / 256u];
    [[unroll]] for (uint j = 0u; j < MAX_K / 4u / 256u; ++j) {
      const uint i = gl_LocalInvocationIndex + j * 256u;
      if (i < st.k / 4u) staged[j] = act4[st.in_at / 4u + i];
    }
    [[unroll]] for (uint j = 0u; j < MAX_K / 4u / 256u; ++j) {
      const uint i = gl_LocalInvocationIndex + j * 256u;  // floats 4i..4i+3: half of xs[i / 2]
      if (i < st.k / 4u) {
        const uint packed_lo = packHalf2x16(staged[j].xy);
        const uint packed_hi = packHalf2x16(staged[j].zw);
        const uint slot = i / 2u;
        if ((i & 1u) == 0u) {
          xs[slot].x = packed_lo;
          xs[slot].y = packed_hi;
        } else {
          xs[slot].z = packed_lo;
          xs[slot].w = packed_hi;
        }
      }
    }
    barrier();
    for (uint t = first_task; t < st.n; t += step) {
      const uint t2 = t + subgroups;  // the second row's output when not gated
      const bool has_second = gated || t2 < st.n;
      const uint row_w = st.w + t * vecs;
      const uint row_2 = gated ? st.u + t * vecs : st.w + t2 * vecs;
      float acc = 0.0;
      float acc_2 = 0.0;
      for (uint v0 = 0u; v0 < vecs; v0 += IN_FLIGHT * lanes) {
        if (!has_pre || t != first_task || v0 != 0u) {
          [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
            const uint v = v0 + lane + j * lanes;
            if (v < vecs) {
              w[j] = w4[row_w + v];
              if (has_second) u[j] = w4[row_2 + v];
            }
          }
        }
        [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
          const uint v = v0 + lane + j * lanes;
          if (v < vecs) {
            acc += dot8(w[j], v);
            if (has_second) acc_2 += dot8(u[j], v);
          }
        }
      }
      const float total = subgroupAdd(acc);
      const float total_2 = subgroupAdd(acc_2);
      if (lane == 0u) {
        if (gated) {
          act[st.out_at + t] = total / (1.0 + exp(-total)) * total_2;
        } else {
          act[st.out_at + t] = total;
          if (has_second) act[st.out_at + t2] = total_2;
        }
      }
    }
    if (pc.persistent != 0u) {
      memoryBarrierBuffer();
      barrier();
      if (gl_LocalInvocationIndex == 0u) atomicAdd(counters[s], 1u);
    } else {
      barrier();  // xs is written again by the next stage
    }
  }
}
