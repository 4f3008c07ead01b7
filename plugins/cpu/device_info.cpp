// The processor as a device: what /proc/cpuinfo and sysconf say about it.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "plugin.hpp"

namespace rtscope::cpu {
namespace {

// Value of the first "key : value" line of /proc/cpuinfo with that key.
std::string cpuinfo_field(const std::string& key) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.pop_back();
    if (name != key) continue;
    size_t start = colon + 1;
    while (start < line.size() && line[start] == ' ') ++start;
    return line.substr(start);
  }
  return {};
}

// Collapses runs of whitespace and drops anything non-printable, so the
// string is a stable cache key.
std::string tidy(const std::string& text) {
  std::string result;
  for (char c : text) {
    const bool space = c == ' ' || c == '\t';
    if (space) {
      if (!result.empty() && result.back() != ' ') result += ' ';
    } else if (c > 0x20 && c < 0x7f) {
      result += c;
    }
  }
  while (!result.empty() && result.back() == ' ') result.pop_back();
  return result;
}

uint32_t pci_vendor_id(const std::string& vendor) {
  if (vendor == "GenuineIntel") return 0x8086;
  if (vendor == "AuthenticAMD") return 0x1022;
  return 0;
}

void copy_into(char* destination, size_t capacity, const std::string& text) {
  const size_t length = std::min(text.size(), capacity - 1);
  std::memcpy(destination, text.data(), length);
  destination[length] = '\0';
}

}  // namespace

rts_device_info describe_host_cpu() {
  rts_device_info info{};
  info.struct_size = sizeof(info);
  info.kind = RTS_DEVICE_CPU;

  std::string model = tidy(cpuinfo_field("model name"));
  if (model.empty()) model = tidy(cpuinfo_field("Model"));  // some ARM kernels
  if (model.empty()) model = "unknown cpu";
  utsname system{};
  const std::string machine = uname(&system) == 0 ? system.machine : "unknown";
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());

  copy_into(info.name, sizeof(info.name), model);
  info.vendor_id = pci_vendor_id(tidy(cpuinfo_field("vendor_id")));
  const long pages = sysconf(_SC_PHYS_PAGES);
  const long page_size = sysconf(_SC_PAGESIZE);
  info.memory_bytes = pages > 0 && page_size > 0
                          ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page_size)
                          : 0;
  copy_into(info.fingerprint, sizeof(info.fingerprint),
            "cpu/" + machine + "/" + model + "/" + std::to_string(cores));
  return info;
}

}  // namespace rtscope::cpu
