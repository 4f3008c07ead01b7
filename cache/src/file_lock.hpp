// Exclusive lock of a cache file against other threads and processes.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <string>

namespace rtscope::cache_file {

// The OS lock on `<path>.lock`.
//
// It is an open-file-description lock (F_OFD_SETLK), or flock where the file
// system refuses those: both belong to the open file description, so they
// exclude other threads of this process as well as other processes, and
// closing some other descriptor of the file does not drop them. Plain fcntl
// locks do neither. The kernel drops the lock when its holder dies, so a
// writer killed mid-save never leaves the file locked. The lock file is never
// removed: a writer that unlinked it could race with one that just opened it
// and both would believe they hold the lock.
//
// There is no blocking acquire: a blocking lock cannot be given a timeout
// without signals, which a library must not install in its host process, and
// a waiting saver has other things to watch (see cache_file_saver.hpp).
class FileLock {
 public:
  // Opens (creating if needed) the lock file; does not lock. Throws
  // rtscope::Error naming the lock file when it cannot be opened (read-only
  // directory, permission denied) or is not a regular file (a planted link,
  // FIFO or device: never followed nor blocked on).
  explicit FileLock(const std::filesystem::path& canonical_path);
  ~FileLock();  // releases the lock, if held
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // One non-blocking attempt: true once held. Throws rtscope::Error on an
  // error other than "held by someone else".
  bool try_lock();
  // Whether another open file description holds the lock now (a hint: it
  // may change at once). False where it cannot be asked.
  bool held_elsewhere();
  const std::string& lock_path() const { return lock_path_; }

 private:
  std::string lock_path_;
  int fd_ = -1;
  bool use_flock_ = false;
};

// A mutex with a timed lock, built on a condition variable rather than
// std::timed_mutex, whose pthread_mutex_clocklock thread sanitizers of this
// toolchain do not understand.
class TimedMutex {
 public:
  bool try_lock_until(std::chrono::steady_clock::time_point deadline);
  void lock();
  void unlock();

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool held_ = false;
};

// The in-process mutex of one canonical path. Threads of a process take it
// before the OS lock so that they queue here instead of polling the OS lock
// against each other.
TimedMutex& path_mutex(const std::filesystem::path& canonical_path);

// `path` made absolute with its directory resolved, so that two spellings of
// one file share one in-process mutex and one lock file. The file itself need
// not exist and is not resolved: a symbolic link there stays a link, which
// opening then refuses. Throws rtscope::Error for a path naming a folder.
std::filesystem::path canonical_cache_path(const std::filesystem::path& path);

}  // namespace rtscope::cache_file
