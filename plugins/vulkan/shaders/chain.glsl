// Chained batches (CommandList::finalize): a decode step's split
// attention (attention_split, which waits) is recorded without a pipeline
// barrier after the q, k and v projections it reads (matvec_t, which
// counts): every workgroup of the projections counts itself into the
// batch's counter once its writes are visible, and every attention
// workgroup with keys to score waits for the full count before it reads
// q, k or v. A barrier drains the device and starts the next batch's
// workgroups cold (about 4.8 µs on an H100 or H200); the attention's
// workgroups are already resident when the count completes.
//
// Only attention waits: it reads each of q, k and v about once, so its
// `coherent` reads (no stale line of a non-coherent cache where a barrier
// would have invalidated it) cost nothing. A projection reads its whole
// input row in every workgroup; read past the L1 cache that cost more
// than the barriers it saved (docs/benchmarks.md, chained batches).
//
// Progress: a device starts a dispatch's workgroups once it has started
// every workgroup of the dispatches recorded before it, so the
// workgroups a count waits for are running or done (lavapipe runs the
// dispatches one after another). The wait is bounded all the same: past
// 2^22 polls it sets the stall word (binding kChainStallBinding,
// host-visible; declared with CHAIN_WAITS) and goes on, and the host fails
// the execute (Context) rather than hang the device.
//
// The shader's push block ends with CHAIN_PUSH (mirrors ChainPush at
// kChainPushOffset in shader_interface.hpp); the functions take its words.

#define CHAIN_PUSH                      \
  layout(offset = 112) uint chain_wait; \
  uint chain_count;                     \
  uint chain_signal;                    \
  uint chain_unused;

// kChainBinding. Volatile: every poll reads the counter again.
layout(std430, binding = 7) volatile coherent buffer ChainCounters { uint chain[]; };

// 2^22 polls at most (a few seconds on a GPU), as two nested loops:
// lavapipe's compiler ends any single loop after 65535 iterations.
const uint CHAIN_POLL_ROUNDS = 1024u;
const uint CHAIN_POLLS_PER_ROUND = 4096u;

#ifdef CHAIN_WAITS
layout(std430, binding = 6) buffer ChainStall { uint chain_stall[]; };

// Polls counter `wait` until it reaches `count`, or sets the stall word.
void chain_poll(uint wait, uint count) {
  for (uint round = 0u; round < CHAIN_POLL_ROUNDS; ++round) {
    for (uint poll = 0u; poll < CHAIN_POLLS_PER_ROUND; ++poll) {
      if (chain[wait] >= count) return;
    }
  }
  chain_stall[0] = 1u;
}

// Waits for the batch before, one invocation polling for the workgroup.
// Call in workgroup-uniform control flow.
void chain_wait_workgroup(uint wait, uint count) {
  if (wait == 0u) return;
  if (gl_LocalInvocationIndex == 0u) chain_poll(wait, count);
  barrier();
  memoryBarrierBuffer();
}

#endif  // CHAIN_WAITS

// Counts the workgroup in once every invocation's writes are visible. Call
// once per workgroup, in workgroup-uniform control flow, after its last
// write.
void chain_signal_workgroup(uint signal) {
  if (signal == 0u) return;
  memoryBarrierBuffer();
  barrier();
  if (gl_LocalInvocationIndex == 0u) atomicAdd(chain[signal], 1u);
}
