#include "atomic_file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "rtscope/error.hpp"

namespace rtscope::runner {
namespace {

[[noreturn]] void fail(const std::filesystem::path& file, std::string_view what,
                       std::string_view step, int error) {
  throw Error(fmt::format("{}: cannot write the {}: {} ({})", file.string(), what,
                          std::error_code(error, std::generic_category()).message(), step));
}

// Removes the temporary file unless the rename consumed it.
struct TempFile {
  std::string path;
  int fd = -1;
  bool renamed = false;
  ~TempFile() {
    if (fd >= 0) ::close(fd);
    if (!renamed && !path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

void write_file_atomically(const std::filesystem::path& file, std::string_view text,
                           std::string_view what) {
  const std::filesystem::path folder =
      file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  TempFile temp;
  temp.path = (folder / fmt::format(".{}.XXXXXX", file.filename().string())).string();
  temp.fd = ::mkstemp(temp.path.data());
  if (temp.fd < 0) {
    const int error = errno;
    temp.path.clear();
    fail(file, what, "creating a temporary file in " + folder.string(), error);
  }
  // mkstemp creates 0600; a report is as readable as any file the user makes.
  const mode_t mask = ::umask(0);
  ::umask(mask);
  ::fchmod(temp.fd, 0666 & ~mask);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(temp.fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(file, what, "writing", n < 0 ? errno : ENOSPC);
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(temp.fd) != 0) fail(file, what, "syncing", errno);
  const int fd = temp.fd;
  temp.fd = -1;
  if (::close(fd) != 0) fail(file, what, "closing", errno);
  if (::rename(temp.path.c_str(), file.c_str()) != 0)
    fail(file, what, "renaming into place", errno);
  temp.renamed = true;
  // The rename itself survives a crash once the folder is synced.
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
}

}  // namespace rtscope::runner
