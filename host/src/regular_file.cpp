#include "regular_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rtscope {
namespace {

std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

}  // namespace

RegularFile::RegularFile(const std::filesystem::path& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
  // writer. fstat on the open descriptor checks the very file we read.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    missing_ = errno == ENOENT;
    problem_ = missing_ ? "not found" : std::string("cannot be opened: ") + std::strerror(errno);
    return;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0) {
    problem_ = std::string("cannot be inspected: ") + std::strerror(errno);
    ::close(fd);
    return;
  }
  if (!S_ISREG(info.st_mode)) {
    kind_ = kind_of(info.st_mode);
    problem_ = kind_ + ", not a regular file";
    ::close(fd);
    return;
  }
  fd_ = fd;
  size_ = static_cast<uint64_t>(info.st_size);
}

RegularFile::~RegularFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool RegularFile::read_all(void* out, std::size_t bytes) const {
  if (fd_ < 0) return false;
  auto* cursor = static_cast<char*>(out);
  std::size_t done = 0;
  while (done < bytes) {
    const ssize_t got = ::pread(fd_, cursor + done, bytes - done, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    done += static_cast<std::size_t>(got);
  }
  return true;
}

}  // namespace rtscope
