#include "redis_url.hpp"

#include <charconv>

#include "rtscope/error.hpp"

namespace rtscope::cache_remote {
namespace {

constexpr std::string_view kScheme = "redis://";
constexpr std::string_view kForm = "redis://HOST[:PORT]/NAMESPACE[?timeout_ms=N]";
constexpr std::size_t kMaxUrlBytes = 1024;
constexpr std::size_t kMaxHostBytes = 253;  // the longest DNS name
constexpr std::size_t kMaxNamespaceBytes = 64;

// The URL for a message: bounded, non-printable bytes replaced, and any
// user or password before an '@' hidden.
std::string quoted(std::string_view url) {
  std::string redacted;
  if (const std::size_t at = url.find('@'); at != std::string_view::npos) {
    const std::size_t scheme = url.find("://");
    const std::size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
    if (start <= at) {
      redacted = std::string(url.substr(0, start)) + "***" + std::string(url.substr(at));
      url = redacted;
    }
  }
  std::string out = "'";
  for (unsigned char c : url.substr(0, 96)) out += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
  if (url.size() > 96) out += "...";
  return out + "'";
}

[[noreturn]] void fail(std::string_view url, const std::string& problem) {
  throw InputError("runtime cache remote " + quoted(url) + ": " + problem + " (expected " +
                   std::string(kForm) + ")");
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool is_hex_or_colon(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' ||
         c == '.';
}

// A decimal number in [low, high] with no sign, spaces or leading '+'.
bool parse_bounded(std::string_view text, uint32_t low, uint32_t high, uint32_t& out) {
  if (text.empty() || text.size() > 9) return false;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size() && out >= low && out <= high;
}

}  // namespace

std::string RedisLocation::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return std::string(kScheme) + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port) + "/" +
         name_space;
}

RedisLocation parse_redis_url(std::string_view url) {
  if (url.size() > kMaxUrlBytes) fail(url, "longer than 1024 bytes");
  if (url.starts_with("rediss://")) {
    fail(url, "TLS (rediss://) is not supported; reach the server over a trusted network");
  }
  if (!url.starts_with(kScheme)) fail(url, "not a redis:// URL");
  std::string_view rest = url.substr(kScheme.size());

  const std::size_t slash = rest.find('/');
  const std::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != std::string_view::npos) {
    fail(url,
         "a user or password in the URL is refused (config files are read by many); set "
         "RTSCOPE_REDIS_PASSWORD (and RTSCOPE_REDIS_USER for an ACL user) instead");
  }
  if (slash == std::string_view::npos) fail(url, "no /NAMESPACE after the host");

  RedisLocation location;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) fail(url, "an IPv6 host has no closing ']'");
    location.host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') fail(url, "unexpected text after the IPv6 host");
      port_text = after.substr(1);
      if (port_text.empty()) fail(url, "an empty port after ':'");
    }
    if (location.host.empty()) fail(url, "an empty IPv6 host");
    for (char c : location.host) {
      if (!is_hex_or_colon(c)) fail(url, "the IPv6 host holds a character other than hex and ':'");
    }
  } else {
    const std::size_t colon = authority.find(':');
    location.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) fail(url, "an empty port after ':'");
    }
    if (location.host.empty()) fail(url, "no host");
    if (location.host.size() > kMaxHostBytes) fail(url, "a host name over 253 bytes");
    for (char c : location.host) {
      if (!is_alnum(c) && c != '.' && c != '-') {
        fail(url, "the host holds a character other than letters, digits, '.' and '-'");
      }
    }
  }
  if (!port_text.empty()) {
    uint32_t port = 0;
    if (!parse_bounded(port_text, 1, 65535, port))
      fail(url, "the port is not a number in 1..65535");
    location.port = static_cast<uint16_t>(port);
  }

  rest = rest.substr(slash + 1);
  if (rest.find('#') != std::string_view::npos) fail(url, "a '#fragment' is not allowed");
  const std::size_t question = rest.find('?');
  location.name_space = std::string(rest.substr(0, question));
  if (location.name_space.empty()) {
    fail(url, "no NAMESPACE: name the deployment, e.g. redis://cache.internal:6379/prod-gpu");
  }
  if (location.name_space.size() > kMaxNamespaceBytes) fail(url, "a NAMESPACE over 64 bytes");
  for (char c : location.name_space) {
    if (!is_alnum(c) && c != '.' && c != '_' && c != '-') {
      fail(url, "the NAMESPACE holds a character other than letters, digits, '.', '_' and '-'");
    }
  }

  if (question != std::string_view::npos) {
    std::string_view query = rest.substr(question + 1);
    if (query.empty()) fail(url, "an empty query after '?'");
    bool have_timeout = false;
    while (!query.empty()) {
      const std::size_t amp = query.find('&');
      const std::string_view item = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
      const std::size_t eq = item.find('=');
      const std::string_view name = item.substr(0, eq);
      if (name != "timeout_ms") {
        fail(url, "unknown option '" + std::string(name.substr(0, 32)) +
                      "' (the only option is timeout_ms)");
      }
      if (have_timeout) fail(url, "timeout_ms is given twice");
      have_timeout = true;
      uint32_t ms = 0;
      if (eq == std::string_view::npos || !parse_bounded(item.substr(eq + 1), 1, 60000, ms)) {
        fail(url, "timeout_ms is not a number of milliseconds in 1..60000");
      }
      location.timeout = std::chrono::milliseconds(ms);
    }
  }
  return location;
}

}  // namespace rtscope::cache_remote
