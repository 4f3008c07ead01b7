// prefault_weights(): page tables for weights that wrap a memory-mapped
// checkpoint, made while something else waits (a plugin starting its
// device), so that the plugin's upload reads them without page faults.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>

#include "rtscope/llama_checkpoint.hpp"

namespace rtscope {
namespace {

// Small enough that `stop` is asked every few milliseconds.
constexpr uintptr_t kSliceBytes = uintptr_t{32} << 20;

// One read per page maps it (and, through the kernel's fault-around, its
// neighbours already in the page cache): what MADV_POPULATE_READ does in one
// call, for kernels before 5.14 that refuse it.
void touch_pages(uintptr_t begin, uintptr_t length, uintptr_t page) {
  unsigned char sum = 0;
  for (uintptr_t at = begin; at < begin + length; at += page) {
    sum ^= *reinterpret_cast<const volatile unsigned char*>(at);
  }
  [[maybe_unused]] volatile unsigned char sink = sum;
}

}  // namespace

uint64_t prefault_weights(const Graph& graph, const std::function<bool()>& stop,
                          PrefaultMethod method) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  bool touch = method == PrefaultMethod::touch;
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
      // page cache (no copy). A kernel without MADV_POPULATE_READ (EINVAL)
      // gets the page-by-page reads instead.
      if (!touch && ::madvise(reinterpret_cast<void*>(slice), length, MADV_POPULATE_READ) != 0) {
        if (errno != EINVAL) return done;  // e.g. EFAULT: leave it to the upload
        touch = true;
      }
      if (touch) touch_pages(slice, length, page);
      done += length;
    }
  }
  return done;
}

}  // namespace rtscope
