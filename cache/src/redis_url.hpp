// The address of a runtime cache's remote tier:
//
//   redis://HOST[:PORT]/NAMESPACE[?timeout_ms=N]
//
// HOST is a name, an IPv4 address or a bracketed IPv6 address; PORT defaults
// to 6379; NAMESPACE (1..64 of A-Z a-z 0-9 . _ -) keeps one deployment's keys
// apart from another's on a shared server; timeout_ms (1..60000, default 200)
// bounds the connect and every round trip. A password never appears here:
// config files are read by many, so AUTH takes it from the environment
// (RTSCOPE_REDIS_PASSWORD, with RTSCOPE_REDIS_USER for an ACL user).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace rtscope::cache_remote {

inline constexpr std::chrono::milliseconds kDefaultTimeout{200};

struct RedisLocation {
  std::string host;
  uint16_t port = 6379;
  std::string name_space;
  std::chrono::milliseconds timeout = kDefaultTimeout;

  // redis://HOST:PORT/NAMESPACE, for messages.
  std::string text() const;
};

// Throws rtscope::InputError quoting `url` (bounded, non-printable bytes
// replaced) and saying what is wrong and what form is expected.
RedisLocation parse_redis_url(std::string_view url);

}  // namespace rtscope::cache_remote
