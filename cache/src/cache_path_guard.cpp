#include "cache_path_guard.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cache_file_format.hpp"
#include "rtscope/error.hpp"

namespace rtscope::cache_file {
namespace {

std::string quoted(const std::filesystem::path& path) { return "'" + path.string() + "'"; }

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a plain file";
}

// $XDG_CACHE_HOME when it is set to an absolute path, else ~/.cache; empty
// when neither is known.
std::filesystem::path user_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && xdg[0] == '/') {
    return std::filesystem::path(xdg).lexically_normal();
  }
  if (const char* home = std::getenv("HOME"); home && home[0] == '/') {
    return (std::filesystem::path(home) / ".cache").lexically_normal();
  }
  return {};
}

bool is_within(const std::filesystem::path& path, const std::filesystem::path& folder) {
  if (folder.empty()) return false;
  const std::filesystem::path relative = path.lexically_relative(folder);
  return !relative.empty() && *relative.begin() != "..";
}

std::string over_limit(uint64_t max_bytes) {
  return "over 4 times the runtime cache's size cap of " + std::to_string(max_bytes) + " bytes";
}

}  // namespace

uint64_t read_limit(uint64_t max_bytes) {
  return max_bytes > UINT64_MAX / 4 ? UINT64_MAX : 4 * max_bytes;
}

OpenedFile open_regular(const std::filesystem::path& path, const char* what, uint64_t max_bytes) {
  OpenedFile opened;
  int fd;
  do {
    fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) {
    if (errno == ENOENT) return opened;
    if (errno == ELOOP) {
      throw Error(std::string(what) + " " + quoted(path) +
                  " is a symbolic link, which is not followed; point the cache at the file itself");
    }
    throw Error(std::string("cannot open ") + what + " " + quoted(path) + ": " +
                std::strerror(errno));
  }
  opened.file = FileHandle(fd);
  if (fstat(fd, &opened.st) != 0) {
    throw Error(std::string("cannot stat ") + what + " " + quoted(path) + ": " +
                std::strerror(errno));
  }
  if (!S_ISREG(opened.st.st_mode)) {
    throw Error(std::string(what) + " " + quoted(path) + " is not a regular file (" +
                kind_of(opened.st.st_mode) + "); not using it");
  }
  if (static_cast<uint64_t>(opened.st.st_size) > read_limit(max_bytes)) {
    throw Error(std::string(what) + " " + quoted(path) + " is " +
                std::to_string(opened.st.st_size) + " bytes, " + over_limit(max_bytes) +
                "; not reading it");
  }
  return opened;
}

void read_bounded(const OpenedFile& opened, const std::filesystem::path& path, uint64_t max_bytes,
                  std::vector<uint8_t>& out) {
  const uint64_t limit = read_limit(max_bytes);
  out.clear();
  // The size is a hint: read to the end, but never past the cap.
  out.resize(static_cast<std::size_t>(opened.st.st_size) + 1);
  std::size_t used = 0;
  for (;;) {
    if (used == out.size()) {
      if (used > limit) break;
      out.resize(std::min<uint64_t>(limit + 1, 2 * used));
    }
    const ssize_t n =
        pread(opened.file.get(), out.data() + used, out.size() - used, static_cast<off_t>(used));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.clear();
      throw Error("cannot read " + quoted(path) + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    used += static_cast<std::size_t>(n);
  }
  if (used > limit) {
    out.clear();
    throw Error(quoted(path) + " grew " + over_limit(max_bytes) +
                " while being read; not reading it");
  }
  out.resize(used);
}

void check_replaceable(const OpenedFile& opened, const std::filesystem::path& path) {
  if (opened.st.st_size == 0) {
    if (opened.st.st_uid == geteuid() && opened.st.st_nlink == 1) return;
    throw Error(quoted(path) +
                " is an empty file of another user, not an rtscope cache; not overwriting it");
  }
  uint8_t header[cache_format::kHeaderSize];
  ssize_t n;
  do {
    n = pread(opened.file.get(), header, sizeof header, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw Error("cannot read " + quoted(path) + ": " + std::strerror(errno));
  const std::span<const uint8_t> bytes(header, static_cast<std::size_t>(n));
  const bool magic_ok = n >= 8 && std::memcmp(header, "RTSCACHE", 8) == 0;
  const std::string problem = cache_format::header_problem(bytes);
  if (!magic_ok || n < static_cast<ssize_t>(sizeof header)) {
    throw Error(quoted(path) + " is not an rtscope cache file; not overwriting it");
  }
  if (problem.starts_with("format version")) {
    // Another build's format: replacing it would destroy that build's cache.
    throw Error(quoted(path) + ": " + problem +
                "; not overwriting it (run `rtscope-cache clear` to start over)");
  }
}

bool same_version(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
         a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec;
}

void create_cache_folders(const std::filesystem::path& path) {
  const std::filesystem::path folder = path.parent_path().lexically_normal();
  std::vector<std::filesystem::path> missing;
  for (std::filesystem::path p = folder; !p.empty(); p = p.parent_path()) {
    struct stat st {};
    if (stat(p.c_str(), &st) == 0) break;
    missing.push_back(p);
    if (p == p.parent_path()) break;
  }
  const std::filesystem::path user_cache = user_cache_dir();
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    const mode_t mode = (*it == user_cache || is_within(*it, user_cache)) ? 0700 : 0777;
    if (mkdir(it->c_str(), mode) != 0 && errno != EEXIST) {
      throw Error("cannot create cache folder " + quoted(*it) + ": " + std::strerror(errno));
    }
  }
}

void check_cache_folder(const std::filesystem::path& folder) {
  struct stat st {};
  if (stat(folder.c_str(), &st) != 0) return;
  if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
    throw Error("cache folder " + quoted(folder) +
                " is writable by others without the sticky bit, so anyone could replace the "
                "cache; not using it (chmod o-w or chmod +t the folder)");
  }
}

}  // namespace rtscope::cache_file
