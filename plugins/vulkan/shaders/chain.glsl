// Batches of dispatches chained without a pipeline barrier (command_list.hpp,
// CommandList::chain_batches): every workgroup of a batch counts itself in
// a counter when its writes are done, and every workgroup of the next batch
// waits for that count before it reads them. The next batch's workgroups
// thus start while the batch before drains, and can send for their weights
// meanwhile (matvec_t.comp), where a barrier would leave the device idle
// between the two.
// Relies on the device starting a dispatch's workgroups only after every
// workgroup of the dispatches recorded before it has started, so that a
// waiting workgroup never holds the place of one it waits for; the host
// enables chaining only on devices known to (DeviceCaps::chain_batches).
// A wait gives up after CHAIN_SPIN_LIMIT polls and sets word 0, which the
// host checks after the submit, so a device that does not keep that order
// fails the execute with an error instead of hanging.
// Reads of what earlier chained batches wrote must bypass the
// non-coherent caches: an including shader reads such data through
// `coherent` declarations when it waits (chain_waits()).
// The including shader ends its push block with CHAIN_PUSH_FIELDS
// (common.glsl), includes this after it, and declares nothing else at
// binding 6.
#ifndef RTSCOPE_CHAIN_GLSL
#define RTSCOPE_CHAIN_GLSL

// Volatile: a wait polls with plain loads, which many workgroups can make
// at once, where atomic read-modify-writes on one word queue behind each
// other (and behind the counts they wait for).
layout(std430, binding = 6) coherent volatile buffer Chain { uint chain_words[]; };

const uint CHAIN_SPIN_LIMIT = 1u << 22;

shared bool chain_ready;

bool chain_waits() { return pc.chain_wait_slot != 0u; }
// Whether a waiting dispatch first sends for the weights it reads first.
bool chain_touches() { return pc.chain_touch != 0u; }

// Whether the batch this dispatch waits on has finished (a single poll; any
// invocation).
bool chain_done() { return chain_words[pc.chain_wait_slot] >= pc.chain_wait_count; }

// Waits until the batch before has finished. In uniform control flow of
// the workgroup (it holds a barrier).
void chain_wait() {
  if (!chain_waits()) return;
  if (gl_LocalInvocationIndex == 0u) {
    bool ready = chain_done();
    // Between polls each waiter spends about as long as a poll takes on
    // arithmetic alone (pc.chain_backoff steps of a dependent chain), so
    // the waiting workgroups do not crowd the counter's cache slice.
    float delay = float(pc.chain_wait_count);
    for (uint polls = 1u; !ready && polls < CHAIN_SPIN_LIMIT; ++polls) {
      for (uint i = 0u; i < pc.chain_backoff; ++i) delay = fma(delay, 0.999, 1e-3);
      ready = chain_done() || delay < -1.0;  // never below: keeps the chain
    }
    if (!ready) atomicOr(chain_words[0], 1u);  // the host fails the execute
  }
  memoryBarrierBuffer();
  barrier();
  memoryBarrierBuffer();
}

// Counts this workgroup as finished once its writes are visible. In
// uniform control flow of the workgroup, after its last write.
void chain_signal() {
  if (pc.chain_signal_slot == 0u) return;
  memoryBarrierBuffer();
  barrier();
  if (gl_LocalInvocationIndex == 0u) atomicAdd(chain_words[pc.chain_signal_slot], 1u);
}

#endif  // RTSCOPE_CHAIN_GLSL
