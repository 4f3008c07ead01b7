// What a cache may open, read, replace and create at its paths.
//
// A cache path may be given by a user, a config file or the environment, and
// the cache may run as root, where permissions protect nothing. So:
//   - cache, lock and hand-over files are opened with O_NOFOLLOW | O_NONBLOCK
//     | O_CLOEXEC and must be regular files (fstat): a symbolic link is never
//     followed, a FIFO never blocks, a device is never read or replaced;
//   - reads are bounded by read_limit() of the cache's size cap, so an
//     endless or huge file costs neither unbounded memory nor time;
//   - an existing file is replaced only when it is an rtscope cache (its
//     magic and format version), or an empty file of the saving user's own
//     (one made by mkstemp or touch); a missing one is created;
//   - a cache folder writable by others without the sticky bit is refused:
//     anyone could swap the cache or plant files beside it;
//   - missing folders are created: 0700 under the user's cache folder
//     ($XDG_CACHE_HOME or ~/.cache, as the XDG spec asks), elsewhere as the
//     umask says. Files follow the umask too.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <filesystem>
#include <vector>

#include "atomic_file_writer.hpp"

namespace rtscope::cache_file {

// The most bytes of a cache file (or stream, or hand-over file) read: four
// times the size cap, so that a cache written under a larger cap is still
// read (and evicted down to this one), saturating.
uint64_t read_limit(uint64_t max_bytes);

// A file opened for reading, with what fstat said about it.
struct OpenedFile {
  FileHandle file;
  struct stat st {};
  explicit operator bool() const { return bool(file); }
};

// Opens `path` for reading as described above. An empty OpenedFile when it
// does not exist. Throws rtscope::Error naming `path` (as `what`, e.g.
// "runtime cache", "hand-over file") for a symbolic link, a file that is not
// a regular one, one larger than read_limit(max_bytes), or any other open
// error.
OpenedFile open_regular(const std::filesystem::path& path, const char* what, uint64_t max_bytes);

// Reads the whole file, at most read_limit(max_bytes) bytes (a file that
// grows past them while read is an error). Throws rtscope::Error naming
// `path`.
void read_bounded(const OpenedFile& opened, const std::filesystem::path& path, uint64_t max_bytes,
                  std::vector<uint8_t>& out);

// Throws rtscope::Error naming `path` unless the file may be replaced by a
// new version of a cache: an rtscope cache of this format version, or an
// empty file of the effective user's own.
void check_replaceable(const OpenedFile& opened, const std::filesystem::path& path);

// Whether two opens found the same version of a file. Writers never change
// a version in place (they rename a new one over it), and an open
// descriptor keeps its inode from being reused.
bool same_version(const struct stat& a, const struct stat& b);

// Creates the missing folders above the file `path` (absolute), as described
// above. Throws rtscope::Error naming the folder that cannot be created.
void create_cache_folders(const std::filesystem::path& path);

// Throws rtscope::Error naming `folder` when it is writable by others and
// lacks the sticky bit. A missing folder passes.
void check_cache_folder(const std::filesystem::path& folder);

}  // namespace rtscope::cache_file
