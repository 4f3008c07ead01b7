// The remote tier's URL: valid forms and a clear error for each malformed one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtscope/error.hpp"
#include "rtscope/runtime_cache.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;

std::string error_of(const std::string& url) {
  try {
    RuntimeCache::check_remote(url);
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

TEST(RedisUrl, AcceptsHostPortNamespaceAndTimeout) {
  for (const char* url :
       {"redis://127.0.0.1:6379/prod", "redis://cache.internal/fleet-a", "redis://[::1]:7000/ns_1",
        "redis://h:1/a.b-c_d?timeout_ms=50", "redis://h/x?timeout_ms=60000"}) {
    EXPECT_EQ(error_of(url), "") << url;
  }
}

TEST(RedisUrl, ConstructingACacheWithABadUrlThrows) {
  RuntimeCache::Options options;
  options.remote = "redis://host:99999/ns";
  EXPECT_THROW(RuntimeCache{options}, InputError);
}

TEST(RedisUrl, EachMalformedFormGetsItsOwnMessage) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http://h/ns", "not a redis:// URL"},
      {"rediss://h/ns", "TLS"},
      {"redis://:secret@h:6379/ns", "RTSCOPE_REDIS_PASSWORD"},
      {"redis://user:pw@h/ns", "refused"},
      {"redis://h:6379", "no /NAMESPACE"},
      {"redis://h:6379/", "no NAMESPACE"},
      {"redis:///ns", "no host"},
      {"redis://h:/ns", "empty port"},
      {"redis://h:0/ns", "1..65535"},
      {"redis://h:65536/ns", "1..65535"},
      {"redis://h:+80/ns", "1..65535"},
      {"redis://h:80x/ns", "1..65535"},
      {"redis://h_h/ns", "host holds"},
      {"redis://[::1/ns", "closing ']'"},
      {"redis://[]:1/ns", "empty IPv6"},
      {"redis://[zz]/ns", "IPv6 host holds"},
      {"redis://[::1]x/ns", "after the IPv6"},
      {"redis://h/ns/sub", "NAMESPACE holds"},
      {"redis://h/n s", "NAMESPACE holds"},
      {"redis://h/" + std::string(65, 'a'), "over 64"},
      {"redis://h/ns#frag", "fragment"},
      {"redis://h/ns?", "empty query"},
      {"redis://h/ns?db=2", "unknown option 'db'"},
      {"redis://h/ns?timeout_ms=0", "1..60000"},
      {"redis://h/ns?timeout_ms=60001", "1..60000"},
      {"redis://h/ns?timeout_ms", "1..60000"},
      {"redis://h/ns?timeout_ms=5&timeout_ms=6", "twice"},
      {"redis://" + std::string(2000, 'h') + "/ns", "longer than 1024"},
      {"", "not a redis:// URL"},
  };
  for (const auto& [url, expected] : cases) {
    const std::string message = error_of(url);
    EXPECT_THAT(message, HasSubstr(expected)) << url;
    EXPECT_THAT(message, HasSubstr("expected redis://HOST[:PORT]/NAMESPACE")) << url;
    // The message quotes the URL bounded, and never a password verbatim.
    EXPECT_LT(message.size(), 600u) << url;
    EXPECT_EQ(message.find("secret@"), std::string::npos) << message;
  }
}

TEST(RedisUrl, NonPrintableBytesAreNotEchoed) {
  const std::string message = error_of(std::string("redis://h\x1b[2J/ns"));
  EXPECT_EQ(message.find('\x1b'), std::string::npos);
  EXPECT_THAT(message, HasSubstr("host holds"));
}

}  // namespace
}  // namespace rtscope
