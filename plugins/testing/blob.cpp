#include "blob.hpp"

#include <cstring>

#include "failure.hpp"
#include "plugin_state.hpp"

namespace rtscope_testing {
namespace {

constexpr char kMagic[8] = {'R', 'T', 'S', 'T', 'E', 'S', 'T', '\0'};

class Writer {
 public:
  void u32(uint32_t v) { put_le(v, 4); }
  void u64(uint64_t v) { put_le(v, 8); }
  void i64(int64_t v) { put_le(static_cast<uint64_t>(v), 8); }
  void f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    put_le(bits, 8);
  }
  void str(const std::string& s) {
    u32(static_cast<uint32_t>(s.size()));
    out_ += s;
  }
  void raw(const void* data, std::size_t size) {
    out_.append(static_cast<const char*>(data), size);
  }
  void value(const ValueDef& v) {
    str(v.name);
    u32(static_cast<uint32_t>(v.dtype));
    u32(v.rank);
    for (uint32_t d = 0; d < v.rank; ++d) {
      i64(v.dims[d]);
      i64(v.min_dims[d]);
      i64(v.max_dims[d]);
    }
  }
  void values(const std::vector<ValueDef>& vs) {
    u32(static_cast<uint32_t>(vs.size()));
    for (const auto& v : vs) value(v);
  }
  void strings(const std::vector<std::string>& ss) {
    u32(static_cast<uint32_t>(ss.size()));
    for (const auto& s : ss) str(s);
  }
  std::string take() { return std::move(out_); }

 private:
  // Byte by byte, so blobs are identical on hosts of any endianness.
  void put_le(uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
  std::string out_;
};

class Reader {
 public:
  Reader(const void* data, uint64_t size) : data_(static_cast<const uint8_t*>(data)), size_(size) {}

  uint32_t u32() { return static_cast<uint32_t>(get_le(4)); }
  uint64_t u64() { return get_le(8); }
  int64_t i64() { return static_cast<int64_t>(get_le(8)); }
  double f64() {
    const uint64_t bits = get_le(8);
    double v;
    std::memcpy(&v, &bits, sizeof v);
    return v;
  }
  const uint8_t* raw(uint64_t size) {
    need(size);
    const uint8_t* at = data_ + pos_;
    pos_ += size;
    return at;
  }
  std::string str() {
    const uint32_t n = u32();
    const auto* at = raw(n);
    return std::string(reinterpret_cast<const char*>(at), n);
  }
  // Counts come from untrusted bytes: bound them by what is left so a
  // corrupt count fails cleanly instead of reserving gigabytes.
  uint32_t count(uint64_t min_item_size) {
    const uint32_t n = u32();
    if (static_cast<uint64_t>(n) * min_item_size > size_ - pos_) corrupt();
    return n;
  }
  ValueDef value() {
    ValueDef v;
    v.name = str();
    const uint32_t dtype = u32();
    if (dtype > RTS_DTYPE_BOOL) corrupt();  // never hold an out-of-range enum
    v.dtype = static_cast<rts_dtype>(dtype);
    v.rank = u32();
    if (v.rank > RTS_MAX_RANK) corrupt();
    for (uint32_t d = 0; d < v.rank; ++d) {
      v.dims[d] = i64();
      v.min_dims[d] = i64();
      v.max_dims[d] = i64();
    }
    return v;
  }
  std::vector<ValueDef> values() {
    std::vector<ValueDef> vs(count(12));
    for (auto& v : vs) v = value();
    return vs;
  }
  std::vector<std::string> strings() {
    std::vector<std::string> ss(count(4));
    for (auto& s : ss) s = str();
    return ss;
  }
  bool at_end() const { return pos_ == size_; }
  [[noreturn]] void corrupt() const {
    fail(RTS_ERROR_INVALID_ARGUMENT, "testing engine blob is truncated or corrupt (at byte " +
                                         std::to_string(pos_) + " of " + std::to_string(size_) +
                                         ")");
  }

 private:
  void need(uint64_t n) const {
    if (n > size_ - pos_) corrupt();
  }
  uint64_t get_le(int bytes) {
    need(static_cast<uint64_t>(bytes));
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(data_[pos_ + i]) << (8 * i);
    pos_ += static_cast<uint64_t>(bytes);
    return v;
  }
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
};

}  // namespace

std::string serialize_graph(const GraphDef& graph) {
  Writer w;
  w.raw(kMagic, sizeof kMagic);
  w.u32(kBlobFormatVersion);
  w.str(kPluginVersion);
  w.str(graph.name);
  w.values(graph.inputs);
  w.values(graph.outputs);
  w.values(graph.values);
  w.u32(static_cast<uint32_t>(graph.constants.size()));
  for (const auto& c : graph.constants) {
    w.value(c.value);
    w.u64(c.bytes.size());
    w.raw(c.bytes.data(), c.bytes.size());
  }
  w.u32(static_cast<uint32_t>(graph.nodes.size()));
  for (const auto& node : graph.nodes) {
    w.str(node.name);
    w.str(node.op);
    w.strings(node.inputs);
    w.strings(node.outputs);
    w.u32(static_cast<uint32_t>(node.attrs.size()));
    for (const auto& a : node.attrs) {
      w.str(a.name);
      w.u32(static_cast<uint32_t>(a.type));
      w.i64(a.i);
      w.f64(a.f);
      w.str(a.s);
      w.u32(static_cast<uint32_t>(a.ints.size()));
      for (int64_t v : a.ints) w.i64(v);
    }
  }
  return w.take();
}

GraphDef deserialize_graph(const void* data, uint64_t size) {
  if (!data && size > 0) fail(RTS_ERROR_INVALID_ARGUMENT, "engine blob is NULL");
  if (size < sizeof kMagic || std::memcmp(data, kMagic, sizeof kMagic) != 0) {
    fail(RTS_ERROR_INVALID_ARGUMENT, "not a testing plugin engine blob (bad magic)");
  }
  Reader r(data, size);
  r.raw(sizeof kMagic);
  const uint32_t format = r.u32();
  if (format != kBlobFormatVersion) {
    fail(RTS_ERROR_VERSION, "testing engine blob has format version " + std::to_string(format) +
                                "; testing plugin " + kPluginVersion + " reads version " +
                                std::to_string(kBlobFormatVersion) + ": rebuild the engine");
  }
  const std::string version = r.str();
  if (version != kPluginVersion) {
    fail(RTS_ERROR_VERSION, "testing engine blob was written by testing plugin " + version +
                                ", this is " + kPluginVersion + ": rebuild the engine");
  }
  GraphDef graph;
  graph.name = r.str();
  graph.inputs = r.values();
  graph.outputs = r.values();
  graph.values = r.values();
  graph.constants.resize(r.count(20));
  for (auto& c : graph.constants) {
    c.value = r.value();
    const uint64_t n = r.u64();
    const uint8_t* bytes = r.raw(n);
    c.bytes.assign(bytes, bytes + n);
  }
  graph.nodes.resize(r.count(20));
  for (auto& node : graph.nodes) {
    node.name = r.str();
    node.op = r.str();
    node.inputs = r.strings();
    node.outputs = r.strings();
    node.attrs.resize(r.count(32));
    for (auto& a : node.attrs) {
      a.name = r.str();
      const uint32_t type = r.u32();
      if (type > RTS_ATTR_INTS) r.corrupt();
      a.type = static_cast<rts_attr_type>(type);
      a.i = r.i64();
      a.f = r.f64();
      a.s = r.str();
      a.ints.resize(r.count(8));
      for (auto& v : a.ints) v = r.i64();
    }
  }
  if (!r.at_end()) r.corrupt();
  return graph;
}

}  // namespace rtscope_testing
