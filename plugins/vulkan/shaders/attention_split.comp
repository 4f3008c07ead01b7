#version 450
// Causal attention for decode steps, split over key blocks (split-K): the
// same result as attention.comp, q [B, H, S, Dh] against k and v
// [B, Hkv, T, Dh], query s seeing keys j ≤ pos+s, but with one workgroup per
// (row, block of BLOCK keys) instead of one per row, so that a step's few
// rows fill the device. Two dispatches of this shader:
//   partial (flags bit 1 clear): workgroup (block, row) writes its block's
//     max score m, sum of exp(score − m) l and Σ exp(score − m)·v into the
//     scratch buffer; blocks past the row's visible keys return at once (the
//     grid covers the whole cache, since pos is only known on the device).
//   combine (bit 1 set): one workgroup per row merges the visible blocks,
//     out = Σ exp(m_b − M)·acc_b / Σ exp(m_b − M)·l_b with M = max m_b.
// Or one dispatch (bit 2 set): the partial pass, after which each visible
// block counts itself in its row's counter (the scratch's first words,
// zero between dispatches), and the block that counts last merges the
// row as the combine pass would and sets the counter back to zero; the
// output is then binding 5. A decode step saves the combine's dispatch
// and the barrier before it.
// A decode step's attention is bound by latency, not bandwidth (a block of
// 32 keys is 16 KB at Dh 128): with flags bit 3 (q, k and v rows of whole
// 16-byte vectors) and Dh / VEC dividing WG, partial_pass_vectors issues
// every load of the block (the query, keys and values) before using any,
// one round trip to memory where the element-wise pass takes one per key
// it walks, and the combine loads every block's partials at once (8
// blocks per round trip).
// Chained (chain.glsl): a workgroup with keys to score waits for the
// batch before first, and every workgroup counts itself in when done; q,
// k and v are read coherent.
// Requires WG ≥ BLOCK (the host checks).
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
#include "vec16.glsl"
#define CHAIN_WAITS
#include "chain.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;

const uint MAX_HEAD_DIM = 256;
const uint BLOCK = 32;  // keys per workgroup; kAttentionSplitBlock

// Binding 0 is q in the partial pass and the output in the combine pass.
layout(std430, binding = 0) coherent readonly buffer Q { ELEM q[]; };
layout(std430, binding = 0) coherent readonly buffer QVectors { uvec4 q4[]; };
layout(std430, binding = 0) writeonly buffer Out { ELEM o[]; };
layout(std430, binding = 1) coherent readonly buffer K { ELEM k[]; };
// The same cache as 16-byte vectors, for rows that hold whole vectors.
layout(std430, binding = 1) coherent readonly buffer KVectors { uvec4 k4[]; };
layout(std430, binding = 2) coherent readonly buffer V { ELEM v[]; };
layout(std430, binding = 2) coherent readonly buffer VVectors { uvec4 v4[]; };
layout(std430, binding = 3) readonly buffer Pos { uint pos_words[]; };
// One counter per row (rounded up to 4 words), then per (row, block): m,
// l, then Dh accumulator sums, in f32. Coherent: with bit 2 a row's last
// block reads what the row's other workgroups wrote.
layout(std430, binding = 4) coherent buffer Scratch { float scratch[]; };
layout(std430, binding = 4) coherent buffer ScratchWords { uint scratch_words[]; };
layout(std430, binding = 5) writeonly buffer FusedOut { ELEM fused_out[]; };

// Mirrors AttentionPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint rows;  // B·H·S
  uint seq;
  uint cache_len;
  uint head_dim;
  float scale;
  uint flags;  // bit 0: key rows are 16-byte vectors (k4); bit 1: combine pass;
               // bit 2: partial pass that combines (output in binding 5);
               // bit 3: q, k and v rows are 16-byte vectors (q4, k4, v4)
  uint per_pos;  // rows per position: 0 (pos [1]) or H·S (pos [B], batch row b at pos[b])
  uint group;  // query heads per KV head: H / Hkv
  CHAIN_PUSH
} pc;


// Shape constants (SHAPE in common.glsl): push words 0..3.
SHAPE_CONSTANT(8, S_ROWS);
SHAPE_CONSTANT(9, S_SEQ);
SHAPE_CONSTANT(10, S_CACHE_LEN);
SHAPE_CONSTANT(11, S_HEAD_DIM);

shared float query[MAX_HEAD_DIM];
shared float part_scores[WG];  // WG / BLOCK partial dot products per key
shared float weights[BLOCK];
shared float part_values[WG];
shared bool last_block;

// partial_pass_vectors: rounds of ROUNDS·WG units whose loads go out
// together.
const uint ROUNDS = 4u;
// Its per-unit dot products (ROUNDS·WG), then its per-invocation value
// sums (WG·VEC).
shared float unit_sums[ROUNDS * WG > WG * VEC ? ROUNDS * WG : WG * VEC];

// Where the partials start in the scratch, after the row counters.
uint partials_base(uint rows) { return (rows + 3u) & ~3u; }

// Sum of query[i·VEC ..] · key vector i over i = first, first+step, ...
float vector_dot(uint key_vector, uint vectors, uint first, uint step) {
  float acc = 0.0;
  for (uint i = first; i < vectors; i += step) {
    const uvec4 w = k4[key_vector + i];
#ifdef ELEM_F16
    for (uint h = 0u; h < 4u; ++h) {
      const vec2 pair = unpackHalf2x16(w[h]);
      acc = fma(query[i * 8u + h * 2u], pair.x, acc);
      acc = fma(query[i * 8u + h * 2u + 1u], pair.y, acc);
    }
#else
    const vec4 f = uintBitsToFloat(w);
    for (uint h = 0u; h < 4u; ++h) acc = fma(query[i * 4u + h], f[h], acc);
#endif
  }
  return acc;
}

// Keys row `row` sees: the host rejects pos + S > T before submitting;
// clamp anyway so a bad position can never read outside the cache.
uint visible_keys(uint row, uint seq, uint cache_len) {
  const int pos = POSITION(pos_words, row, pc.per_pos);
  return uint(clamp(pos + int(row % seq) + 1, 0, int(cache_len)));
}

void partial_pass(uint row, uint block, uint dh, uint visible, uint cache_len, uint rows) {
  const uint lid = gl_LocalInvocationID.x;
  const uint key0 = block * BLOCK;
  const uint count = min(BLOCK, visible - key0);
  // Grouped-query: query plane b·H + h reads KV plane b·Hkv + h / group.
  const uint kv_base = (row / SHAPE(S_SEQ, pc.seq) / pc.group) * cache_len * dh;
  for (uint d = lid; d < dh; d += WG) query[d] = float(q[row * dh + d]);
  barrier();
  // Scores: WG / BLOCK invocations per key, each over every parts-th slice.
  const uint parts = WG / BLOCK;
  const uint key = lid / parts;
  const uint part = lid % parts;
  float dot_qk = 0.0;
  if (key < count) {
    const uint at = kv_base + (key0 + key) * dh;
    if ((pc.flags & 1u) != 0u) {
      dot_qk = vector_dot(at / VEC, dh / VEC, part, parts);
    } else {
      for (uint d = part; d < dh; d += parts) dot_qk = fma(query[d], float(k[at + d]), dot_qk);
    }
  }
  part_scores[lid] = dot_qk;
  barrier();
  if (lid < BLOCK) {
    float score = -1.0 / 0.0;
    if (lid < count) {
      score = 0.0;
      for (uint p = 0u; p < parts; ++p) score += part_scores[lid * parts + p];
      score *= pc.scale;
    }
    weights[lid] = score;
  }
  barrier();
  float block_max = -1.0 / 0.0;
  for (uint j = 0u; j < count; ++j) block_max = max(block_max, weights[j]);
  barrier();  // every invocation read the scores before they become weights
  if (lid < BLOCK) weights[lid] = lid < count ? exp(weights[lid] - block_max) : 0.0;
  barrier();
  const uint out_at =
      partials_base(rows) + (row * ((cache_len + BLOCK - 1u) / BLOCK) + block) * (dh + 2u);
  if (lid == 0u) {
    float sum = 0.0;
    for (uint j = 0u; j < count; ++j) sum += weights[j];
    scratch[out_at] = block_max;
    scratch[out_at + 1u] = sum;
  }
  // Values: WG / dh groups of dh invocations split the block's keys.
  if (dh <= WG) {
    const uint groups = WG / dh;
    const uint group = lid / dh;
    const uint d = lid % dh;
    float value = 0.0;
    if (group < groups) {
      for (uint j = group; j < count; j += groups) {
        value = fma(weights[j], float(v[kv_base + (key0 + j) * dh + d]), value);
      }
    }
    part_values[lid] = value;
    barrier();
    if (lid < dh) {
      float total = 0.0;
      for (uint g = 0u; g < groups; ++g) total += part_values[g * dh + lid];
      scratch[out_at + 2u + lid] = total;
    }
  } else {
    for (uint d = lid; d < dh; d += WG) {
      float value = 0.0;
      for (uint j = 0u; j < count; ++j) {
        value = fma(weights[j], float(v[kv_base + (key0 + j) * dh + d]), value);
      }
      scratch[out_at + 2u + d] = value;
    }
  }
}

// The partial pass over 16-byte vectors. Unit i of the block (vector
// i % units of key i / units, units = Dh / VEC) belongs to invocation
// i % WG: units divides WG, so an invocation's units are all one vector
// slot of the row (its query vector and value sums stay in registers) and
// a key's units sit side by side. Each round of ROUNDS·WG units loads its
// keys and values before using them; a decode step's block (32 keys of up
// to Dh 256 in f16) is one round.
void partial_pass_vectors(uint row, uint block, uint dh, uint visible, uint cache_len, uint rows) {
  const uint lid = gl_LocalInvocationID.x;
  const uint units = dh / VEC;
  const uint key0 = block * BLOCK;
  const uint count = min(BLOCK, visible - key0);
  const uint total = count * units;
  // Grouped-query: query plane b·H + h reads KV plane b·Hkv + h / group.
  const uint kv_first = ((row / SHAPE(S_SEQ, pc.seq) / pc.group) * cache_len + key0) * units;
  float query_part[VEC];
  unpack16(q4[row * units + lid % units], query_part);
  // Scores, a round at a time. A single round's value vectors wait in
  // registers (`held`) for the softmax: the decode step's case.
  const uint rounds = (total + ROUNDS * WG - 1u) / (ROUNDS * WG);
  uvec4 held[ROUNDS];
  for (uint round = 0u; round < rounds; ++round) {
    const uint first = round * ROUNDS * WG + lid;
    uvec4 keys[ROUNDS];
    [[unroll]] for (uint c = 0u; c < ROUNDS; ++c) {
      const uint i = first + c * WG;
      if (i < total) {
        keys[c] = k4[kv_first + i];
        held[c] = v4[kv_first + i];
      }
    }
    [[unroll]] for (uint c = 0u; c < ROUNDS; ++c) {
      float dot_qk = 0.0;
      if (first + c * WG < total) {
        float key[VEC];
        unpack16(keys[c], key);
        [[unroll]] for (uint e = 0u; e < VEC; ++e) dot_qk = fma(query_part[e], key[e], dot_qk);
      }
      unit_sums[c * WG + lid] = dot_qk;
    }
    barrier();
    // One invocation per key of the round adds up the key's units.
    const uint round_keys = ROUNDS * WG / units;
    const uint key = round * round_keys + lid;
    if (lid < round_keys && key < count) {
      float score = 0.0;
      for (uint u = 0u; u < units; ++u) score += unit_sums[lid * units + u];
      weights[key] = score * pc.scale;
    }
    barrier();  // unit_sums is written again next
  }
  float block_max = -1.0 / 0.0;
  for (uint j = 0u; j < count; ++j) block_max = max(block_max, weights[j]);
  // Values: an invocation's units share its slot, so it sums VEC output
  // elements over its keys.
  float value_sums[VEC];
  [[unroll]] for (uint e = 0u; e < VEC; ++e) value_sums[e] = 0.0;
  for (uint round = 0u; round < rounds; ++round) {
    const uint first = round * ROUNDS * WG + lid;
    [[unroll]] for (uint c = 0u; c < ROUNDS; ++c) {
      const uint i = first + c * WG;
      if (i < total) {
        float value[VEC];
        unpack16(rounds == 1u ? held[c] : v4[kv_first + i], value);
        const float p = exp(weights[i / units] - block_max);
        [[unroll]] for (uint e = 0u; e < VEC; ++e) value_sums[e] = fma(p, value[e], value_sums[e]);
      }
    }
  }
  const uint out_at =
      partials_base(rows) + (row * ((cache_len + BLOCK - 1u) / BLOCK) + block) * (dh + 2u);
  if (lid == 0u) {
    float sum = 0.0;
    for (uint j = 0u; j < count; ++j) sum += exp(weights[j] - block_max);
    scratch[out_at] = block_max;
    scratch[out_at + 1u] = sum;
  }
  // Invocation lid's sums are elements (lid % units)·VEC.. of key group
  // lid / units: at lid·VEC in a [WG / units, Dh] layout.
  [[unroll]] for (uint e = 0u; e < VEC; ++e) unit_sums[lid * VEC + e] = value_sums[e];
  barrier();
  const uint groups = WG / units;
  for (uint d = lid; d < dh; d += WG) {
    float total_value = 0.0;
    for (uint g = 0u; g < groups; ++g) total_value += unit_sums[g * dh + d];
    scratch[out_at + 2u + d] = total_value;
  }
}

// Partials of one output element loaded together in the combine.
const uint COMBINE_IN_FLIGHT = 8u;
// Output elements per invocation in the combine (Dh ≤ MAX_HEAD_DIM, and
// WG ≥ BLOCK).
const uint COMBINE_ELEMENTS = (MAX_HEAD_DIM + WG - 1u) / WG;

// Merges row `row`'s visible blocks in one round trip per
// COMBINE_IN_FLIGHT blocks: each output element loads every block's
// maximum m_b, sum l_b and its own element of the block's value sums
// together, and folds them into a running maximum M with the sums rescaled
// by exp(M_old − M) as it rises (an online softmax over the blocks):
// out = Σ exp(m_b − M)·acc_b / Σ exp(m_b − M)·l_b. A decode step's few
// blocks are one round, with no barrier and nothing shared between the
// invocations. Called by the whole workgroup.
void combine_pass(uint row, uint dh, uint visible, uint cache_len, uint rows, bool fused) {
  const uint lid = gl_LocalInvocationID.x;
  const uint blocks = (cache_len + BLOCK - 1u) / BLOCK;
  const uint used = (visible + BLOCK - 1u) / BLOCK;
  const uint first = partials_base(rows) + row * blocks * (dh + 2u);
  [[unroll]] for (uint j = 0u; j < COMBINE_ELEMENTS; ++j) {
    const uint d = lid + j * WG;
    if (d < dh) {
      float running_max = -1.0 / 0.0;
      float sum = 0.0;
      float value = 0.0;
      for (uint b0 = 0u; b0 < used; b0 += COMBINE_IN_FLIGHT) {
        float maxima[COMBINE_IN_FLIGHT];
        float sums[COMBINE_IN_FLIGHT];
        float parts[COMBINE_IN_FLIGHT];
        [[unroll]] for (uint c = 0u; c < COMBINE_IN_FLIGHT; ++c) {
          const uint at = first + (b0 + c) * (dh + 2u);
          const bool here = b0 + c < used;
          maxima[c] = here ? scratch[at] : -1.0 / 0.0;
          sums[c] = here ? scratch[at + 1u] : 0.0;
          parts[c] = here ? scratch[at + 2u + d] : 0.0;
        }
        float new_max = running_max;
        [[unroll]] for (uint c = 0u; c < COMBINE_IN_FLIGHT; ++c) new_max = max(new_max, maxima[c]);
        // Nothing folded in yet (or only blocks without a finite maximum):
        // no rescale, and no exp(-inf - -inf).
        const float rescale = isinf(running_max) ? 0.0 : exp(running_max - new_max);
        sum *= rescale;
        value *= rescale;
        [[unroll]] for (uint c = 0u; c < COMBINE_IN_FLIGHT; ++c) {
          if (b0 + c < used) {
            const float factor = exp(maxima[c] - new_max);
            sum = fma(factor, sums[c], sum);
            value = fma(factor, parts[c], value);
          }
        }
        running_max = new_max;
      }
      const float result = sum > 0.0 ? value / sum : 0.0;
      if (fused) {
        fused_out[row * dh + d] = ELEM(result);
      } else {
        o[row * dh + d] = ELEM(result);
      }
    }
  }
}

// The pass this workgroup runs (main counts it in after).
void run_pass() {
  const uint ROWS = SHAPE(S_ROWS, pc.rows);
  const uint SEQ = SHAPE(S_SEQ, pc.seq);
  const uint CACHE_LEN = SHAPE(S_CACHE_LEN, pc.cache_len);
  const uint dh = SHAPE(S_HEAD_DIM, pc.head_dim);
  if ((pc.flags & 2u) != 0u) {
    chain_wait_workgroup(pc.chain_wait, pc.chain_count);
    for (uint row = gl_WorkGroupID.x; row < ROWS; row += gl_NumWorkGroups.x) {
      combine_pass(row, dh, visible_keys(row, SEQ, CACHE_LEN), CACHE_LEN, ROWS, false);
    }
    return;
  }
  const bool fused = (pc.flags & 4u) != 0u;
  const uint row = gl_WorkGroupID.y;
  const uint block = gl_WorkGroupID.x;
  if (row >= ROWS) return;
  const uint visible = visible_keys(row, SEQ, CACHE_LEN);
  // Uniform per workgroup, before any barrier: a block past the row's
  // visible keys has nothing to add (the combine skips it). A row that
  // sees no key (a position the host could not check) still gets its
  // zeros, from block 0.
  if (block * BLOCK >= visible) {
    if (fused && visible == 0u && block == 0u) {
      chain_wait_workgroup(pc.chain_wait, pc.chain_count);  // it writes the output
      combine_pass(row, dh, 0u, CACHE_LEN, ROWS, true);
    }
    return;
  }
  chain_wait_workgroup(pc.chain_wait, pc.chain_count);
  if ((pc.flags & 8u) != 0u && WG % (dh / VEC) == 0u) {
    partial_pass_vectors(row, block, dh, visible, CACHE_LEN, ROWS);
  } else {
    partial_pass(row, block, dh, visible, CACHE_LEN, ROWS);
  }
  if (!fused) return;
  // The partials are written before the count says so; the row's last
  // block reads them after it.
  memoryBarrierBuffer();
  barrier();
  if (gl_LocalInvocationID.x == 0u) {
    const uint used = (visible + BLOCK - 1u) / BLOCK;
    last_block = atomicAdd(scratch_words[row], 1u) == used - 1u;
  }
  barrier();
  if (!last_block) return;
  memoryBarrierBuffer();
  combine_pass(row, dh, visible, CACHE_LEN, ROWS, true);
  if (gl_LocalInvocationID.x == 0u) scratch_words[row] = 0u;
}

void main() {
  run_pass();
  chain_signal_workgroup(pc.chain_signal);
}
