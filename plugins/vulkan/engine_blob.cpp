// The engine blob: a versioned, checksummed copy of the engine's graph.
//
//   magic "RTSVKEB1" | u32 format version | string plugin version |
//   graph (name, inputs, outputs, constants with bytes, values, nodes,
//   aliases) | u64 FNV-1a of everything before it
//
// Integers are written in the machine's byte order, as are constants; the
// host's engine-file header ties a blob to its device fingerprint anyway.
#include <cstring>
#include <string_view>

#include "engine.hpp"
#include "error.hpp"
#include "plugin.hpp"

namespace rtscope::vulkan {
namespace {

constexpr char kMagic[8] = {'R', 'T', 'S', 'V', 'K', 'E', 'B', '1'};
constexpr uint32_t kFormatVersion = 1;
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ull;
constexpr uint64_t kFnvPrime = 0x100000001b3ull;

uint64_t fnv1a(uint64_t hash, const void* data, size_t size) {
  const auto* bytes = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= kFnvPrime;
  }
  return hash;
}

// Buffers small fields and streams large ones (constants) to the sink,
// hashing everything it writes.
class BlobWriter {
 public:
  explicit BlobWriter(const rts_blob_sink& sink) : sink_(sink) { buffer_.reserve(kBufferSize); }

  void bytes(const void* data, size_t size) {
    hash_ = fnv1a(hash_, data, size);
    if (size >= kBufferSize) {
      flush();
      emit(data, size);
      return;
    }
    if (buffer_.size() + size > kBufferSize) flush();
    const auto* begin = static_cast<const unsigned char*>(data);
    buffer_.insert(buffer_.end(), begin, begin + size);
  }
  template <typename T>
  void scalar(T value) {
    bytes(&value, sizeof(value));
  }
  void string(const std::string& text) {
    scalar<uint64_t>(text.size());
    bytes(text.data(), text.size());
  }
  void dims(const Dims& values) {
    scalar<uint32_t>(static_cast<uint32_t>(values.size()));
    bytes(values.data(), values.size() * sizeof(int64_t));
  }
  void value(const ValueDesc& desc) {
    string(desc.name);
    scalar<uint32_t>(desc.dtype);
    dims(desc.dims);
    dims(desc.min_dims);
    dims(desc.max_dims);
  }
  // Writes the checksum of everything so far, then flushes.
  void finish() {
    const uint64_t hash = hash_;
    bytes(&hash, sizeof(hash));
    flush();
  }

 private:
  static constexpr size_t kBufferSize = 64 * 1024;

  void flush() {
    if (buffer_.empty()) return;
    emit(buffer_.data(), buffer_.size());
    buffer_.clear();
  }
  void emit(const void* data, size_t size) {
    const int status = sink_.write(sink_.user, data, size);
    if (status != 0) {
      fail(static_cast<rts_status>(status), "engine blob: the host's sink refused ", size,
           " bytes (status ", status, ")");
    }
  }

  const rts_blob_sink& sink_;
  std::vector<unsigned char> buffer_;
  uint64_t hash_ = kFnvOffset;
};

class BlobReader {
 public:
  BlobReader(const void* data, uint64_t size)
      : data_(static_cast<const unsigned char*>(data)), size_(size) {}

  const unsigned char* take(uint64_t count, const char* what) {
    if (count > size_ - offset_) {
      fail_invalid("engine blob is truncated: ", what, " needs ", count, " bytes at offset ",
                   offset_, " of ", size_);
    }
    const unsigned char* at = data_ + offset_;
    offset_ += count;
    return at;
  }
  template <typename T>
  T scalar(const char* what) {
    T value;
    std::memcpy(&value, take(sizeof(T), what), sizeof(T));
    return value;
  }
  std::string string(const char* what) {
    const uint64_t length = scalar<uint64_t>(what);
    const unsigned char* text = take(length, what);
    return std::string(reinterpret_cast<const char*>(text), length);
  }
  uint32_t count(const char* what) {
    const uint32_t value = scalar<uint32_t>(what);
    // Every counted item takes at least one byte, so a larger count is
    // corruption, not a reason to reserve gigabytes.
    if (value > size_ - offset_) fail_invalid("engine blob: implausible ", what, " count ", value);
    return value;
  }
  Dims dims(const char* what) {
    const uint32_t rank = scalar<uint32_t>(what);
    if (rank > RTS_MAX_RANK) fail_invalid("engine blob: ", what, " has rank ", rank);
    Dims values(rank);
    std::memcpy(values.data(), take(rank * sizeof(int64_t), what), rank * sizeof(int64_t));
    return values;
  }
  ValueDesc value(const char* what) {
    ValueDesc desc;
    desc.name = string(what);
    desc.dtype = static_cast<rts_dtype>(scalar<uint32_t>(what));
    if (dtype_size(desc.dtype) == 0) fail_invalid("engine blob: ", what, " has an unknown dtype");
    desc.dims = dims(what);
    desc.min_dims = dims(what);
    desc.max_dims = dims(what);
    if (desc.min_dims.size() != desc.dims.size() || desc.max_dims.size() != desc.dims.size()) {
      fail_invalid("engine blob: ", what, " '", desc.name, "' has inconsistent ranks");
    }
    return desc;
  }
  uint64_t offset() const { return offset_; }

 private:
  const unsigned char* data_;
  uint64_t size_;
  uint64_t offset_ = 0;
};

GraphDesc read_graph(BlobReader& reader) {
  GraphDesc graph;
  graph.name = reader.string("graph name");
  for (uint32_t n = reader.count("inputs"); n > 0; --n) {
    graph.inputs.push_back(reader.value("input"));
  }
  for (uint32_t n = reader.count("outputs"); n > 0; --n) {
    graph.outputs.push_back(reader.value("output"));
  }
  for (uint32_t n = reader.count("constants"); n > 0; --n) {
    ConstantDesc constant;
    constant.value = reader.value("constant");
    const uint64_t size = reader.scalar<uint64_t>("constant size");
    const int64_t elements = element_count(constant.value.dims);
    if (!constant.value.is_static() ||
        size != static_cast<uint64_t>(elements) * dtype_size(constant.value.dtype)) {
      fail_invalid("engine blob: constant '", constant.value.name, "' ", constant.value.type_str(),
                   " has ", size, " bytes");
    }
    const unsigned char* bytes = reader.take(size, "constant data");
    constant.bytes.resize(size);
    if (size > 0) std::memcpy(constant.bytes.data(), bytes, size);
    graph.constants.push_back(std::move(constant));
  }
  for (uint32_t n = reader.count("values"); n > 0; --n) {
    graph.values.push_back(reader.value("value"));
  }
  for (uint32_t n = reader.count("nodes"); n > 0; --n) {
    NodeDesc node;
    node.name = reader.string("node name");
    node.op = reader.string("node op");
    for (uint32_t i = reader.count("node inputs"); i > 0; --i) {
      node.inputs.push_back(reader.string("node input"));
    }
    for (uint32_t i = reader.count("node outputs"); i > 0; --i) {
      node.outputs.push_back(reader.string("node output"));
    }
    for (uint32_t i = reader.count("node attributes"); i > 0; --i) {
      AttrDesc attr;
      attr.name = reader.string("attribute name");
      attr.type = static_cast<rts_attr_type>(reader.scalar<uint32_t>("attribute type"));
      attr.i = reader.scalar<int64_t>("attribute int");
      attr.f = reader.scalar<double>("attribute real");
      attr.s = reader.string("attribute string");
      for (uint32_t k = reader.count("attribute ints"); k > 0; --k) {
        attr.ints.push_back(reader.scalar<int64_t>("attribute ints"));
      }
      node.attrs.push_back(std::move(attr));
    }
    graph.nodes.push_back(std::move(node));
  }
  for (uint32_t n = reader.count("aliases"); n > 0; --n) {
    rts_alias alias;
    alias.output = reader.scalar<uint32_t>("alias output");
    alias.input = reader.scalar<uint32_t>("alias input");
    alias.kind = static_cast<rts_alias_kind>(reader.scalar<uint32_t>("alias kind"));
    graph.aliases.push_back(alias);
  }
  return graph;
}

}  // namespace

void Engine::serialize(const rts_blob_sink& sink) const {
  if (sink.write == nullptr) fail_invalid("engine blob: the sink has no write function");
  BlobWriter writer(sink);
  writer.bytes(kMagic, sizeof(kMagic));
  writer.scalar<uint32_t>(kFormatVersion);
  writer.string(kPluginVersion);
  writer.string(graph_.name);
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph_.inputs.size()));
  for (const ValueDesc& input : graph_.inputs) writer.value(input);
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph_.outputs.size()));
  for (const ValueDesc& output : graph_.outputs) writer.value(output);
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph_.constants.size()));
  for (const ConstantDesc& constant : graph_.constants) {
    writer.value(constant.value);
    writer.scalar<uint64_t>(constant.bytes.size());
    writer.bytes(constant.bytes.data(), constant.bytes.size());
  }
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph_.values.size()));
  for (const ValueDesc& value : graph_.values) writer.value(value);
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph_.nodes.size()));
  for (const NodeDesc& node : graph_.nodes) {
    writer.string(node.name);
    writer.string(node.op);
    writer.scalar<uint32_t>(static_cast<uint32_t>(node.inputs.size()));
    for (const std::string& input : node.inputs) writer.string(input);
    writer.scalar<uint32_t>(static_cast<uint32_t>(node.outputs.size()));
    for (const std::string& output : node.outputs) writer.string(output);
    writer.scalar<uint32_t>(static_cast<uint32_t>(node.attrs.size()));
    for (const AttrDesc& attr : node.attrs) {
      writer.string(attr.name);
      writer.scalar<uint32_t>(attr.type);
      writer.scalar<int64_t>(attr.i);
      writer.scalar<double>(attr.f);
      writer.string(attr.s);
      writer.scalar<uint32_t>(static_cast<uint32_t>(attr.ints.size()));
      for (int64_t value : attr.ints) writer.scalar<int64_t>(value);
    }
  }
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph_.aliases.size()));
  for (const rts_alias& alias : graph_.aliases) {
    writer.scalar<uint32_t>(alias.output);
    writer.scalar<uint32_t>(alias.input);
    writer.scalar<uint32_t>(alias.kind);
  }
  writer.finish();
}

std::unique_ptr<Engine> Engine::deserialize(VulkanPlugin& plugin, uint32_t device, const void* data,
                                            uint64_t size) {
  if (data == nullptr && size > 0) fail_invalid("engine blob: data is NULL");
  if (size < sizeof(kMagic) + sizeof(uint64_t) || std::memcmp(data, kMagic, sizeof(kMagic)) != 0) {
    fail(RTS_ERROR_VERSION, "not a vulkan engine blob (bad magic; ", size, " bytes)");
  }
  const uint64_t body_size = size - sizeof(uint64_t);
  uint64_t stored_hash;
  std::memcpy(&stored_hash, static_cast<const unsigned char*>(data) + body_size,
              sizeof(stored_hash));
  BlobReader reader(data, body_size);
  reader.take(sizeof(kMagic), "magic");
  const uint32_t format = reader.scalar<uint32_t>("format version");
  if (format != kFormatVersion) {
    fail(RTS_ERROR_VERSION, "vulkan engine blob has format version ", format,
         ", this plugin reads ", kFormatVersion, "; rebuild the engine");
  }
  const std::string version = reader.string("plugin version");
  if (version != kPluginVersion) {
    fail(RTS_ERROR_VERSION, "vulkan engine blob was built by plugin version ", version,
         ", this is ", kPluginVersion, "; rebuild the engine");
  }
  if (fnv1a(kFnvOffset, data, body_size) != stored_hash) {
    fail_invalid("vulkan engine blob is corrupt (checksum mismatch)");
  }
  GraphDesc graph = read_graph(reader);
  if (reader.offset() != body_size) {
    fail_invalid("vulkan engine blob has ", body_size - reader.offset(),
                 " unexpected trailing bytes");
  }
  return std::make_unique<Engine>(plugin, device, std::move(graph));
}

}  // namespace rtscope::vulkan
