// Faults on save and load degrade to running without the file: a warning,
// execution goes on, and the in-memory entries stay intact.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "cache/cache_test_support.hpp"
#include "rtscope/error.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using testing::bytes_of;
using testing::TempDir;
using testing::Warnings;

const CacheKey kOld{"cpu", "fp", "old"};
const CacheKey kNew{"cpu", "fp", "new"};

// Makes file permissions apply to this (child) process even when it runs as
// root, by dropping the capabilities that bypass them.
bool drop_permission_override() {
  if (geteuid() != 0) return true;
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  for (int cap : {CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER}) {
    data[0].effective &= ~(1u << cap);
  }
  return syscall(SYS_capset, &header, data) == 0;
}

// Exit codes of the checking children.
enum Step {
  kCapsNotDropped = 20,
  kSaveSucceeded,
  kNoWarning,
  kWarningLacksPath,
  kEntriesLost,
  kFileChanged,
  kNoThrow,
  kLoadFailed,
  kTempLeft,
};

TEST(CacheDegradation, ReadOnlyDirectory) {
  TempDir dir;
  const auto with_file = dir / "with-file";
  const auto empty = dir / "empty";
  std::filesystem::create_directories(with_file);
  std::filesystem::create_directories(empty);
  const auto path = with_file / "ro.cache";
  testing::save_one_entry(path, kOld, bytes_of("old"));  // also leaves ro.cache.lock behind
  const auto before = testing::read_file(path);
  chmod(with_file.c_str(), 0555);
  chmod(empty.c_str(), 0555);

  // Case 1: the lock file exists, the temp file cannot be created.
  // Case 2: not even the lock file can be created.
  for (const auto& target : {path, empty / "ro.cache"}) {
    SCOPED_TRACE(target.string());
    const int status = testing::run_in_child([&]() -> int {
      if (!drop_permission_override()) return kCapsNotDropped;
      Warnings warnings;
      RuntimeCache cache(testing::options_with(warnings));
      cache.load(target);
      testing::put(cache, kNew, bytes_of("new"));
      if (cache.try_save(target)) return kSaveSucceeded;
      if (warnings.count() != 1) return kNoWarning;
      if (!warnings.any_contains(target.string())) return kWarningLacksPath;
      if (cache.get(kNew) != bytes_of("new")) return kEntriesLost;
      if (target == path && cache.get(kOld) != bytes_of("old")) return kEntriesLost;
      try {
        cache.save(target);
        return kNoThrow;
      } catch (const Error& e) {
        if (std::string(e.what()).find("Permission denied") == std::string::npos) return kNoThrow;
      }
      if (testing::read_file(path) != before) return kFileChanged;
      return 0;
    });
    EXPECT_EQ(status, 0) << "see Step";
  }
  chmod(with_file.c_str(), 0755);
  chmod(empty.c_str(), 0755);
}

TEST(CacheDegradation, UnreadableFileLoadsNothingWithAWarning) {
  TempDir dir;
  const auto path = dir / "secret.cache";
  testing::save_one_entry(path, kOld, bytes_of("old"));
  chmod(path.c_str(), 0);
  const int status = testing::run_in_child([&]() -> int {
    if (!drop_permission_override()) return kCapsNotDropped;
    Warnings warnings;
    RuntimeCache cache(testing::options_with(warnings));
    testing::put(cache, kNew, bytes_of("new"));
    if (cache.load(path) != 0) return kLoadFailed;
    if (warnings.count() != 1 || !warnings.any_contains("Permission denied")) return kNoWarning;
    if (cache.get(kNew) != bytes_of("new")) return kEntriesLost;
    return 0;
  });
  EXPECT_EQ(status, 0) << "see Step";
}

// Holds an open-file-description lock on `<path>.lock`, as a writer would.
class HeldLock {
 public:
  explicit HeldLock(const std::filesystem::path& path) {
    fd_ = open((path.string() + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    ok_ = fd_ >= 0 && fcntl(fd_, F_OFD_SETLK, &fl) == 0;
  }
  ~HeldLock() { release(); }
  void release() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool ok() const { return ok_; }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

TEST(CacheDegradation, LockTimeoutWarnsAndKeepsEntries) {
  TempDir dir;
  const auto path = dir / "busy.cache";
  Warnings warnings;
  RuntimeCache::Options options = testing::options_with(warnings);
  options.lock_timeout = std::chrono::milliseconds(200);
  RuntimeCache cache(options);
  testing::put(cache, kNew, bytes_of("new"));

  HeldLock held(path);  // another writer, same process: OFD locks exclude it too
  ASSERT_TRUE(held.ok());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(cache.try_save(path));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  ASSERT_EQ(warnings.count(), 1u);
  EXPECT_TRUE(warnings.any_contains("timed out"));
  EXPECT_TRUE(warnings.any_contains(path.string()));
  EXPECT_THROW(cache.save(path), Error);
  EXPECT_EQ(cache.get(kNew), bytes_of("new"));
  EXPECT_GE(cache.counters().lock_wait_ns, 0u);
  EXPECT_FALSE(std::filesystem::exists(path));
  // The entries it handed over while waiting were withdrawn.
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().filename().string().find(".handover."), std::string::npos)
        << entry.path();
  }

  held.release();
  EXPECT_TRUE(cache.try_save(path));
}

TEST(CacheDegradation, SaveWaitsForTheLockHolder) {
  TempDir dir;
  const auto path = dir / "wait.cache";
  RuntimeCache cache;
  testing::put(cache, kNew, bytes_of("new"));
  HeldLock held(path);
  ASSERT_TRUE(held.ok());
  const auto start = std::chrono::steady_clock::now();
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    held.release();
  });
  EXPECT_NO_THROW(cache.save(path));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(200));
  // The counter covers only the wait on the lock itself, which starts after
  // save() has prepared its entries, so it is checked with a wide margin.
  EXPECT_GE(cache.counters().lock_wait_ns, 100'000'000u);
  releaser.join();
}

TEST(CacheDegradation, WriteFailureKeepsTheOldFileAndTheEntries) {
  // A file size limit makes write() fail part way, as a full disk would
  // (EFBIG rather than ENOSPC, through the same error path).
  TempDir dir;
  const auto path = dir / "full.cache";
  testing::save_one_entry(path, kOld, bytes_of("old"));
  const auto before = testing::read_file(path);
  const int status = testing::run_in_child([&]() -> int {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4096, 4096};
    setrlimit(RLIMIT_FSIZE, &limit);
    Warnings warnings;
    RuntimeCache cache(testing::options_with(warnings));
    testing::put(cache, kNew, std::vector<uint8_t>(100000, 9));
    if (cache.try_save(path)) return kSaveSucceeded;
    if (warnings.count() != 1 || !warnings.any_contains("File too large")) return kNoWarning;
    if (cache.get(kNew) != std::vector<uint8_t>(100000, 9)) return kEntriesLost;
    if (testing::read_file(path) != before) return kFileChanged;
    if (testing::count_temp_files(path) != 0) return kTempLeft;
    return 0;
  });
  EXPECT_EQ(status, 0) << "see Step";
}

}  // namespace
}  // namespace rtscope
