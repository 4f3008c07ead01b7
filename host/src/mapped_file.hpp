// A whole file mapped read-only into memory, for weights that go from the
// page cache to a plugin without a host copy. Opened like RegularFile: a
// FIFO, directory or device is named for what it is, never mapped.
//
// The mapping lives as long as the last shared_ptr to it; tensors that wrap
// its bytes hold one. A file truncated by another process while mapped makes
// reads past the new end fault (SIGBUS): checkpoints are assumed not to
// change while a model is built from them.
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <span>

namespace rtscope {

class MappedFile {
 public:
  // Maps `path`. Throws InputError "PATH: not found" (or what the path is
  // instead of a regular file, or the mmap failure). An empty file maps to
  // an empty span.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& path);

  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::span<const unsigned char> bytes() const {
    return {static_cast<const unsigned char*>(data_), size_};
  }

 private:
  MappedFile(std::filesystem::path path, void* data, std::size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::filesystem::path path_;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace rtscope
