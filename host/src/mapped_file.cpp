#include "mapped_file.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <string>

#include "regular_file.hpp"
#include "rtscope/error.hpp"

namespace rtscope {

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& path) {
  const RegularFile file(path);
  if (!file.is_open()) throw InputError(path.string() + ": " + file.problem());
  if (file.size() > std::numeric_limits<std::size_t>::max()) {
    throw InputError(path.string() + ": " + std::to_string(file.size()) +
                     " bytes do not fit in this machine's address space");
  }
  const auto size = static_cast<std::size_t>(file.size());
  if (size == 0) return std::shared_ptr<const MappedFile>(new MappedFile(path, nullptr, 0));
  // MAP_PRIVATE: the bytes are only read; a private mapping also never
  // writes anything back should a plugin misbehave.
  void* data = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, file.descriptor(), 0);
  if (data == MAP_FAILED) {
    throw InputError(path.string() + ": cannot be mapped into memory: " + std::strerror(errno));
  }
  // Weights are read front to back once, when a plugin uploads them.
  ::madvise(data, size, MADV_WILLNEED);
  return std::shared_ptr<const MappedFile>(new MappedFile(path, data, size));
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace rtscope
