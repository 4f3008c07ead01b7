// libFuzzer target: what the runtime cache's remote tier reads from outside,
// on arbitrary bytes: a redis:// URL from a config, and a value fetched from
// the server. Either may be rejected; neither may crash, hang or read out of
// bounds, and a rejected value never yields an entry.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "redis_url.hpp"
#include "remote_entry.hpp"
#include "rtscope/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  namespace remote = rtscope::cache_remote;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const remote::RedisLocation location = remote::parse_redis_url(text);
    // What was accepted is well formed.
    if (location.host.empty() || location.name_space.empty() || location.port == 0 ||
        location.timeout.count() < 1) {
      __builtin_trap();
    }
    remote::parse_redis_url(location.text());
  } catch (const rtscope::InputError&) {
  }
  const remote::CheckedValue checked =
      remote::check_value(text, "cpu", "fuzz-device", "0123456789abcdef0123456789abcdef");
  if (checked.entry.has_value() == !checked.problem.empty()) __builtin_trap();
  if (checked.entry && remote::content_address(checked.entry->first, checked.entry->second) !=
                           "0123456789abcdef0123456789abcdef") {
    __builtin_trap();
  }
  return 0;
}
