// Whole-file reads, crash-safe whole-file replacement, and the hand-over
// files through which a waiting saver passes its entries to the lock holder.
//
// Files next to a cache file `<dir>/<name>`:
//   <name>.lock              the lock file (see file_lock.hpp); never removed
//   <name>.tmp.<id>          a new version being written by the lock holder
//   <name>.handover.<id>     entries a waiting saver wants in the next version
//   <name>.htmp.<id>         a hand-over file being written
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <utility>
#include <vector>

#include "rtscope/runtime_cache.hpp"

namespace rtscope::cache_file {

using Pieces = std::span<const std::span<const uint8_t>>;

// Owns a file descriptor.
class FileHandle {
 public:
  FileHandle() = default;
  explicit FileHandle(int fd) : fd_(fd) {}
  ~FileHandle();
  FileHandle(FileHandle&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileHandle& operator=(FileHandle&& other) noexcept;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Reading never takes a lock: writers replace a file by rename, so an open
// descriptor always sees one complete version (see cache_path_guard.hpp for
// how files are opened and read).

// Replaces `path` with the concatenated `pieces` so that a crash at any point
// leaves either the old or the new file: a fresh temp file in the same
// directory (O_EXCL, mode 0666 less the umask) → write → fsync → rename over `path` → fsync
// the directory. The caller holds the FileLock of `path`. `on_phase`, when
// set, is called at each SavePhase. Throws rtscope::Error naming the file and
// errno text; the temp file is then removed and `path` is untouched unless
// the rename happened.
void replace_file_atomically(const std::filesystem::path& path, Pieces pieces,
                             const std::function<void(SavePhase)>& on_phase);

// Writes a hand-over file for `path` and returns its name. It appears
// complete or not at all (written under a staging name, then renamed). It is
// not fsynced: its writer counts it saved only once the lock holder has
// merged it into a new version of `path`, made that durable and removed the
// hand-over file.
std::filesystem::path publish_handover(const std::filesystem::path& path, Pieces pieces);

// The hand-over files of `path` now present.
std::vector<std::filesystem::path> list_handovers(const std::filesystem::path& path);

// Removes temp files of `path` left by writers that died mid-save. Only the
// holder of the FileLock writes `.tmp.` files, so under the lock every one
// found is stale; a `.htmp.` file is written without the lock and is removed
// only once it is old enough that its writer is surely gone. Failures are
// ignored: a leftover costs only space.
void remove_stale_temp_files(const std::filesystem::path& path);

}  // namespace rtscope::cache_file
