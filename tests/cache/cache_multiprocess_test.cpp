// Several processes saving one cache file, and processes killed inside save.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "cache/cache_test_support.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using testing::TempDir;
using testing::Warnings;

CacheKey process_key(int process, int index) {
  return {"cpu", "fp-shared", "p" + std::to_string(process) + "-k" + std::to_string(index)};
}

std::vector<uint8_t> process_value(int process, int index) {
  std::vector<uint8_t> value(256);
  for (std::size_t i = 0; i < value.size(); ++i) {
    value[i] = static_cast<uint8_t>(process * 131 + index * 7 + i);
  }
  return value;
}

// Exit codes of a saving child, so a failure says what went wrong.
enum ChildFailure { kSaveFailed = 10, kLoadWarned = 11, kLoadRejected = 12, kOwnEntryLost = 13 };

// Puts 200 entries in 10 batches, saving after each and checking with a
// fresh reader that the file loads cleanly and holds everything this process
// saved so far.
int save_repeatedly(const std::filesystem::path& path, int process, int start_fd) {
  char go;
  if (read(start_fd, &go, 1) < 0) return kSaveFailed;  // wait for all to be forked
  Warnings warnings;
  RuntimeCache cache(testing::options_with(warnings));
  constexpr int kBatches = 10, kPerBatch = 20;
  for (int batch = 0; batch < kBatches; ++batch) {
    for (int i = batch * kPerBatch; i < (batch + 1) * kPerBatch; ++i) {
      testing::put(cache, process_key(process, i), process_value(process, i));
    }
    if (!cache.try_save(path)) return kSaveFailed;

    Warnings reader_warnings;
    RuntimeCache reader(testing::options_with(reader_warnings));
    if (reader.load(path) == 0) return kLoadRejected;
    if (reader.counters().rejected != 0) return kLoadRejected;
    if (reader_warnings.count() != 0) return kLoadWarned;
    for (int i = 0; i < (batch + 1) * kPerBatch; ++i) {
      if (reader.get(process_key(process, i)) != process_value(process, i)) return kOwnEntryLost;
    }
  }
  return warnings.count() == 0 ? 0 : kLoadWarned;
}

// Loads the file over and over while the writers run, until `done` exists:
// every load must be clean and see at least as many entries as the one
// before (each save is a union, so the file only grows).
int load_repeatedly(const std::filesystem::path& path, const std::filesystem::path& done) {
  std::size_t previous = 0;
  int loads = 0;
  while (!std::filesystem::exists(done)) {
    Warnings warnings;
    RuntimeCache reader(testing::options_with(warnings));
    reader.load(path);
    const std::size_t size = reader.size();
    if (reader.counters().rejected != 0 || warnings.count() != 0) return kLoadRejected;
    if (size < previous) return kOwnEntryLost;
    previous = size;
    ++loads;
  }
  return loads > 0 ? 0 : kLoadRejected;
}

// Forks `count` children into `children`: child p closes the write end of
// the `start` pipe (the parent releases them all at once by closing it)
// and exits with child(p).
void fork_children(int count, const int start[2], std::vector<pid_t>* children,
                   const std::function<int(int)>& child) {
  std::fflush(nullptr);
  for (int p = 0; p < count; ++p) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(start[1]);
      _exit(child(p));
    }
    children->push_back(pid);
  }
}

TEST(CacheMultiProcess, EightProcessesSavingLoseNoUpdate) {
  TempDir dir;
  const auto path = dir / "shared.cache";
  constexpr int kProcesses = 8;
  int start[2];
  ASSERT_EQ(pipe(start), 0);
  std::vector<pid_t> children;
  ASSERT_NO_FATAL_FAILURE(fork_children(kProcesses, start, &children,
                                        [&](int p) { return save_repeatedly(path, p, start[0]); }));
  const auto done = dir / "writers-done";
  const pid_t reader_pid = fork();
  ASSERT_GE(reader_pid, 0);
  if (reader_pid == 0) {
    close(start[0]);
    close(start[1]);  // or the writers would never see EOF
    _exit(load_repeatedly(path, done));
  }
  close(start[0]);
  close(start[1]);  // EOF releases every writer at once

  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status)) << "child killed by signal " << WTERMSIG(status);
    EXPECT_EQ(WEXITSTATUS(status), 0) << "see ChildFailure";
  }
  testing::write_file(done, {});
  int reader_status = 0;
  waitpid(reader_pid, &reader_status, 0);
  EXPECT_TRUE(WIFEXITED(reader_status) && WEXITSTATUS(reader_status) == 0)
      << "concurrent reader status " << reader_status;

  Warnings warnings;
  RuntimeCache reader(testing::options_with(warnings));
  reader.load(path);
  EXPECT_EQ(reader.size(), 1600u);
  int correct = 0;
  for (int p = 0; p < kProcesses; ++p) {
    for (int i = 0; i < 200; ++i) correct += reader.get(process_key(p, i)) == process_value(p, i);
  }
  EXPECT_EQ(correct, 1600);
  EXPECT_EQ(reader.counters().rejected, 0u);
  EXPECT_EQ(warnings.count(), 0u);
  EXPECT_EQ(testing::count_temp_files(path), 0);
}

// Saves that cannot take the lock in time keep their entries for the next
// save, and the final save waits long enough: with a lock timeout so short
// that most saves time out, no entry is lost.
TEST(CacheMultiProcess, WritersUnderLockPressureLoseNoEntry) {
  TempDir dir;
  const auto path = dir / "pressure.cache";
  constexpr int kProcesses = 8, kSaves = 30, kPerSave = 2;
  int start[2];
  ASSERT_EQ(pipe(start), 0);
  std::vector<pid_t> children;
  ASSERT_NO_FATAL_FAILURE(fork_children(kProcesses, start, &children, [&](int p) -> int {
    char go;
    if (read(start[0], &go, 1) < 0) return kSaveFailed;
    RuntimeCache::Options options;
    options.warn = [](const std::string&) {};  // timeouts are expected here
    options.lock_timeout = std::chrono::milliseconds(1);
    RuntimeCache cache(options);
    for (int s = 0; s < kSaves; ++s) {
      for (int i = s * kPerSave; i < (s + 1) * kPerSave; ++i) {
        testing::put(cache, process_key(p, i), process_value(p, i));
      }
      cache.try_save(path);
    }
    return cache.try_save_final(path) ? 0 : kSaveFailed;
  }));
  close(start[0]);
  close(start[1]);
  for (pid_t pid : children) {
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
  }
  Warnings warnings;
  RuntimeCache reader(testing::options_with(warnings));
  reader.load(path);
  int lost = 0;
  for (int p = 0; p < kProcesses; ++p) {
    for (int i = 0; i < kSaves * kPerSave; ++i) {
      lost += reader.get(process_key(p, i)) != process_value(p, i);
    }
  }
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(warnings.count(), 0u);
}

class CacheCrash : public ::testing::TestWithParam<SavePhase> {};

TEST_P(CacheCrash, KilledSaveLeavesTheOldOrTheNewFile) {
  const SavePhase kill_at = GetParam();
  TempDir dir;
  const auto path = dir / "crash.cache";
  {
    RuntimeCache old_version;
    testing::put(old_version, {"cpu", "fp", "old"}, std::vector<uint8_t>(5000, 1));
    old_version.save(path);
  }
  const auto old_bytes = testing::read_file(path);

  const int status = testing::run_in_child([&] {
    RuntimeCache::Options options;
    options.on_save_phase = [kill_at](SavePhase phase) {
      if (phase == kill_at) raise(SIGKILL);
    };
    RuntimeCache cache(options);
    testing::put(cache, {"cpu", "fp", "new"}, std::vector<uint8_t>(5000, 2));
    cache.save(path);
    return 0;  // not reached
  });
  ASSERT_EQ(status, 128 + SIGKILL);

  Warnings warnings;
  RuntimeCache reader(testing::options_with(warnings));
  reader.load(path);
  EXPECT_EQ(reader.counters().rejected, 0u);
  EXPECT_EQ(warnings.count(), 0u);
  EXPECT_EQ(reader.get({"cpu", "fp", "old"}), std::vector<uint8_t>(5000, 1));
  if (kill_at == SavePhase::after_rename) {
    EXPECT_EQ(reader.get({"cpu", "fp", "new"}), std::vector<uint8_t>(5000, 2));
    EXPECT_EQ(reader.size(), 2u);
  } else {
    EXPECT_EQ(testing::read_file(path), old_bytes);  // the complete old version
    // The dead writer's temp file, once it had begun one.
    EXPECT_EQ(testing::count_temp_files(path), kill_at == SavePhase::after_lock ? 0 : 1);
  }

  // The dead writer's lock went with it, and the next save cleans up.
  RuntimeCache::Options options;
  options.lock_timeout = std::chrono::milliseconds(2000);
  RuntimeCache next(options);
  testing::put(next, {"cpu", "fp", "next"}, std::vector<uint8_t>(10, 3));
  EXPECT_NO_THROW(next.save(path));
  EXPECT_EQ(testing::count_temp_files(path), 0);
  RuntimeCache after(testing::options_with(warnings));
  after.load(path);
  EXPECT_TRUE(after.get({"cpu", "fp", "old"}));
  EXPECT_TRUE(after.get({"cpu", "fp", "next"}));
  EXPECT_EQ(warnings.count(), 0u);
}

// Every phase of a save, named for the test instances.
constexpr std::pair<SavePhase, const char*> kSavePhases[] = {
    {SavePhase::after_lock, "after_lock"},     {SavePhase::after_temp_write, "after_temp_write"},
    {SavePhase::before_fsync, "before_fsync"}, {SavePhase::before_rename, "before_rename"},
    {SavePhase::after_rename, "after_rename"},
};

std::vector<SavePhase> all_save_phases() {
  std::vector<SavePhase> phases;
  for (const auto& [phase, name] : kSavePhases) phases.push_back(phase);
  return phases;
}

INSTANTIATE_TEST_SUITE_P(Phases, CacheCrash, ::testing::ValuesIn(all_save_phases()),
                         [](const auto& info) {
                           for (const auto& [phase, name] : kSavePhases) {
                             if (phase == info.param) return std::string(name);
                           }
                           return std::string("unknown");
                         });

int count_handovers(const std::filesystem::path& path) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    count += entry.path().filename().string().starts_with(path.filename().string() + ".handover.");
  }
  return count;
}

// A writer in a child process that stops once it holds the lock: it tells
// the parent through `ready`, waits until a hand-over file of `path` exists,
// then finishes its save, or dies just before the rename when `die` is set.
pid_t start_paused_writer(const std::filesystem::path& path, bool die, int* ready_fd) {
  int ready[2];
  if (pipe(ready) != 0) return -1;
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid != 0) {
    close(ready[1]);
    *ready_fd = ready[0];
    return pid;
  }
  close(ready[0]);
  RuntimeCache::Options options;
  options.on_save_phase = [&](SavePhase phase) {
    if (phase == SavePhase::after_lock) {
      if (write(ready[1], "x", 1) != 1) _exit(30);
      while (count_handovers(path) == 0) usleep(200);
    }
    if (die && phase == SavePhase::before_rename) raise(SIGKILL);
  };
  RuntimeCache writer(options);
  testing::put(writer, {"cpu", "fp", "from-writer"}, std::vector<uint8_t>(100, 1));
  _exit(writer.try_save(path) ? 0 : 31);
}

// A waiting saver and a writer process that holds the lock, in a fresh
// folder.
class CacheHandOver : public ::testing::Test {
 protected:
  // start_paused_writer as `writer_`, returning once it holds the lock.
  void start_writer_holding_the_lock(const std::filesystem::path& path, bool die) {
    int ready = -1;
    writer_ = start_paused_writer(path, die, &ready);
    ASSERT_GT(writer_, 0);
    char byte;
    ASSERT_EQ(read(ready, &byte, 1), 1);
    close(ready);
  }

  TempDir dir_;
  pid_t writer_ = -1;
};

TEST_F(CacheHandOver, WaitingSaverIsCarriedByTheWriter) {
  const auto path = dir_ / "handover.cache";
  ASSERT_NO_FATAL_FAILURE(start_writer_holding_the_lock(path, /*die=*/false));

  RuntimeCache waiting;
  testing::put(waiting, {"cpu", "fp", "from-waiter"}, std::vector<uint8_t>(100, 2));
  const uint64_t handed_over = waiting.save(path);
  int status = 0;
  waitpid(writer_, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  // It handed over only its own small entry and did not write the file: it
  // did not take in the writer's entry, as a writer would have.
  EXPECT_LT(handed_over, 1000u);
  EXPECT_EQ(waiting.size(), 1u);
  EXPECT_EQ(count_handovers(path), 0);
  RuntimeCache reader;
  reader.load(path);
  EXPECT_TRUE(reader.get({"cpu", "fp", "from-writer"}));
  EXPECT_EQ(reader.get({"cpu", "fp", "from-waiter"}), std::vector<uint8_t>(100, 2));
}

TEST_F(CacheHandOver, WaitingSaverWritesItselfWhenTheWriterDies) {
  const auto path = dir_ / "handover-crash.cache";
  ASSERT_NO_FATAL_FAILURE(start_writer_holding_the_lock(path, /*die=*/true));

  Warnings warnings;
  RuntimeCache waiting(testing::options_with(warnings));
  testing::put(waiting, {"cpu", "fp", "from-waiter"}, std::vector<uint8_t>(100, 2));
  EXPECT_TRUE(waiting.try_save(path));
  int status = 0;
  waitpid(writer_, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  EXPECT_EQ(warnings.count(), 0u);
  EXPECT_EQ(count_handovers(path), 0);
  EXPECT_EQ(testing::count_temp_files(path), 0);
  RuntimeCache reader;
  reader.load(path);
  EXPECT_EQ(reader.get({"cpu", "fp", "from-waiter"}), std::vector<uint8_t>(100, 2));
  EXPECT_FALSE(reader.get({"cpu", "fp", "from-writer"}));  // died before its rename
}

TEST_F(CacheHandOver, UnchangedEntriesAreNotHandedOverAgain) {
  const auto path = dir_ / "clean.cache";
  testing::save_one_entry(path, {"cpu", "fp", "big"}, std::vector<uint8_t>(100000, 1));
  RuntimeCache cache;
  cache.load(path);
  testing::put(cache, {"cpu", "fp", "small"}, std::vector<uint8_t>(10, 2));

  ASSERT_NO_FATAL_FAILURE(start_writer_holding_the_lock(path, /*die=*/false));
  // Only the new small entry goes over: the big one came from this file.
  EXPECT_LT(cache.save(path), 1000u);
  int status = 0;
  waitpid(writer_, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  RuntimeCache reader;
  reader.load(path);
  EXPECT_EQ(reader.size(), 3u);
}

}  // namespace
}  // namespace rtscope
