// How the cache reports: one logger for every warning, and no warning for
// what is not a problem (an empty or new stream).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <sstream>

#include "cache/cache_test_support.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using testing::TempDir;
using testing::Warnings;

TEST(CacheWarnings, DefaultWarningsGoThroughTheRtscopeLogger) {
  TempDir dir;
  const auto log_file = dir / "stderr.txt";
  const int status = testing::run_in_child([&]() -> int {
    const int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || dup2(fd, STDERR_FILENO) < 0) return 20;
    RuntimeCache cache;  // default options: no warn hook
    std::stringstream stream("NOTCACHE and then some more bytes");
    cache.load_from_stream(stream);
    return 0;
  });
  ASSERT_EQ(status, 0);
  const auto bytes = testing::read_file(log_file);
  const std::string text(bytes.begin(), bytes.end());
  // The logger's format ("[time] [warning] ..."), not a second one.
  EXPECT_NE(text.find("[warning]"), std::string::npos) << text;
  EXPECT_NE(text.find("bad magic"), std::string::npos) << text;
  EXPECT_EQ(text.find("rtscope: warning:"), std::string::npos) << text;
}

TEST(CacheWarnings, EmptyStreamIsAnEmptyCacheWithoutWarning) {
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  std::stringstream empty;
  EXPECT_EQ(cache.load_from_stream(empty), 0u);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_EQ(cache.counters().rejected, 0u);
  EXPECT_EQ(warnings.count(), 0u) << testing::join(warnings.messages());

  // A new file opened as a stream is the same.
  TempDir dir;
  std::fstream fresh(dir / "new.cache", std::ios::in | std::ios::out | std::ios::trunc);
  EXPECT_EQ(cache.load_from_stream(fresh), 0u);
  EXPECT_EQ(warnings.count(), 0u) << testing::join(warnings.messages());
}

}  // namespace
}  // namespace rtscope
