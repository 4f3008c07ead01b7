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
shared vec4 xs[MAX_K / 4u];

float dot8(uvec4 w, uint at) {
  const vec4 lo = xs[at * 2u];
  const vec4 hi = xs[at * 2u + 1u];
  const vec2 a = unpackHalf2x16(w.x);
  const vec2 b = unpackHalf2x16(w.y);
  const vec2 c = unpackHalf2x16(w.z);
  const vec2 d = unpackHalf2x16(w.w);
  return a.x * lo.x + a.y * lo.y + b.x * lo.z + b.y * lo.w + c.x * hi.x + c.y * hi.y +
         d.x * hi.z + d.y * hi.w;
}

void wait_for(uint counter, uint count) {
  if (gl_LocalInvocationIndex == 0u) {
    for (uint round = 0u; round < 256u; ++round) {
      bool done = false;
      for (uint poll = 0u; poll < 4096u; ++poll) {
        if (counters[counter] >= count) {
          done = true;
          break;
        }
      }
      if (done) break;
    }
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
    // The first row's first weights, sent for before the wait, into the
    // registers the row's first round uses.
    uvec4 w[IN_FLIGHT];
    uvec4 u[IN_FLIGHT];
    const bool has_pre = pc.prefetch != 0u && first_task < st.n;
    if (has_pre) {
      [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
        const uint v = lane + j * lanes;
        if (v < vecs) {
          w[j] = w4[st.w + first_task * vecs + v];
          if (st.gated != 0u) u[j] = w4[st.u + first_task * vecs + v];
        }
      }
    }
    // Bit 1 of `persistent`: no waits (a control; results wrong).
    if (pc.persistent == 1u && s > pc.first) wait_for(s - 1u, gl_NumWorkGroups.x);
    // The input in one round trip: every load is sent before any store.
    vec4 staged[MAX_K / 4u / 256u];
    [[unroll]] for (uint j = 0u; j < MAX_K / 4u / 256u; ++j) {
      const uint i = gl_LocalInvocationIndex + j * 256u;
      if (i < st.k / 4u) staged[j] = act4[st.in_at / 4u + i];
    }
    [[unroll]] for (uint j = 0u; j < MAX_K / 4u / 256u; ++j) {
      const uint i = gl_LocalInvocationIndex + j * 256u;
      if (i < st.k / 4u) xs[i] = staged[j];
    }
    barrier();
    for (uint t = first_task; t < st.n; t += subgroups) {
      float acc = 0.0;
      float acc_u = 0.0;
      const uint row_w = st.w + t * vecs;
      const uint row_u = st.u + t * vecs;
      for (uint v0 = 0u; v0 < vecs; v0 += IN_FLIGHT * lanes) {
        if (!has_pre || t != first_task || v0 != 0u) {
          [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
            const uint v = v0 + lane + j * lanes;
            if (v < vecs) {
              w[j] = w4[row_w + v];
              if (st.gated != 0u) u[j] = w4[row_u + v];
            }
          }
        }
        [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
          const uint v = v0 + lane + j * lanes;
          if (v < vecs) {
            acc += dot8(w[j], v);
            if (st.gated != 0u) acc_u += dot8(u[j], v);
          }
        }
      }
      const float total = subgroupAdd(acc);
      const float total_u = subgroupAdd(acc_u);
      if (lane == 0u) {
        act[st.out_at + t] = st.gated != 0u ? total / (1.0 + exp(-total)) * total_u : total;
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
