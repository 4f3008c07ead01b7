#include "tuning_record.hpp"

#include <cstring>

#include "kit_names.hpp"
#include "rtscope/kit/blob_io.hpp"

namespace rtscope::cpu {
namespace {

constexpr uint32_t kMagic = 0x4E555452;  // "RTUN" little-endian
constexpr size_t kHeaderBytes = 4 + 2 + 2 + 4;
constexpr size_t kChecksumBytes = 8;
constexpr size_t kMaxNameBytes = 64;

// Fixed little-endian encoding, independent of the host's byte order.
void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t get_le(const uint8_t* in, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(in[i]) << (8 * i);
  return value;
}

}  // namespace

std::string tuning_key(const OpSpec& spec, const NodeDesc& node, std::span<const Dims> inputs,
                       unsigned pool_threads) {
  std::string key = str_cat("tune.v", kTuningRecordVersion, "/", spec.op, "/");
  for (const Dims& dims : inputs) key += shape_str(dims);
  // Integer and integer-list attributes shape the work (a conv's strides,
  // pads and dilations; a pool's window), and which candidates exist.
  for (const schema::AttrSpec& attr : op_table().schema(spec).attrs) {
    const AttrDesc* value = node.find_attr(attr.name);
    if (value == nullptr) continue;
    if (attr.kind == schema::AttrKind::integer) {
      key += str_cat("/", attr.name, "=", value->i);
    } else if (attr.kind == schema::AttrKind::ints) {
      key += str_cat("/", attr.name, "=", shape_str(value->ints));
    }
  }
  return str_cat(key, "/t", pool_threads);
}

std::vector<uint8_t> encode_tuning_record(const TuningRecord& record) {
  const size_t name_bytes = std::min(record.variant.size(), kMaxNameBytes);
  const size_t body_bytes = name_bytes + 8 + 8;
  std::vector<uint8_t> out;
  out.reserve(kHeaderBytes + body_bytes + kChecksumBytes);
  put_le(out, kMagic, 4);
  put_le(out, kTuningRecordVersion, 2);
  put_le(out, name_bytes, 2);
  put_le(out, body_bytes, 4);
  out.insert(out.end(), record.variant.begin(), record.variant.begin() + name_bytes);
  put_le(out, static_cast<uint64_t>(record.tuning.grain), 8);
  put_le(out, record.best_ns, 8);
  put_le(out, fnv1a(out.data(), out.size()), 8);
  return out;
}

std::optional<TuningRecord> decode_tuning_record(std::span<const uint8_t> bytes) {
  if (bytes.size() < kHeaderBytes + kChecksumBytes) return std::nullopt;
  const uint8_t* data = bytes.data();
  if (get_le(data, 4) != kMagic || get_le(data + 4, 2) != kTuningRecordVersion) return std::nullopt;
  const size_t name_bytes = get_le(data + 6, 2);
  const size_t body_bytes = get_le(data + 8, 4);
  if (name_bytes == 0 || name_bytes > kMaxNameBytes || body_bytes != name_bytes + 16 ||
      bytes.size() != kHeaderBytes + body_bytes + kChecksumBytes) {
    return std::nullopt;
  }
  const size_t checked = kHeaderBytes + body_bytes;
  if (get_le(data + checked, 8) != fnv1a(data, checked)) return std::nullopt;
  TuningRecord record;
  record.variant.assign(reinterpret_cast<const char*>(data + kHeaderBytes), name_bytes);
  for (char c : record.variant) {
    if (c <= 0x20 || c >= 0x7f) return std::nullopt;
  }
  const int64_t grain = static_cast<int64_t>(get_le(data + kHeaderBytes + name_bytes, 8));
  if (grain < 0) return std::nullopt;
  record.tuning.grain = grain;
  record.best_ns = get_le(data + kHeaderBytes + name_bytes + 8, 8);
  return record;
}

}  // namespace rtscope::cpu
