// Workgroup-wide reductions through shared memory for the row shaders
// (softmax, norms, attention). WG, the workgroup size, is a power of two
// chosen per device (a specialization constant). Every invocation of the
// workgroup must call these in uniform control flow.
#ifndef RTSCOPE_REDUCE_GLSL
#define RTSCOPE_REDUCE_GLSL

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 128;

shared float reduce_scratch[WG];

float workgroup_sum(float v) {
  const uint lid = gl_LocalInvocationID.x;
  reduce_scratch[lid] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) reduce_scratch[lid] += reduce_scratch[lid + s];
    barrier();
  }
  const float r = reduce_scratch[0];
  barrier();  // the scratch is reused by the next call
  return r;
}

float workgroup_max(float v) {
  const uint lid = gl_LocalInvocationID.x;
  reduce_scratch[lid] = v;
  barrier();
  for (uint s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) reduce_scratch[lid] = max(reduce_scratch[lid], reduce_scratch[lid + s]);
    barrier();
  }
  const float r = reduce_scratch[0];
  barrier();
  return r;
}

#endif  // RTSCOPE_REDUCE_GLSL
