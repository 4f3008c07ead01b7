#include "atomic_file_writer.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <system_error>

#include "rtscope/error.hpp"

namespace rtscope::cache_file {
namespace {

// A writer of a hand-over file takes well under a second; one this old was
// left by a process that died.
constexpr auto kStaleStagingAge = std::chrono::minutes(10);

std::string prefix(const std::filesystem::path& path, const char* kind) {
  return path.filename().string() + "." + kind + ".";
}

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int error) {
  throw Error(what + " '" + path.string() + "': " + std::strerror(error));
}

int open_retrying(const char* path, int flags, mode_t mode = 0) {
  int fd;
  do {
    fd = open(path, flags, mode);
  } while (fd < 0 && errno == EINTR);
  return fd;
}

// Writes every piece. With `start_writeback`, each megabyte written is sent
// to the disk at once (sync_file_range) instead of all of it at the fsync, so
// the device works while the rest is still being copied.
void write_all(int fd, Pieces pieces, const std::filesystem::path& path, bool start_writeback) {
  constexpr std::size_t kWritebackChunk = 1 << 20;
  std::vector<iovec> iov;
  iov.reserve(pieces.size());
  for (const auto& piece : pieces) {
    if (!piece.empty()) iov.push_back({const_cast<uint8_t*>(piece.data()), piece.size()});
  }
  std::size_t next = 0;
  off_t written = 0, flushed = 0;
  while (next < iov.size()) {
    // Up to about one chunk per call, so writeback can start between calls.
    std::size_t count = 0, batch = 0;
    while (next + count < iov.size() && count < IOV_MAX && batch < kWritebackChunk) {
      batch += iov[next + count++].iov_len;
    }
    const ssize_t n = writev(fd, iov.data() + next, static_cast<int>(count));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("cannot write", path, errno);
    written += n;
    // Skip what was written; a short write leaves a partial piece.
    auto left = static_cast<std::size_t>(n);
    while (left > 0 && left >= iov[next].iov_len) left -= iov[next++].iov_len;
    if (left > 0) {
      iov[next].iov_base = static_cast<uint8_t*>(iov[next].iov_base) + left;
      iov[next].iov_len -= left;
    }
    if (start_writeback && written - flushed >= static_cast<off_t>(kWritebackChunk)) {
      // Only a hint: the fsync after it is what makes the data durable.
      sync_file_range(fd, flushed, written - flushed, SYNC_FILE_RANGE_WRITE);
      flushed = written;
    }
  }
}

// Opens a new file `<dir>/<prefix><pid>.<random>`; O_EXCL so two writers (or
// a leftover of a dead one) can never share one. `suffix` receives the part
// after the prefix.
int create_unique(const std::filesystem::path& path, const std::string& file_prefix,
                  std::filesystem::path* created, std::string* suffix) {
  thread_local std::mt19937_64 random{std::random_device{}()};
  for (int attempt = 0;; ++attempt) {
    char buffer[40];
    std::snprintf(buffer, sizeof buffer, "%d.%016llx", static_cast<int>(getpid()),
                  static_cast<unsigned long long>(random()));
    *suffix = buffer;
    *created = path.parent_path() / (file_prefix + buffer);
    // The mode follows the umask: a user who keeps files private (077)
    // keeps the cache private too.
    const int fd =
        open_retrying(created->c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd >= 0) return fd;
    if (errno != EEXIST || attempt == 16) fail("cannot create", *created, errno);
  }
}

void remove_quietly(const std::filesystem::path& path) {
  std::error_code ignored;
  std::filesystem::remove(path, ignored);
}

// Writes a new file (fsynced when `durable`) and returns its name; on failure
// removes it and throws.
std::filesystem::path write_new_file(const std::filesystem::path& path,
                                     const std::string& file_prefix, Pieces pieces, bool durable,
                                     const std::function<void(SavePhase)>& on_phase,
                                     std::string* suffix) {
  auto phase = [&](SavePhase p) {
    if (on_phase) on_phase(p);
  };
  std::filesystem::path created;
  int fd = create_unique(path, file_prefix, &created, suffix);
  try {
    write_all(fd, pieces, created, durable);
    phase(SavePhase::after_temp_write);
    phase(SavePhase::before_fsync);
    // Without this fsync a crash after the rename can leave the new name
    // pointing at a file whose data never reached the disk.
    if (durable && fsync(fd) != 0) fail("cannot fsync", created, errno);
    const int rc = close(fd);
    fd = -1;
    if (rc != 0) fail("cannot close", created, errno);
  } catch (...) {
    if (fd >= 0) close(fd);
    remove_quietly(created);
    throw;
  }
  return created;
}

}  // namespace

FileHandle::~FileHandle() {
  if (fd_ >= 0) close(fd_);
}

FileHandle& FileHandle::operator=(FileHandle&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void replace_file_atomically(const std::filesystem::path& path, Pieces pieces,
                             const std::function<void(SavePhase)>& on_phase) {
  std::string suffix;
  const std::filesystem::path temp =
      write_new_file(path, prefix(path, "tmp"), pieces, /*durable=*/true, on_phase, &suffix);
  if (on_phase) on_phase(SavePhase::before_rename);
  if (rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    remove_quietly(temp);
    fail("cannot rename temp file over", path, error);
  }
  if (on_phase) on_phase(SavePhase::after_rename);
  // The rename is durable only once the directory entry is on disk.
  const FileHandle dir(
      open_retrying(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.get() < 0) fail("cannot open directory", path.parent_path(), errno);
  if (fsync(dir.get()) != 0 && errno != EINVAL) {
    fail("cannot fsync directory", path.parent_path(), errno);
  }
}

std::filesystem::path publish_handover(const std::filesystem::path& path, Pieces pieces) {
  std::string suffix;
  const std::filesystem::path staged =
      write_new_file(path, prefix(path, "htmp"), pieces, /*durable=*/false, nullptr, &suffix);
  const std::filesystem::path published = path.parent_path() / (prefix(path, "handover") + suffix);
  if (rename(staged.c_str(), published.c_str()) != 0) {
    const int error = errno;
    remove_quietly(staged);
    fail("cannot publish hand-over file", published, error);
  }
  return published;
}

std::vector<std::filesystem::path> list_handovers(const std::filesystem::path& path) {
  const std::string wanted = prefix(path, "handover");
  std::vector<std::filesystem::path> found;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(path.parent_path(), ec), end; !ec && it != end;
       it.increment(ec)) {
    if (it->path().filename().string().starts_with(wanted)) found.push_back(it->path());
  }
  return found;
}

void remove_stale_temp_files(const std::filesystem::path& path) {
  const std::string temp = prefix(path, "tmp");
  const std::string staging = prefix(path, "htmp");
  const auto now = std::filesystem::file_time_type::clock::now();
  std::error_code ec;
  for (std::filesystem::directory_iterator it(path.parent_path(), ec), end; !ec && it != end;
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(temp)) {
      remove_quietly(it->path());
    } else if (name.starts_with(staging)) {
      std::error_code time_ec;
      const auto written = std::filesystem::last_write_time(it->path(), time_ec);
      if (!time_ec && now - written > kStaleStagingAge) remove_quietly(it->path());
    }
  }
}

}  // namespace rtscope::cache_file
