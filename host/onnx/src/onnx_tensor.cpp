// Initializer and test-data values from TensorProto, see onnx_tensor.hpp.
#include "onnx_tensor.hpp"

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <cstring>

#include "regular_file.hpp"
#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"

namespace rtscope::onnx_import {
namespace {

namespace bip = boost::interprocess;
namespace fs = std::filesystem;

[[noreturn]] void fail(const TensorSource& source, const std::string& message) {
  throw InputError(source.what + ": " + message);
}

// A tensor over `bytes` that `owner` keeps alive, or a copy when the bytes
// are not aligned for the dtype (raw_data strings and external offsets
// carry no alignment promise).
Tensor share_or_copy(DType dtype, Shape shape, const void* bytes,
                     std::shared_ptr<const void> owner) {
  const auto address = reinterpret_cast<std::uintptr_t>(bytes);
  if (owner != nullptr && address % dtype_size(dtype) == 0) {
    return Tensor::wrap(dtype, std::move(shape), const_cast<void*>(bytes),
                        std::const_pointer_cast<void>(owner));
  }
  return Tensor::from_bytes(dtype, std::move(shape), bytes);
}

// The typed field that holds `dtype`'s values, converted element by element.
template <typename Field>
Tensor from_field(DType dtype, Shape shape, const Field& field, int64_t count,
                  const TensorSource& source, const char* field_name) {
  if (static_cast<int64_t>(field.size()) != count) {
    fail(source, std::string(field_name) + " holds " + std::to_string(field.size()) +
                     " values, the dims ask for " + std::to_string(count));
  }
  Tensor tensor = Tensor::empty(dtype, std::move(shape));
  for (int64_t i = 0; i < count; ++i) {
    const auto value = field.Get(static_cast<int>(i));
    switch (dtype) {
      case DType::f32:
        tensor.data_as<float>()[i] = static_cast<float>(value);
        break;
      case DType::f16:
        // FLOAT16 values sit in int32_data as their bit patterns.
        tensor.data_as<uint16_t>()[i] = static_cast<uint16_t>(value);
        break;
      case DType::i32:
        tensor.data_as<int32_t>()[i] = static_cast<int32_t>(value);
        break;
      case DType::i64:
        tensor.data_as<int64_t>()[i] = static_cast<int64_t>(value);
        break;
      case DType::boolean:
        tensor.data_as<uint8_t>()[i] = value != 0 ? 1 : 0;
        break;
    }
  }
  return tensor;
}

struct ExternalRef {
  std::string location;
  uint64_t offset = 0;
  std::optional<uint64_t> length;
};

ExternalRef external_ref(const onnx::TensorProto& proto, const TensorSource& source) {
  ExternalRef ref;
  for (const auto& entry : proto.external_data()) {
    uint64_t number = 0;
    if (entry.key() == "location") {
      ref.location = entry.value();
      continue;
    }
    if (entry.key() != "offset" && entry.key() != "length") continue;
    const std::string& text = entry.value();
    if (text.empty() || text.size() > 19 ||
        text.find_first_not_of("0123456789") != std::string::npos) {
      fail(source, "external data " + entry.key() + " '" + text + "' is not a byte count");
    }
    number = std::stoull(text);
    if (entry.key() == "offset") ref.offset = number;
    if (entry.key() == "length") ref.length = number;
  }
  if (ref.location.empty()) fail(source, "external data has no 'location'");
  return ref;
}

// The external file of `location`, which must stay inside `dir`.
fs::path external_path(const std::string& location, const TensorSource& source) {
  const fs::path relative(location);
  if (relative.is_absolute()) {
    fail(source, "external data location '" + location +
                     "' is absolute; it must be a path relative to the model's folder");
  }
  for (const fs::path& part : relative) {
    if (part == "..") {
      fail(source, "external data location '" + location +
                       "' leaves the model's folder; it must stay inside it");
    }
  }
  const fs::path path = source.dir / relative;
  // A symlink inside the folder may still point outside it.
  std::error_code error;
  const fs::path real_dir = fs::weakly_canonical(source.dir.empty() ? "." : source.dir, error);
  const fs::path real_path = fs::weakly_canonical(path, error);
  const auto [dir_end, unused] =
      std::mismatch(real_dir.begin(), real_dir.end(), real_path.begin(), real_path.end());
  if (!error && dir_end != real_dir.end()) {
    fail(source, "external data location '" + location + "' resolves to '" + real_path.string() +
                     "', outside the model's folder '" + real_dir.string() + "'");
  }
  return path;
}

// Maps the external bytes of a tensor (never read into a copy when
// aligned).
Tensor from_external(DType dtype, Shape shape, std::size_t bytes, const onnx::TensorProto& proto,
                     const TensorSource& source) {
  const ExternalRef ref = external_ref(proto, source);
  const fs::path path = external_path(ref.location, source);
  const RegularFile file(path);
  if (!file.is_open()) {
    fail(source, "external data file '" + path.string() + "' " +
                     (file.missing() ? "not found" : "is " + file.problem()) +
                     "; keep it next to the model");
  }
  if (ref.length && *ref.length != bytes) {
    fail(source, "external data length " + std::to_string(*ref.length) + " differs from the " +
                     std::to_string(bytes) + " bytes its dims ask for");
  }
  if (ref.offset > file.size() || file.size() - ref.offset < bytes) {
    fail(source, "external data file '" + path.string() + "' has " + std::to_string(file.size()) +
                     " bytes; offset " + std::to_string(ref.offset) + " + " +
                     std::to_string(bytes) + " bytes runs past its end");
  }
  if (bytes == 0) return Tensor::empty(dtype, std::move(shape));
  try {
    bip::file_mapping mapping(path.c_str(), bip::read_only);
    auto region = std::make_shared<bip::mapped_region>(
        mapping, bip::read_only, static_cast<bip::offset_t>(ref.offset), bytes);
    return share_or_copy(dtype, std::move(shape), region->get_address(), region);
  } catch (const bip::interprocess_exception& e) {
    fail(source, "external data file '" + path.string() + "' could not be mapped: " + e.what());
  }
}

}  // namespace

std::optional<DType> dtype_of(int32_t elem_type) {
  switch (elem_type) {
    case onnx::TensorProto::FLOAT:
      return DType::f32;
    case onnx::TensorProto::FLOAT16:
      return DType::f16;
    case onnx::TensorProto::INT32:
      return DType::i32;
    case onnx::TensorProto::INT64:
      return DType::i64;
    case onnx::TensorProto::BOOL:
      return DType::boolean;
    default:
      return std::nullopt;
  }
}

std::string elem_type_name(int32_t elem_type) {
  if (onnx::TensorProto::DataType_IsValid(elem_type)) {
    return onnx::TensorProto::DataType_Name(static_cast<onnx::TensorProto::DataType>(elem_type));
  }
  return "element type " + std::to_string(elem_type);
}

Shape dims_of(const onnx::TensorProto& proto, const std::string& what) {
  Shape shape(proto.dims().begin(), proto.dims().end());
  for (int64_t dim : shape) {
    if (dim < 0) throw InputError(what + ": dim " + std::to_string(dim) + " is negative");
  }
  try {
    element_count(shape);  // throws when the count does not fit in int64
  } catch (const InputError& e) {
    throw InputError(what + ": " + e.what());
  }
  return shape;
}

Tensor tensor_from_proto(const onnx::TensorProto& proto, const TensorSource& source) {
  const std::optional<DType> dtype = dtype_of(proto.data_type());
  if (!dtype) {
    fail(source, "element type " + elem_type_name(proto.data_type()) +
                     " has no rtscope dtype (f32, f16, i32, i64 and bool are supported)");
  }
  Shape shape = dims_of(proto, source.what);
  const int64_t count = element_count(shape);
  const std::size_t bytes = tensor_bytes(*dtype, shape, source.what);
  if (proto.data_location() == onnx::TensorProto::EXTERNAL) {
    return from_external(*dtype, std::move(shape), bytes, proto, source);
  }
  if (proto.has_raw_data()) {
    const std::string& raw = proto.raw_data();
    if (raw.size() != bytes) {
      fail(source, "raw_data has " + std::to_string(raw.size()) +
                       " bytes, its dims and type ask for " + std::to_string(bytes));
    }
    if (bytes == 0) return Tensor::empty(*dtype, std::move(shape));
    return share_or_copy(*dtype, std::move(shape), raw.data(), source.owner);
  }
  switch (*dtype) {
    case DType::f32:
      return from_field(*dtype, std::move(shape), proto.float_data(), count, source, "float_data");
    case DType::i64:
      return from_field(*dtype, std::move(shape), proto.int64_data(), count, source, "int64_data");
    default:
      return from_field(*dtype, std::move(shape), proto.int32_data(), count, source, "int32_data");
  }
}

}  // namespace rtscope::onnx_import
