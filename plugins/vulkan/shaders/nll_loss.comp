#version 450
// nll_loss: the negative log-likelihood of class scores x [N, C, d...] at
// target indices [N, d...] (i32 or i64), optionally weighted per class;
// reduction none writes one loss per target, sum and mean one value (mean
// divides by the sum of the weights). Targets equal to ignore_index count
// for nothing; one outside [0, C) (an error on cpu) counts for nothing too.
// One workgroup: the losses are few (one per target), and the sums need
// every one of them.
#include "common.glsl"
#include "reduce.glsl"

layout(std430, binding = 0) readonly buffer In { ELEM x[]; };
layout(std430, binding = 1) readonly buffer Target { uint target_words[]; };
layout(std430, binding = 2) readonly buffer Weight { ELEM weight[]; };
layout(std430, binding = 3) writeonly buffer Out { ELEM o[]; };

// Mirrors NllLossPush in shader_interface.hpp.
layout(push_constant) uniform Push {
  uint count;      // targets
  uint classes;
  uint spatial;    // product of the d... dims
  uint flags;      // 1: weighted
  uint reduction;  // 0 none, 1 sum, 2 mean
  uint id_words;   // 1 (i32) or 2 (i64)
  uint ignore_low;   // ignore_index as two words of an i64
  uint ignore_high;
} pc;

void main() {
  const uint lid = gl_LocalInvocationID.x;
  float loss_sum = 0.0;
  float weight_sum = 0.0;
  for (uint i = lid; i < pc.count; i += WG) {
    const uint low = target_words[i * pc.id_words];
    const uint high = pc.id_words == 2u ? target_words[i * 2u + 1u]
                                        : (int(low) < 0 ? 0xffffffffu : 0u);
    float loss = 0.0;
    const bool ignored = low == pc.ignore_low && high == pc.ignore_high;
    if (!ignored && high == 0u && low < pc.classes) {
      const float w = (pc.flags & 1u) != 0u ? float(weight[low]) : 1.0;
      loss = -float(x[((i / pc.spatial) * pc.classes + low) * pc.spatial + i % pc.spatial]) * w;
      weight_sum += w;
    }
    loss_sum += loss;
    if (pc.reduction == 0u) o[i] = ELEM(loss);
  }
  if (pc.reduction == 0u) return;
  const float total = workgroup_sum(loss_sum);
  const float weights = workgroup_sum(weight_sum);
  if (lid == 0u) o[0] = ELEM(pc.reduction == 1u ? total : total / weights);
}
