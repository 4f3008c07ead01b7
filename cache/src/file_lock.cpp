#include "file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <memory>

#include "rtscope/error.hpp"

namespace rtscope::cache_file {

bool TimedMutex::try_lock_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  if (!released_.wait_until(lock, deadline, [this] { return !held_; })) return false;
  held_ = true;
  return true;
}

void TimedMutex::lock() {
  std::unique_lock lock(mutex_);
  released_.wait(lock, [this] { return !held_; });
  held_ = true;
}

void TimedMutex::unlock() {
  {
    std::lock_guard lock(mutex_);
    held_ = false;
  }
  released_.notify_one();
}

TimedMutex& path_mutex(const std::filesystem::path& canonical_path) {
  static std::mutex registry_mutex;
  // Never destroyed: a save may run during static destruction.
  static auto* registry = new std::map<std::string, std::unique_ptr<TimedMutex>>();
  std::lock_guard lock(registry_mutex);
  auto& slot = (*registry)[canonical_path.string()];
  if (!slot) slot = std::make_unique<TimedMutex>();
  return *slot;
}

std::filesystem::path canonical_cache_path(const std::filesystem::path& path) {
  const std::filesystem::path absolute = std::filesystem::absolute(path).lexically_normal();
  const std::filesystem::path name = absolute.filename();
  if (name.empty() || name == "." || name == "..") {
    throw Error("runtime cache path '" + path.string() + "' names a folder, not a file");
  }
  // Only the folder is resolved: the file itself is never reached through
  // a symbolic link (see cache_path_guard.hpp).
  return std::filesystem::weakly_canonical(absolute.parent_path()) / name;
}

FileLock::FileLock(const std::filesystem::path& canonical_path)
    : lock_path_(canonical_path.string() + ".lock") {
  // Never through a link (a planted one would make us create files where it
  // points), never blocking on a FIFO; mode 0666 less the umask.
  do {
    fd_ = open(lock_path_.c_str(),
               O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY, 0666);
  } while (fd_ < 0 && errno == EINTR);
  if (fd_ < 0 && errno == ELOOP) {
    throw Error("lock file '" + lock_path_ +
                "' is a symbolic link, which is not followed; remove it");
  }
  if (fd_ < 0) throw Error("cannot open lock file '" + lock_path_ + "': " + std::strerror(errno));
  struct stat st {};
  if (fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd_);
    fd_ = -1;
    throw Error("lock file '" + lock_path_ + "' is not a regular file; remove it");
  }
}

bool FileLock::held_elsewhere() {
  if (use_flock_) return false;  // flock cannot be asked
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd_, F_OFD_GETLK, &fl) != 0) return false;
  return fl.l_type != F_UNLCK;
}

FileLock::~FileLock() {
  // Closing the only descriptor of this open file description releases the
  // OFD (or flock) lock.
  if (fd_ >= 0) close(fd_);
}

bool FileLock::try_lock() {
  for (;;) {
    int rc;
    if (!use_flock_) {
      struct flock fl {};
      fl.l_type = F_WRLCK;
      fl.l_whence = SEEK_SET;  // l_start = l_len = 0: the whole file
      rc = fcntl(fd_, F_OFD_SETLK, &fl);
      if (rc != 0 && errno == EINVAL) {
        // Kernel or file system without OFD locks: flock has the same
        // per-description semantics.
        use_flock_ = true;
        continue;
      }
    } else {
      rc = flock(fd_, LOCK_EX | LOCK_NB);
    }
    if (rc == 0) return true;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES || errno == EWOULDBLOCK) return false;
    throw Error("cannot lock '" + lock_path_ + "': " + std::strerror(errno));
  }
}

}  // namespace rtscope::cache_file
