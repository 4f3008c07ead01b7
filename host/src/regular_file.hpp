// Opening a data file (a weight's raw values) that must be a regular file.
// A FIFO, a directory or a device such as /dev/zero would otherwise block
// the open, read forever or be reported as missing; here each is named for
// what it is before a byte is read, and the size is known up front so no
// read runs past what the caller expects.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace rtscope {

class RegularFile {
 public:
  // Opens `path` read-only without blocking. On failure is_open() is false
  // and problem() says why: "not found", "a directory, not a regular file",
  // "a FIFO (named pipe), not a regular file", ...
  explicit RegularFile(const std::filesystem::path& path);
  ~RegularFile();
  RegularFile(const RegularFile&) = delete;
  RegularFile& operator=(const RegularFile&) = delete;

  bool is_open() const { return fd_ >= 0; }
  const std::string& problem() const { return problem_; }
  // Nothing exists at the path.
  bool missing() const { return missing_; }
  // What the path is when it exists but is no regular file ("a directory",
  // "a FIFO (named pipe)", "a character device", ...); empty otherwise.
  const std::string& kind() const { return kind_; }
  // The file's size when it was opened.
  uint64_t size() const { return size_; }
  // The open descriptor (owned by this object), e.g. to map the file.
  int descriptor() const { return fd_; }
  // Reads exactly `bytes` from the start; false when the file has fewer
  // (it shrank since it was opened) or a read fails.
  bool read_all(void* out, std::size_t bytes) const;

 private:
  int fd_ = -1;
  uint64_t size_ = 0;
  std::string problem_;
  bool missing_ = false;
  std::string kind_;
};

}  // namespace rtscope
