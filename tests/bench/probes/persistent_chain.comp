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
// Ticket form (persistent = 4): workgroups take chunks of a stage (one
// row, or gated pair, per subgroup) in order from a device counter, and
// wait for the stage before only when they enter a stage. Every chunk a
// workgroup waits for was taken before its own by a workgroup already
// running, so the form cannot deadlock however many workgroups the device
// keeps resident: the structure a plugin could ship.
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x_id = 0) in;
// Invocations per workgroup, and 16-byte weight loads per invocation and
// row in one round: a workgroup of 1024 gets at most 64 registers an
// invocation, so with IN_FLIGHT = 4 every workgroup of a persistent grid
// of one per SM is resident, with 32 subgroups streaming on each SM.
layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint IN_FLIGHT = 8;
// 1: a stage's rows are dealt to the workgroups in turn (row r to
// workgroup r % G), so that a stage of fewer rows than the grid has
// subgroups keeps every workgroup busy; 0: consecutive rows to one
// workgroup's subgroups.
layout(constant_id = 2) const uint SPREAD = 0;
// 1: the flat product (flat_rows): a workgroup's rows of a stage (dealt
// in turn) read as one stream of 16-byte vectors, WG consecutive vectors
// per step, so every invocation loads the same number of vectors (±1)
// whatever the stage's rows and K; 2: the span product (span_rows), the
// same stream cut into one contiguous span per subgroup; 0: a row (or
// pair) per subgroup.
layout(constant_id = 3) const uint FLAT = 0;
// Rounds of 4096 polls before a wait gives up: a GPU's stage takes
// microseconds, lavapipe's milliseconds.
layout(constant_id = 4) const uint WAIT_ROUNDS = 16;
// The span product with `prefetch`: chunks of a subgroup's run sent for
// before the wait, into registers of their own (PRE of W, and PRE of U or
// PRE more of W), so that more bytes are in flight while the workgroup
// waits, stages its input and sums its partials; 0: the first round's.
layout(constant_id = 5) const uint PRE = 0;
const uint PRE_SIZE = PRE == 0u ? 1u : PRE;
uvec4 pre_w[PRE_SIZE];
uvec4 pre_u[PRE_SIZE];

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
  uint persistent;  // 0: one dispatch per stage; 1: persistent; 3: persistent, no waits;
                    // 4: persistent, chunks taken by ticket
  uint prefetch;
} pc;

const uint MAX_K = 8192u;
// The stage's input as f16, 8 to a 16-byte vector (as the plugin stores
// activations): 16 KB at most, one shared load per weight vector.
shared uvec4 xs[MAX_K / 8u];
// The flat product's partial sums, one per subgroup-wide chunk of a row
// (of W, and of U when gated), summed in chunk order per row.
const uint PARTIALS = 2048u;
shared float partial_w[PARTIALS];
shared float partial_u[PARTIALS];

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
    for (uint round = 0u; round < WAIT_ROUNDS && !held; ++round) {
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

// The stage's input into xs as f16, in one round trip: every load sent
// before any store.
void stage_input(Stage st) {
  vec4 staged[MAX_K / 4u / WG];
  [[unroll]] for (uint j = 0u; j < MAX_K / 4u / WG; ++j) {
    const uint i = gl_LocalInvocationIndex + j * WG;
    if (i < st.k / 4u) staged[j] = act4[st.in_at / 4u + i];
  }
  [[unroll]] for (uint j = 0u; j < MAX_K / 4u / WG; ++j) {
    const uint i = gl_LocalInvocationIndex + j * WG;  // floats 4i..4i+3: half of xs[i / 2]
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
}

// A subgroup's two weight rows: W and U of output t (gated), or W's rows
// t and t2.
uint second_row(Stage st, uint t, uint t2) {
  const uint vecs = st.k / 8u;
  return st.gated != 0u ? st.u + t * vecs : st.w + t2 * vecs;
}

// The first round's weights of rows t (and t2), sent for ahead.
void load_first(Stage st, uint t, uint t2, bool has_second, inout uvec4 w[IN_FLIGHT],
                inout uvec4 u[IN_FLIGHT]) {
  const uint vecs = st.k / 8u;
  const uint lane = gl_SubgroupInvocationID;
  [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
    const uint v = lane + j * gl_SubgroupSize;
    if (v < vecs) {
      w[j] = w4[st.w + t * vecs + v];
      if (has_second) u[j] = w4[second_row(st, t, t2) + v];
    }
  }
}

// Output t (and t2 when not gated) from xs; the first round's weights are
// already in w and u when `loaded`.
void stream_rows(Stage st, uint t, uint t2, bool has_second, bool loaded, inout uvec4 w[IN_FLIGHT],
                 inout uvec4 u[IN_FLIGHT]) {
  const bool gated = st.gated != 0u;
  const uint vecs = st.k / 8u;
  const uint lane = gl_SubgroupInvocationID;
  const uint lanes = gl_SubgroupSize;
  const uint row_w = st.w + t * vecs;
  const uint row_2 = second_row(st, t, t2);
  float acc = 0.0;
  float acc_2 = 0.0;
  for (uint v0 = 0u; v0 < vecs; v0 += IN_FLIGHT * lanes) {
    if (!loaded || v0 != 0u) {
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

// The flat product. A workgroup's rows of a stage are first_row,
// first_row + stride, ...; taken in blocks of rows whose chunks fit in the
// partials. Element e of a block is vector e % V of its row e / V, and
// step m covers elements m * WG .. m * WG + WG - 1, so a subgroup's lanes
// read consecutive vectors of one row (V is a multiple of the lanes).
uint flat_block_rows(Stage st) { return max(1u, PARTIALS * gl_SubgroupSize / (st.k / 8u)); }

uint flat_rows_of(Stage st, uint first_row, uint stride) {
  return first_row < st.n ? (st.n - first_row + stride - 1u) / stride : 0u;
}

// Steps a round loads: IN_FLIGHT into w (and the same vectors of U into u
// when gated), else 2 * IN_FLIGHT, the second half into u.
uint flat_round(Stage st) { return st.gated != 0u ? IN_FLIGHT : 2u * IN_FLIGHT; }

void flat_load(Stage st, uint first_row, uint stride, uint b, uint block, uint m0,
               inout uvec4 w[IN_FLIGHT], inout uvec4 u[IN_FLIGHT]) {
  const uint V = st.k / 8u;  // a power of two here
  const uint vs = uint(findMSB(V));
  const uint total = block * V;
  const bool gated = st.gated != 0u;
  [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
    const uint e = gl_LocalInvocationIndex + (m0 + j) * WG;
    if (e < total) {
      const uint at = (first_row + (b + (e >> vs)) * stride) * V + (e & (V - 1u));
      w[j] = w4[st.w + at];
      if (gated) u[j] = w4[st.u + at];
    }
    if (!gated) {
      const uint e2 = gl_LocalInvocationIndex + (m0 + IN_FLIGHT + j) * WG;
      if (e2 < total) u[j] = w4[st.w + (first_row + (b + (e2 >> vs)) * stride) * V + (e2 & (V - 1u))];
    }
  }
}

void flat_partial(uint m, uint total, float p, bool to_u) {
  const float sum = subgroupAdd(p);
  if (gl_SubgroupInvocationID == 0u && m * WG + gl_SubgroupID * gl_SubgroupSize < total) {
    const uint chunk = m * (WG / gl_SubgroupSize) + gl_SubgroupID;
    if (to_u) {
      partial_u[chunk] = sum;
    } else {
      partial_w[chunk] = sum;
    }
  }
}

// Call in workgroup-uniform control flow (it meets at barriers).
void flat_rows(Stage st, uint first_row, uint stride, uint rows, bool loaded,
               inout uvec4 w[IN_FLIGHT], inout uvec4 u[IN_FLIGHT]) {
  const uint V = st.k / 8u;  // a power of two here
  const uint vs = uint(findMSB(V));
  const bool gated = st.gated != 0u;
  const uint lid = gl_LocalInvocationIndex;
  const uint block_max = flat_block_rows(st);
  for (uint b = 0u; b < rows; b += block_max) {
    const uint block = min(block_max, rows - b);
    const uint total = block * V;
    const uint steps = (total + WG - 1u) / WG;
    for (uint m0 = 0u; m0 < steps; m0 += flat_round(st)) {
      if (!loaded || b != 0u || m0 != 0u) flat_load(st, first_row, stride, b, block, m0, w, u);
      [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
        const uint e = lid + (m0 + j) * WG;
        flat_partial(m0 + j, total, e < total ? dot8(w[j], (e & (V - 1u))) : 0.0, false);
        if (gated) {
          flat_partial(m0 + j, total, e < total ? dot8(u[j], (e & (V - 1u))) : 0.0, true);
        } else {
          const uint e2 = lid + (m0 + IN_FLIGHT + j) * WG;
          flat_partial(m0 + IN_FLIGHT + j, total, e2 < total ? dot8(u[j], (e2 & (V - 1u))) : 0.0, false);
        }
      }
    }
    barrier();
    const uint chunks = V / gl_SubgroupSize;
    for (uint i = lid; i < block; i += WG) {
      float g = 0.0;
      float v = 0.0;
      for (uint c = 0u; c < chunks; ++c) {
        g += partial_w[i * chunks + c];
        if (gated) v += partial_u[i * chunks + c];
      }
      const uint row = first_row + (b + i) * stride;
      act[st.out_at + row] = gated ? g / (1.0 + exp(-g)) * v : g;
    }
    barrier();  // the partials are written again by the next block
  }
}

// The span product. A block's stream of vectors is cut into chunks of
// one vector per lane (V is a multiple of the lanes, so a chunk lies in
// one row), and subgroup i takes the i-th of gl_NumSubgroups equal runs
// of chunks. A lane adds its products in registers and the subgroup sums
// them only where a row ends within its run, or the run ends: one
// subgroupAdd per row piece, not per vector as in flat_rows. The sums go
// to the piece's last chunk (zeros elsewhere), and each row adds its
// chunks in order.
void span_load(Stage st, uint first_row, uint stride, uint b, uint c0, uint end,
               inout uvec4 w[IN_FLIGHT], inout uvec4 u[IN_FLIGHT]) {
  const uint V = st.k / 8u;  // a power of two here
  const uint vs = uint(findMSB(V));
  const uint lanes = gl_SubgroupSize;
  const bool gated = st.gated != 0u;
  [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
    const uint e = (c0 + j) * lanes + gl_SubgroupInvocationID;
    if (c0 + j < end) {
      const uint at = (first_row + (b + (e >> vs)) * stride) * V + (e & (V - 1u));
      w[j] = w4[st.w + at];
      if (gated) u[j] = w4[st.u + at];
    }
    if (!gated) {
      const uint e2 = (c0 + IN_FLIGHT + j) * lanes + gl_SubgroupInvocationID;
      if (c0 + IN_FLIGHT + j < end) u[j] = w4[st.w + (first_row + (b + (e2 >> vs)) * stride) * V + (e2 & (V - 1u))];
    }
  }
}

// Chunk c's products are in acc (and acc_u): store the piece's sums if a
// row or the run ends at c, else a zero.
void span_chunk(uint c, uint end, uint V, bool gated, inout float acc, inout float acc_u) {
  const bool last = c + 1u == end || (((c + 1u) * gl_SubgroupSize) & (V - 1u)) == 0u;
  float sum = 0.0;
  float sum_u = 0.0;
  if (last) {
    sum = subgroupAdd(acc);
    if (gated) sum_u = subgroupAdd(acc_u);
    acc = 0.0;
    acc_u = 0.0;
  }
  if (gl_SubgroupInvocationID == 0u) {
    partial_w[c] = sum;
    if (gated) partial_u[c] = sum_u;
  }
}

// Chunks of a run sent for ahead: begin .. begin + PRE - 1 of W into
// pre_w, and of U (gated) or the next PRE chunks of W into pre_u.
void span_pre_load(Stage st, uint first_row, uint stride, uint begin, uint end) {
  const uint V = st.k / 8u;  // a power of two here
  const uint vs = uint(findMSB(V));
  const uint lanes = gl_SubgroupSize;
  const bool gated = st.gated != 0u;
  [[unroll]] for (uint j = 0u; j < PRE; ++j) {
    const uint e = (begin + j) * lanes + gl_SubgroupInvocationID;
    if (begin + j < end) {
      const uint at = (first_row + (e >> vs) * stride) * V + (e & (V - 1u));
      pre_w[j] = w4[st.w + at];
      if (gated) pre_u[j] = w4[st.u + at];
    }
    if (!gated) {
      const uint e2 = (begin + PRE + j) * lanes + gl_SubgroupInvocationID;
      if (begin + PRE + j < end) pre_u[j] = w4[st.w + (first_row + (e2 >> vs) * stride) * V + (e2 & (V - 1u))];
    }
  }
}

// Call in workgroup-uniform control flow (it meets at barriers).
void span_rows(Stage st, uint first_row, uint stride, uint rows, bool loaded,
               inout uvec4 w[IN_FLIGHT], inout uvec4 u[IN_FLIGHT]) {
  const uint V = st.k / 8u;  // a power of two here
  const uint vs = uint(findMSB(V));
  const uint lanes = gl_SubgroupSize;
  const bool gated = st.gated != 0u;
  const uint block_max = flat_block_rows(st);
  const uint round = flat_round(st);
  for (uint b = 0u; b < rows; b += block_max) {
    const uint block = min(block_max, rows - b);
    const uint chunks = block * V / lanes;
    const uint begin = chunks * gl_SubgroupID / gl_NumSubgroups;
    const uint end = chunks * (gl_SubgroupID + 1u) / gl_NumSubgroups;
    float acc = 0.0;
    float acc_u = 0.0;
    uint start = begin;
    bool start_loaded = loaded && b == 0u;
    if (PRE != 0u && loaded && b == 0u) {
      // The chunks in pre_w and pre_u, after sending for the round after
      // them, so that it is in flight while they are added.
      start = begin + (gated ? PRE : 2u * PRE);
      start_loaded = start < end;
      if (start_loaded) span_load(st, first_row, stride, b, start, end, w, u);
      [[unroll]] for (uint j = 0u; j < PRE; ++j) {
        const uint c = begin + j;
        if (c < end) {
          const uint e = c * lanes + gl_SubgroupInvocationID;
          acc += dot8(pre_w[j], (e & (V - 1u)));
          if (gated) acc_u += dot8(pre_u[j], (e & (V - 1u)));
          span_chunk(c, end, V, gated, acc, acc_u);
        }
      }
      if (!gated) {
        [[unroll]] for (uint j = 0u; j < PRE; ++j) {
          const uint c = begin + PRE + j;
          if (c < end) {
            acc += dot8(pre_u[j], ((c * lanes + gl_SubgroupInvocationID) & (V - 1u)));
            span_chunk(c, end, V, false, acc, acc_u);
          }
        }
      }
    }
    for (uint c0 = start; c0 < end; c0 += round) {
      if (!start_loaded || c0 != start) span_load(st, first_row, stride, b, c0, end, w, u);
      [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
        const uint c = c0 + j;
        if (c < end) {
          const uint e = c * lanes + gl_SubgroupInvocationID;
          acc += dot8(w[j], (e & (V - 1u)));
          if (gated) acc_u += dot8(u[j], (e & (V - 1u)));
          span_chunk(c, end, V, gated, acc, acc_u);
        }
      }
      if (!gated) {
        [[unroll]] for (uint j = 0u; j < IN_FLIGHT; ++j) {
          const uint c = c0 + IN_FLIGHT + j;
          if (c < end) {
            acc += dot8(u[j], ((c * lanes + gl_SubgroupInvocationID) & (V - 1u)));
            span_chunk(c, end, V, false, acc, acc_u);
          }
        }
      }
    }
    barrier();
    const uint row_chunks = V / lanes;
    for (uint i = gl_LocalInvocationIndex; i < block; i += WG) {
      float g = 0.0;
      float v = 0.0;
      for (uint c = 0u; c < row_chunks; ++c) {
        g += partial_w[i * row_chunks + c];
        if (gated) v += partial_u[i * row_chunks + c];
      }
      act[st.out_at + first_row + (b + i) * stride] = gated ? g / (1.0 + exp(-g)) * v : g;
    }
    barrier();  // the partials are written again by the next block
  }
}

// The ticket form: chunks of gl_NumSubgroups rows (gated: pairs), taken in
// order from the counter after the give-up count.
shared uint ticket_shared;

uint chunks_of(Stage st) { return (st.n + gl_NumSubgroups - 1u) / gl_NumSubgroups; }

void ticket_main() {
  const uint ticket_counter = pc.first + pc.count + 1u;
  uint entered = 0xffffffffu;  // the stage whose input is in xs
  uvec4 w[IN_FLIGHT];
  uvec4 u[IN_FLIGHT];
  for (;;) {
    if (gl_LocalInvocationIndex == 0u) ticket_shared = atomicAdd(counters[ticket_counter], 1u);
    barrier();
    uint chunk = ticket_shared;
    barrier();  // every invocation has read it before the next ticket
    uint s = pc.first;
    while (s < pc.first + pc.count && chunk >= chunks_of(stages[s])) {
      chunk -= chunks_of(stages[s]);
      ++s;
    }
    if (s == pc.first + pc.count) return;
    const Stage st = stages[s];
    const bool gated = st.gated != 0u;
    const uint t = chunk * gl_NumSubgroups + gl_SubgroupID;
    const bool has_row = t < st.n;
    const bool pre = pc.prefetch != 0u && has_row && s != entered;
    if (pre) load_first(st, t, 0u, gated, w, u);
    if (s != entered) {
      if (s > pc.first) wait_for(s - 1u, chunks_of(stages[s - 1u]));
      stage_input(st);
      entered = s;
    }
    if (has_row) stream_rows(st, t, 0u, gated, pre, w, u);
    memoryBarrierBuffer();
    barrier();
    if (gl_LocalInvocationIndex == 0u) atomicAdd(counters[s], 1u);
  }
}

void main() {
  if (pc.persistent == 4u) {
    ticket_main();
    return;
  }
  const uint subgroups = gl_NumWorkGroups.x * gl_NumSubgroups;
  const uint first_task = SPREAD != 0u ? gl_SubgroupID * gl_NumWorkGroups.x + gl_WorkGroupID.x
                                        : gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
  for (uint s = pc.first; s < pc.first + pc.count; ++s) {
    const Stage st = stages[s];
    // A subgroup streams two weight rows at a time: W and U of one output
    // (gated), or W's rows t and t + subgroups.
    const bool gated = st.gated != 0u;
    const uint step = gated ? subgroups : 2u * subgroups;
    uvec4 w[IN_FLIGHT];
    uvec4 u[IN_FLIGHT];
    if (FLAT != 0u) {
      const uint G = gl_NumWorkGroups.x;
      const uint rows = flat_rows_of(st, gl_WorkGroupID.x, G);
      const bool pre = pc.prefetch != 0u && rows > 0u;
      if (pre) {
        const uint block = min(flat_block_rows(st), rows);
        if (FLAT == 2u) {
          const uint chunks = block * (st.k / 8u) / gl_SubgroupSize;
          const uint begin = chunks * gl_SubgroupID / gl_NumSubgroups;
          const uint end = chunks * (gl_SubgroupID + 1u) / gl_NumSubgroups;
          if (PRE != 0u) {
            span_pre_load(st, gl_WorkGroupID.x, G, begin, end);
          } else {
            span_load(st, gl_WorkGroupID.x, G, 0u, begin, end, w, u);
          }
        } else {
          flat_load(st, gl_WorkGroupID.x, G, 0u, block, 0u, w, u);
        }
      }
      if (pc.persistent == 1u && s > pc.first) wait_for(s - 1u, G);
      stage_input(st);
      if (rows > 0u) {
        if (FLAT == 2u) {
          span_rows(st, gl_WorkGroupID.x, G, rows, pre, w, u);
        } else {
          flat_rows(st, gl_WorkGroupID.x, G, rows, pre, w, u);
        }
      }
    } else {
      // The first pair's first weights, sent for before the wait, into the
      // registers its first round uses.
      const bool has_pre = pc.prefetch != 0u && first_task < st.n;
      if (has_pre) {
        load_first(st, first_task, first_task + subgroups, gated || first_task + subgroups < st.n, w,
                   u);
      }
      // Bit 1 of `persistent`: no waits (a control; results wrong).
      if (pc.persistent == 1u && s > pc.first) wait_for(s - 1u, gl_NumWorkGroups.x);
      stage_input(st);
      for (uint t = first_task; t < st.n; t += step) {
        const uint t2 = t + subgroups;  // the second row's output when not gated
        stream_rows(st, t, t2, gated || t2 < st.n, has_pre && t == first_task, w, u);
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
