// ParsedModel and open_model(), see parsed_model.hpp.
#include "parsed_model.hpp"

#include <sys/stat.h>

#include <climits>
#include <map>
#include <tuple>

#include "regular_file.hpp"
#include "rtscope/error.hpp"

namespace rtscope::onnx_import {
namespace {

namespace fs = std::filesystem;

// Initializers whose raw bytes exceed this leave the working copy; shape
// inference reads the values of small ones (Reshape's shape, say) only.
constexpr std::size_t kStrippedBytes = 4096;

// Protobuf parses at most 2 GiB; a bigger file is refused before a byte is
// read or allocated.
void check_protobuf_limit(uint64_t size, const fs::path& file) {
  if (size > static_cast<uint64_t>(INT_MAX)) {
    throw InputError(file.string() + ": " + std::to_string(size) +
                     " bytes is more than protobuf's 2 GiB limit; store the weights as external "
                     "data (onnx.save_model(..., save_as_external_data=True))");
  }
}

std::string read_all(const RegularFile& file, const fs::path& path) {
  check_protobuf_limit(file.size(), path);
  std::string bytes(static_cast<std::size_t>(file.size()), '\0');
  if (!file.read_all(bytes.data(), bytes.size())) {
    throw InputError(path.string() + ": could not be read in full (changed while reading?)");
  }
  return bytes;
}

// What makes two opens of a path the same, unchanged file.
using FileIdentity = std::tuple<dev_t, ino_t, off_t, time_t, long>;

// One slot per file: concurrent imports of a file parse it once.
struct Slot {
  std::mutex mutex;
  std::weak_ptr<const ParsedModel> model;
};

struct Cache {
  std::mutex mutex;
  std::map<FileIdentity, std::shared_ptr<Slot>> slots;
};

Cache& cache() {
  static Cache instance;
  return instance;
}

}  // namespace

ParsedModel::ParsedModel(const void* data, std::size_t size, const fs::path& file) {
  check_protobuf_limit(size, file);
  auto model = std::make_shared<onnx::ModelProto>();
  if (!model->ParseFromArray(data, static_cast<int>(size))) {
    throw InputError(file.string() +
                     ": is not a valid ONNX model (protobuf parse failed; truncated or not .onnx)");
  }
  if (!model->has_graph()) throw InputError(file.string() + ": the model has no graph");
  // The skeleton: everything but the initializers, then each initializer
  // with its large raw bytes lent out while it is copied (no weight is
  // copied here).
  auto& initializers = *model->mutable_graph()->mutable_initializer();
  google::protobuf::RepeatedPtrField<onnx::TensorProto> lent;
  lent.Swap(&initializers);
  skeleton_.CopyFrom(*model);
  lent.Swap(&initializers);
  auto& copies = *skeleton_.mutable_graph()->mutable_initializer();
  for (onnx::TensorProto& init : initializers) {
    onnx::TensorProto* copy = copies.Add();
    if (init.has_raw_data() && init.raw_data().size() > kStrippedBytes) {
      std::string* raw = init.release_raw_data();
      copy->CopyFrom(init);
      init.set_allocated_raw_data(raw);
    } else {
      copy->CopyFrom(init);
    }
  }
  full_ = std::move(model);
}

std::shared_ptr<onnx::ModelProto> ParsedModel::working_copy() const {
  return std::make_shared<onnx::ModelProto>(skeleton_);
}

std::vector<Tensor> ParsedModel::initializers(const TensorSource& source_template) const {
  std::lock_guard lock(mutex_);
  if (!initializers_) {
    std::vector<Tensor> made;
    for (const auto& init : full_->graph().initializer()) {
      TensorSource source = source_template;
      source.what += ": initializer '" + init.name() + "'";
      source.owner = full_;
      made.push_back(tensor_from_proto(init, source));
    }
    initializers_ = std::move(made);
  }
  // Views of the same bytes that keep this parse alive (and with it the
  // cache entry that later imports find).
  const auto self = std::const_pointer_cast<ParsedModel>(shared_from_this());
  std::vector<Tensor> views;
  views.reserve(initializers_->size());
  for (const Tensor& tensor : *initializers_) {
    views.push_back(
        tensor.size_bytes() == 0
            ? tensor
            : Tensor::wrap(tensor.dtype(), tensor.shape(), const_cast<void*>(tensor.data()), self));
  }
  return views;
}

std::shared_ptr<const ParsedModel> open_model(const fs::path& path) {
  const RegularFile file(path);
  if (!file.is_open()) {
    throw InputError(path.string() + ": " +
                     (file.missing() ? std::string("not found") : "is " + file.problem()));
  }
  struct stat status {};
  if (::fstat(file.descriptor(), &status) != 0) {
    const std::string bytes = read_all(file, path);
    return std::make_shared<const ParsedModel>(bytes.data(), bytes.size(), path);
  }
  const FileIdentity identity{status.st_dev, status.st_ino, status.st_size, status.st_mtim.tv_sec,
                              status.st_mtim.tv_nsec};
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard lock(cache().mutex);
    auto& slots = cache().slots;
    // Slots nobody holds and whose model is gone.
    std::erase_if(slots, [](const auto& entry) {
      return entry.second.use_count() == 1 && entry.second->model.expired();
    });
    auto& entry = slots[identity];
    if (entry == nullptr) entry = std::make_shared<Slot>();
    slot = entry;
  }
  std::lock_guard lock(slot->mutex);
  if (auto live = slot->model.lock()) return live;
  const std::string bytes = read_all(file, path);
  auto parsed = std::make_shared<const ParsedModel>(bytes.data(), bytes.size(), path);
  slot->model = parsed;
  return parsed;
}

}  // namespace rtscope::onnx_import
