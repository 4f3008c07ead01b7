#include "safetensors.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"

namespace rtscope {
namespace {

using nlohmann::json;

// The format nests three deep (header, tensor, shape); anything deeper is
// not a safetensors header and is refused before it can cost memory.
constexpr int kMaxDepth = 4;

[[noreturn]] void fail(const std::string& origin, const std::string& message) {
  throw InputError(origin + ": " + message);
}

[[noreturn]] void fail_tensor(const std::string& origin, const std::string& name,
                              const std::string& message) {
  fail(origin, fmt::format("tensor '{}': {}", name, message));
}

// The header's JSON, with duplicate keys refused (a JSON library keeps the
// last one silently, so a tensor could be described twice differently).
json parse_json(std::string_view text, const std::string& origin) {
  std::vector<std::set<std::string>> keys;  // one per open object
  auto callback = [&](int depth, json::parse_event_t event, json& parsed) {
    if (depth > kMaxDepth) fail(origin, "the safetensors header nests deeper than the format does");
    switch (event) {
      case json::parse_event_t::object_start:
        keys.emplace_back();
        break;
      case json::parse_event_t::object_end:
        if (!keys.empty()) keys.pop_back();
        break;
      case json::parse_event_t::key:
        if (!keys.empty() && !keys.back().insert(parsed.get<std::string>()).second) {
          fail(origin, fmt::format("the safetensors header has the key '{}' twice",
                                   parsed.get<std::string>()));
        }
        break;
      default:
        break;
    }
    return true;
  };
  try {
    return json::parse(text.begin(), text.end(), callback);
  } catch (const json::exception& e) {
    fail(origin, fmt::format("the safetensors header is not valid JSON ({})", e.what()));
  }
}

// A non-negative integer of the header, as uint64.
uint64_t unsigned_value(const json& value, const std::string& origin, const std::string& name,
                        const char* what) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) return value.get<uint64_t>();
  fail_tensor(
      origin, name,
      fmt::format("{} must hold non-negative integers; got {}", what, value.dump().substr(0, 40)));
}

// A tensor of the header, checked on its own (offsets against the data
// section; overlaps are checked across tensors afterwards).
SafetensorsTensor read_tensor(const std::string& name, const json& entry, uint64_t data_start,
                              uint64_t data_size, const std::string& origin) {
  if (!entry.is_object()) {
    fail_tensor(origin, name,
                "expected {dtype, shape, data_offsets}; got " + std::string(entry.type_name()));
  }
  for (const auto& [key, value] : entry.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      fail_tensor(origin, name,
                  fmt::format("unknown key '{}'; valid keys: dtype, shape, data_offsets", key));
    }
  }
  const auto dtype = entry.find("dtype");
  const auto shape = entry.find("shape");
  const auto offsets = entry.find("data_offsets");
  if (dtype == entry.end() || !dtype->is_string())
    fail_tensor(origin, name, "needs a string 'dtype'");
  if (shape == entry.end() || !shape->is_array()) fail_tensor(origin, name, "needs a 'shape' list");
  if (offsets == entry.end() || !offsets->is_array() || offsets->size() != 2) {
    fail_tensor(origin, name, "needs 'data_offsets' [begin, end]");
  }
  SafetensorsTensor tensor;
  tensor.dtype = dtype->get<std::string>();
  const std::size_t element = safetensors_dtype_size(tensor.dtype);
  if (element == 0) fail_tensor(origin, name, fmt::format("unknown dtype '{}'", tensor.dtype));
  uint64_t count = 1;
  for (const json& dim : *shape) {
    const uint64_t value = unsigned_value(dim, origin, name, "shape");
    const auto product = checked::mul<uint64_t>(count, value);
    if (value > uint64_t(INT64_MAX) || !product) {
      fail_tensor(origin, name, fmt::format("shape {} overflows", shape->dump()));
    }
    tensor.shape.push_back(static_cast<int64_t>(value));
    count = *product;
  }
  const auto bytes = checked::mul<uint64_t>(count, element);
  if (!bytes) fail_tensor(origin, name, fmt::format("shape {} overflows", shape->dump()));
  const uint64_t begin = unsigned_value((*offsets)[0], origin, name, "data_offsets");
  const uint64_t end = unsigned_value((*offsets)[1], origin, name, "data_offsets");
  if (begin > end) {
    fail_tensor(origin, name,
                fmt::format("data_offsets [{}, {}] end before they begin", begin, end));
  }
  if (end > data_size) {
    fail_tensor(origin, name,
                fmt::format("data_offsets [{}, {}] run past the {} bytes of data in the file "
                            "(truncated or corrupt; download it again)",
                            begin, end, data_size));
  }
  if (end - begin != *bytes) {
    fail_tensor(origin, name,
                fmt::format("data_offsets [{}, {}] span {} bytes but {} {} needs {}", begin, end,
                            end - begin, tensor.dtype, shape->dump(), *bytes));
  }
  tensor.offset = data_start + begin;  // both bounded by the file size
  tensor.size = *bytes;
  return tensor;
}

void check_no_overlap(const SafetensorsHeader& header, const std::string& origin) {
  std::vector<std::pair<const SafetensorsTensor*, const std::string*>> spans;
  for (const auto& [name, tensor] : header.tensors) {
    if (tensor.size > 0) spans.emplace_back(&tensor, &name);
  }
  std::sort(spans.begin(), spans.end(),
            [](const auto& a, const auto& b) { return a.first->offset < b.first->offset; });
  for (std::size_t i = 1; i < spans.size(); ++i) {
    const SafetensorsTensor& before = *spans[i - 1].first;
    if (spans[i].first->offset < before.offset + before.size) {
      fail_tensor(origin, *spans[i].second,
                  fmt::format("its bytes overlap those of tensor '{}'", *spans[i - 1].second));
    }
  }
}

}  // namespace

std::size_t safetensors_dtype_size(const std::string& dtype) {
  static const std::map<std::string, std::size_t, std::less<>> kSizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E4M3", 1}, {"F8_E5M2", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
  const auto found = kSizes.find(dtype);
  return found == kSizes.end() ? 0 : found->second;
}

SafetensorsHeader parse_safetensors(std::span<const unsigned char> file,
                                    const std::string& origin) {
  if (file.size() < 8) {
    fail(origin, fmt::format("{} bytes is too short for a safetensors file (8-byte header length "
                             "first); the file is truncated or not safetensors",
                             file.size()));
  }
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | file[static_cast<std::size_t>(i)];
  if (header_size > kMaxSafetensorsHeader) {
    fail(origin,
         fmt::format("header length {} is over the {} bytes safetensors allows; the file is "
                     "corrupt or not safetensors",
                     header_size, kMaxSafetensorsHeader));
  }
  if (header_size > file.size() - 8) {
    fail(origin, fmt::format("header length {} runs past the end of the {}-byte file; the file is "
                             "truncated",
                             header_size, file.size()));
  }
  const std::string_view text(reinterpret_cast<const char*>(file.data() + 8), header_size);
  if (text.empty() || text.front() != '{') {
    fail(origin, "the safetensors header must be a JSON object starting with '{'");
  }
  const json header = parse_json(text, origin);
  if (!header.is_object()) fail(origin, "the safetensors header must be a JSON object");

  SafetensorsHeader out;
  const uint64_t data_start = 8 + header_size;
  const uint64_t data_size = file.size() - data_start;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      if (!entry.is_object()) fail(origin, "'__metadata__' must map names to strings");
      for (const auto& [key, value] : entry.items()) {
        if (!value.is_string()) {
          fail(origin, fmt::format("'__metadata__.{}' must be a string", key));
        }
        out.metadata[key] = value.get<std::string>();
      }
      continue;
    }
    out.tensors.emplace(name, read_tensor(name, entry, data_start, data_size, origin));
  }
  check_no_overlap(out, origin);
  return out;
}

}  // namespace rtscope
