// The rtscope-cache tool on real cache files.
#include <gtest/gtest.h>

#include "cache/cache_test_support.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/run_merged.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using testing::bytes_of;
using testing::TempDir;

using ToolResult = testing::MergedResult;

ToolResult run_tool(const std::string& args) {
  return testing::run_merged(std::string(RTSCOPE_CACHE_TOOL) + " " + args);
}

std::string quoted(const std::filesystem::path& path) {
  return std::string("'").append(path.string()).append("'");
}

void write_cache(const std::filesystem::path& path,
                 const std::vector<std::pair<CacheKey, std::string>>& entries) {
  RuntimeCache cache;
  for (const auto& [key, value] : entries) testing::put(cache, key, bytes_of(value));
  cache.save(path);
}

TEST(CacheTool, InfoListsEntriesPerPluginAndFingerprint) {
  TempDir dir;
  const auto path = dir / "info.cache";
  write_cache(
      path,
      {{{"cpu", "x86", "a"}, "1234"}, {{"cpu", "x86", "b"}, "56"}, {{"gpu", "sm90", "c"}, "7"}});
  const ToolResult r = run_tool("info " + quoted(path));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("format version: 1"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("entries: 3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("payload bytes: 7"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("plugin 'cpu' fingerprint 'x86': 2 entries, 6 bytes"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("plugin 'gpu' fingerprint 'sm90': 1 entries, 1 bytes"), std::string::npos)
      << r.output;
}

TEST(CacheTool, VerifyFailsOnAnInvalidEntry) {
  TempDir dir;
  const auto path = dir / "verify.cache";
  write_cache(path, {{{"cpu", "x86", "a"}, "payload-a"}, {{"cpu", "x86", "b"}, "payload-b"}});
  ToolResult r = run_tool("verify " + quoted(path));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("OK: 2 entries"), std::string::npos) << r.output;

  auto bytes = testing::read_file(path);
  bytes[bytes.size() - 30] ^= 0x40;  // last entry's payload
  testing::write_file(path, bytes);
  r = run_tool("verify " + quoted(path));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("INVALID: 1 invalid entries"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("checksum"), std::string::npos) << r.output;

  testing::write_file(path, bytes_of("definitely not a cache file"));
  r = run_tool("verify " + quoted(path));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("bad magic"), std::string::npos) << r.output;
}

TEST(CacheTool, ClearLeavesAnEmptyValidCache) {
  TempDir dir;
  const auto path = dir / "clear.cache";
  write_cache(path, {{{"cpu", "x86", "a"}, "payload"}});
  EXPECT_EQ(run_tool("clear " + quoted(path)).exit_code, 0);
  RuntimeCache reader;
  EXPECT_GT(reader.load(path), 0u);
  EXPECT_EQ(reader.size(), 0u);
  EXPECT_EQ(reader.counters().rejected, 0u);

  const auto foreign = dir / "notes.txt";
  testing::write_file(foreign, bytes_of("not a cache, keep me"));
  EXPECT_EQ(run_tool("clear " + quoted(foreign)).exit_code, 2);
  EXPECT_EQ(testing::read_file(foreign), bytes_of("not a cache, keep me"));
}

TEST(CacheTool, MergeWritesTheUnionWithTheNewerWrite) {
  TempDir dir;
  write_cache(dir / "a.cache", {{{"cpu", "x86", "only-a"}, "A"}, {{"cpu", "x86", "both"}, "old"}});
  write_cache(dir / "b.cache", {{{"cpu", "x86", "only-b"}, "B"}, {{"cpu", "x86", "both"}, "new"}});
  const ToolResult r = run_tool("merge " + quoted(dir / "a.cache") + " " + quoted(dir / "b.cache") +
                                " -o " + quoted(dir / "c.cache"));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  RuntimeCache reader;
  reader.load(dir / "c.cache");
  EXPECT_EQ(reader.size(), 3u);
  EXPECT_EQ(reader.get({"cpu", "x86", "only-a"}), bytes_of("A"));
  EXPECT_EQ(reader.get({"cpu", "x86", "only-b"}), bytes_of("B"));
  EXPECT_EQ(reader.get({"cpu", "x86", "both"}), bytes_of("new"));
}

TEST(CacheTool, MissingFileAndBadUsageExitWithTwo) {
  TempDir dir;
  EXPECT_EQ(run_tool("info " + quoted(dir / "absent.cache")).exit_code, 2);
  EXPECT_EQ(run_tool("frobnicate").exit_code, 2);
}

}  // namespace
}  // namespace rtscope
