// Files that are not what a cache expects at its paths: device nodes, FIFOs,
// symbolic links, foreign and endless files, and unsafe folders. Nothing is
// replaced or followed, nothing blocks, memory stays bounded, and each case
// is one warning or error naming the path. The tests run as root in CI,
// where permissions protect nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "cache/cache_test_support.hpp"
#include "rtscope/error.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using testing::bytes_of;
using testing::TempDir;
using testing::Warnings;

const CacheKey kKey{"cpu", "fp", "k"};

// A character device with /dev/null's numbers (1:3), or /dev/zero's (1:5),
// made in the test's own folder: the real ones are never touched.
bool make_char_device(const std::filesystem::path& path, unsigned minor) {
  return mknod(path.c_str(), S_IFCHR | 0666, makedev(1, minor)) == 0;
}

bool is_char_device(const std::filesystem::path& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

// A cache holding one entry, with warnings collected.
struct Filled {
  Warnings warnings;
  RuntimeCache cache{options()};
  Filled() { testing::put(cache, kKey, bytes_of("payload")); }
  RuntimeCache::Options options() {
    RuntimeCache::Options o = testing::options_with(warnings);
    o.max_bytes = 1 << 20;
    o.lock_timeout = std::chrono::milliseconds(2000);
    return o;
  }
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// Runs `body` in a child that is killed after `seconds` and may use at most
// `memory` bytes of address space, so a save that blocks or reads without
// end fails the test instead of hanging or exhausting the machine.
int run_bounded(int seconds, std::size_t memory, const std::function<int()>& body) {
  return testing::run_in_child([&] {
    alarm(seconds);
    // Sanitizer runtimes reserve terabytes of address space up front, so
    // under them the memory bound is left to the sanitizer and the alarm.
    if (!kSanitized) {
      const rlimit limit{memory, memory};
      setrlimit(RLIMIT_AS, &limit);
    }
    return body();
  });
}

TEST(CacheHostileFiles, DeviceNodeAsTheCachePathIsNeverReplaced) {
  if (geteuid() != 0) GTEST_SKIP() << "mknod of a device needs root";
  TempDir dir;
  const auto node = dir / "null";
  ASSERT_TRUE(make_char_device(node, 3));
  Filled f;
  EXPECT_FALSE(f.cache.try_save(node));
  EXPECT_TRUE(is_char_device(node)) << "the device node was replaced";
  ASSERT_EQ(f.warnings.count(), 1u);
  EXPECT_TRUE(f.warnings.any_contains(node.string()));
  EXPECT_TRUE(f.warnings.any_contains("not a regular file"));
  EXPECT_FALSE(std::filesystem::exists(dir / "null.lock")) << "a lock file was made beside it";

  // Loading it is a warning and a cold start.
  Warnings load_warnings;
  RuntimeCache reader(testing::options_with(load_warnings));
  EXPECT_EQ(reader.load(node), 0u);
  EXPECT_TRUE(load_warnings.any_contains("not a regular file"));
  EXPECT_TRUE(f.cache.get(kKey));
}

TEST(CacheHostileFiles, EndlessDeviceAsTheCachePathIsNotRead) {
  if (geteuid() != 0) GTEST_SKIP() << "mknod of a device needs root";
  TempDir dir;
  const auto zero = dir / "zero";
  ASSERT_TRUE(make_char_device(zero, 5));
  const int status = run_bounded(20, std::size_t{1} << 30, [&]() -> int {
    Warnings warnings;
    RuntimeCache cache(testing::options_with(warnings));
    if (cache.load(zero) != 0) return 20;
    if (!warnings.any_contains("not a regular file")) return 21;
    testing::put(cache, kKey, bytes_of("payload"));
    if (cache.try_save(zero)) return 22;
    return is_char_device(zero) ? 0 : 23;
  });
  EXPECT_EQ(status, 0) << "142 = killed by the alarm, 101 = out of memory";
}

TEST(CacheHostileFiles, ShortForeignFilesAreNeverReplaced) {
  TempDir dir;
  for (const std::string content : {"x", "hello", "fifteen bytes!!", "RTSCACHE"}) {
    SCOPED_TRACE(content);
    const auto path = dir / "short.txt";
    testing::write_file(path, bytes_of(content));
    Filled f;
    EXPECT_FALSE(f.cache.try_save(path));
    EXPECT_EQ(testing::read_file(path), bytes_of(content));
    EXPECT_TRUE(f.warnings.any_contains("not overwriting"));
    EXPECT_TRUE(f.warnings.any_contains(path.string()));
  }
}

TEST(CacheHostileFiles, SymlinkAsTheCachePathIsNotFollowed) {
  TempDir dir;
  const auto target = dir / "precious.txt";
  testing::write_file(target, bytes_of("tiny"));
  const auto link = dir / "link.cache";
  std::filesystem::create_symlink(target, link);
  Filled f;
  EXPECT_FALSE(f.cache.try_save(link));
  EXPECT_EQ(testing::read_file(target), bytes_of("tiny"));
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_TRUE(f.warnings.any_contains("symbolic link"));

  // Even a link to a valid cache file: the cache path names the file itself.
  const auto real = dir / "real.cache";
  Filled other;
  ASSERT_TRUE(other.cache.try_save(real));
  const auto real_bytes = testing::read_file(real);
  const auto link2 = dir / "link2.cache";
  std::filesystem::create_symlink(real, link2);
  EXPECT_FALSE(f.cache.try_save(link2));
  EXPECT_EQ(testing::read_file(real), real_bytes);
  Warnings load_warnings;
  RuntimeCache reader(testing::options_with(load_warnings));
  EXPECT_EQ(reader.load(link2), 0u);
  EXPECT_TRUE(load_warnings.any_contains("symbolic link"));
}

TEST(CacheHostileFiles, EmptyFileOfOurOwnIsAnEmptyCache) {
  TempDir dir;
  const auto path = dir / "made-by-mkstemp.cache";
  testing::write_file(path, {});
  Filled f;
  EXPECT_EQ(f.cache.load(path), 0u);
  EXPECT_EQ(f.warnings.count(), 0u);
  EXPECT_TRUE(f.cache.try_save(path));
  RuntimeCache reader;
  reader.load(path);
  EXPECT_EQ(reader.get(kKey), bytes_of("payload"));
}

TEST(CacheHostileFiles, FifoAsAHandOverFileDoesNotBlockTheWriter) {
  TempDir dir;
  const auto path = dir / "fifo.cache";
  ASSERT_EQ(mkfifo((path.string() + ".handover.planted").c_str(), 0666), 0);
  const int status = run_bounded(20, std::size_t{1} << 30, [&]() -> int {
    Filled f;
    if (!f.cache.try_save(path)) return 20;
    if (!f.warnings.any_contains(".handover.planted")) return 21;
    RuntimeCache reader;
    reader.load(path);
    return reader.get(kKey) == bytes_of("payload") ? 0 : 22;
  });
  EXPECT_EQ(status, 0) << "142 = blocked until the alarm";
}

TEST(CacheHostileFiles, EndlessHandOverFileIsNotRead) {
  if (geteuid() != 0) GTEST_SKIP() << "mknod of a device needs root";
  TempDir dir;
  const auto path = dir / "zero.cache";
  ASSERT_TRUE(make_char_device(path.string() + ".handover.zero", 5));
  const int status = run_bounded(20, std::size_t{1} << 30, [&]() -> int {
    Filled f;
    if (!f.cache.try_save(path)) return 20;
    return f.warnings.any_contains(".handover.zero") ? 0 : 21;
  });
  EXPECT_EQ(status, 0) << "142 = killed by the alarm, 101 = out of memory";
}

TEST(CacheHostileFiles, HugeFilesAreBoundedByTheSizeCap) {
  TempDir dir;
  // Sparse: 4 GiB that cost no disk. Header of a cache, so only the size
  // tells it apart.
  const auto huge = dir / "huge.cache";
  testing::write_file(huge, testing::raw::header());
  std::filesystem::resize_file(huge, uint64_t{4} << 30);
  const auto handover_cache = dir / "h.cache";
  const auto handover = dir / "h.cache.handover.huge";
  testing::write_file(handover, testing::raw::header());
  std::filesystem::resize_file(handover, uint64_t{4} << 30);
  const int status = run_bounded(30, std::size_t{1} << 30, [&]() -> int {
    Filled f;
    if (f.cache.load(huge) != 0) return 20;
    if (!f.warnings.any_contains("size cap")) return 21;
    if (f.cache.try_save(huge)) return 22;
    if (std::filesystem::file_size(huge) != uint64_t{4} << 30) return 23;
    if (!f.cache.try_save(handover_cache)) return 24;
    if (!f.warnings.any_contains(".handover.huge")) return 25;
    // A stream is bounded the same way.
    std::stringstream endless;
    endless << std::string(5 << 20, 'x');  // over 4 times the cap
    Warnings stream_warnings;
    RuntimeCache::Options o = testing::options_with(stream_warnings);
    o.max_bytes = 1 << 20;
    RuntimeCache from_stream(o);
    if (from_stream.load_from_stream(endless) != 0) return 26;
    return stream_warnings.any_contains("size cap") ? 0 : 27;
  });
  EXPECT_EQ(status, 0) << "142 = killed by the alarm, 101 = out of memory";
}

TEST(CacheHostileFiles, PlantedLockSymlinkIsNotFollowed) {
  TempDir dir;
  std::filesystem::create_directories(dir / "elsewhere");
  const auto target = dir / "elsewhere" / "created-by-root";
  const auto path = dir / "locked.cache";
  std::filesystem::create_symlink(target, path.string() + ".lock");
  Filled f;
  EXPECT_FALSE(f.cache.try_save(path));
  EXPECT_FALSE(std::filesystem::exists(target)) << "the save created a file through the link";
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_TRUE(f.warnings.any_contains(path.string() + ".lock"));
  EXPECT_TRUE(f.warnings.any_contains("symbolic link"));
}

TEST(CacheHostileFiles, NonRegularLockFileIsRefused) {
  TempDir dir;
  const auto path = dir / "fifo-lock.cache";
  ASSERT_EQ(mkfifo((path.string() + ".lock").c_str(), 0666), 0);
  const int status = run_bounded(20, std::size_t{1} << 30, [&]() -> int {
    Filled f;
    if (f.cache.try_save(path)) return 20;
    return f.warnings.any_contains("not a regular file") ? 0 : 21;
  });
  EXPECT_EQ(status, 0);
}

mode_t mode_of(const std::filesystem::path& path) {
  struct stat st {};
  lstat(path.c_str(), &st);
  return st.st_mode & 07777;
}

TEST(CacheHostileFiles, FileModesFollowTheUmask) {
  TempDir dir;
  const int status = testing::run_in_child([&]() -> int {
    umask(077);
    Filled f;
    if (!f.cache.try_save(dir / "private.cache")) return 20;
    if (mode_of(dir / "private.cache") != 0600) return 21;
    if (mode_of(dir / "private.cache.lock") != 0600) return 22;
    umask(022);
    if (!f.cache.try_save(dir / "shared.cache")) return 23;
    return mode_of(dir / "shared.cache") == 0644 ? 0 : 24;
  });
  EXPECT_EQ(status, 0) << "see the return codes";
}

TEST(CacheHostileFiles, MissingFoldersAreCreated) {
  TempDir dir;
  const auto path = dir / "a" / "b" / "c.cache";
  Filled f;
  EXPECT_EQ(f.cache.load(path), 0u);
  EXPECT_TRUE(f.cache.try_save(path)) << testing::join(f.warnings.messages());
  RuntimeCache reader;
  reader.load(path);
  EXPECT_EQ(reader.get(kKey), bytes_of("payload"));
}

TEST(CacheHostileFiles, FoldersUnderTheUserCacheDirArePrivate) {
  TempDir dir;
  const int status = testing::run_in_child([&]() -> int {
    umask(022);
    setenv("XDG_CACHE_HOME", (dir / "xdg").c_str(), 1);
    Filled f;
    if (!f.cache.try_save(dir / "xdg" / "rtscope" / "runtime.bin")) return 20;
    if (mode_of(dir / "xdg") != 0700) return 21;
    if (mode_of(dir / "xdg" / "rtscope") != 0700) return 22;
    // Elsewhere new folders follow the umask.
    if (!f.cache.try_save(dir / "shared" / "runtime.bin")) return 23;
    return mode_of(dir / "shared") == 0755 ? 0 : 24;
  });
  EXPECT_EQ(status, 0) << "see the return codes";
}

TEST(CacheHostileFiles, FolderWritableByOthersWithoutStickyBitIsRefused) {
  TempDir dir;
  const auto open_dir = dir / "open";
  std::filesystem::create_directories(open_dir);
  const auto path = open_dir / "x.cache";
  {
    Filled seed;
    ASSERT_TRUE(seed.cache.try_save(path));
  }
  const auto before = testing::read_file(path);
  ASSERT_EQ(chmod(open_dir.c_str(), 0777), 0);
  Filled f;
  EXPECT_FALSE(f.cache.try_save(path));
  EXPECT_TRUE(f.warnings.any_contains("'" + open_dir.string() + "'"));
  EXPECT_TRUE(f.warnings.any_contains("sticky"));
  EXPECT_EQ(testing::read_file(path), before);
  Warnings load_warnings;
  RuntimeCache reader(testing::options_with(load_warnings));
  EXPECT_EQ(reader.load(path), 0u);
  EXPECT_TRUE(load_warnings.any_contains("sticky"));

  // With the sticky bit (like /tmp) others cannot replace our files.
  ASSERT_EQ(chmod(open_dir.c_str(), 01777), 0);
  EXPECT_TRUE(f.cache.try_save(path));
}

}  // namespace
}  // namespace rtscope
