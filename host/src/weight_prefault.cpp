// prefault_weights(): page tables for weights that wrap a memory-mapped
// checkpoint, made while something else waits (a plugin starting its
// device), so that the plugin's upload reads them without page faults.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>

#include "rtscope/llama_checkpoint.hpp"

namespace rtscope {
namespace {

// Small enough that `stop` is asked every few milliseconds.
constexpr uintptr_t kSliceBytes = uintptr_t{32} << 20;

}  // namespace

uint64_t prefault_weights(const Graph& graph, const std::function<bool()>& stop) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  uint64_t done = 0;
  for (const Weight& weight : graph.weights) {
    if (weight.init.kind != WeightInit::Kind::tensor || weight.init.data.size_bytes() == 0) {
      continue;
    }
    const auto begin = reinterpret_cast<uintptr_t>(weight.init.data.data_as<unsigned char>());
    const uintptr_t end = begin + weight.init.data.size_bytes();
    for (uintptr_t slice = begin / page * page; slice < end; slice += kSliceBytes) {
      if (stop()) return done;
      const uintptr_t length = std::min(kSliceBytes, end - slice);
      // Read-only population: a private file mapping stays shared with the
      // page cache (no copy); failure (an old kernel) only loses the gain.
      if (::madvise(reinterpret_cast<void*>(slice), length, MADV_POPULATE_READ) != 0) return done;
      done += length;
    }
  }
  return done;
}

}  // namespace rtscope
