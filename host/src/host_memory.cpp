#include "host_memory.hpp"

#include <sys/sysinfo.h>

#include <cstdio>

#include "rtscope/checked_math.hpp"

namespace rtscope {
namespace detail {

std::string describe_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  std::string text = std::to_string(bytes) + " bytes";
  if (bytes < 1024) return text;
  double scaled = static_cast<double>(bytes);
  int unit = -1;
  while (scaled >= 1024 && unit < 5) {
    scaled /= 1024;
    ++unit;
  }
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), " (%.1f %s)", scaled, kUnits[unit]);
  return text + buffer;
}

// Asking the allocator for more than this would, depending on overcommit
// settings, fail with a bare std::bad_alloc or succeed and get the process
// killed while writing.
uint64_t host_memory_bytes() {
  static const uint64_t bytes = [] {
    struct sysinfo info {};
    if (sysinfo(&info) != 0) return UINT64_MAX;
    const uint64_t total = uint64_t{info.totalram} + uint64_t{info.totalswap};
    return checked::mul<uint64_t>(total, info.mem_unit).value_or(UINT64_MAX);
  }();
  return bytes;
}

}  // namespace detail

}  // namespace rtscope
