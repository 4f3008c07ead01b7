// materialize_weight(): the values of a weight, from its seed or its file.
#include <algorithm>
#include <bit>
#include <filesystem>
#include <string>
#include <vector>

#include "for_ranges.hpp"
#include "regular_file.hpp"
#include "rtscope/error.hpp"
#include "rtscope/graph.hpp"
#include "seeded_weights.hpp"

namespace rtscope {
namespace {

// "file:line:col: message", or just the message for weights built in C++.
InputError located(const ValueInfo& info, const std::string& message) {
  const std::string where = info.loc.str();
  return InputError(where.empty() ? message : where + ": " + message);
}

Shape static_shape(const ValueInfo& info) {
  Shape shape;
  for (const Dim& dim : info.type.shape) {
    if (!dim.is_static() || dim.value < 0) {
      throw located(info, "weight '" + info.name +
                              "' must have a static shape to be materialized, got " +
                              info.type.str());
    }
    shape.push_back(dim.value);
  }
  return shape;
}

// "graph.yaml:7:5: weight 'w' f32[...] needs ... bytes": errors from the
// size check and the allocation, located at the weight.
template <typename Action>
auto located_size_errors(const Weight& weight, Action action) {
  const std::string what = "weight '" + weight.info.name + "'";
  try {
    return action(what);
  } catch (const InputError& e) {
    const std::string message = e.what();
    throw located(weight.info, message.starts_with(what) ? message : what + ": " + message);
  }
}

// The weight's size in bytes, checked for overflow and against memory.
std::size_t weight_bytes(const Weight& weight, const Shape& shape) {
  return located_size_errors(weight, [&](const std::string& what) {
    return tensor_bytes(weight.info.type.dtype, shape, what);
  });
}

// Storage for the weight; an impossible size or a failed allocation is an
// InputError naming the weight, its shape and the bytes asked for.
Tensor allocate(const Weight& weight, Shape shape) {
  weight_bytes(weight, shape);
  return located_size_errors(weight, [&](const std::string&) {
    return Tensor::empty(weight.info.type.dtype, std::move(shape));
  });
}

Tensor seeded(const Weight& weight, Shape shape) {
  Tensor tensor = allocate(weight, std::move(shape));
  void* data = tensor.data();
  for_ranges(tensor.numel(), [&](int64_t begin, int64_t end) {
    detail::fill_seeded(weight, tensor.dtype(), data, begin, end);
  });
  return tensor;
}

// A relative path is looked up next to the graph file first, then as given.
std::filesystem::path resolve(const Weight& weight) {
  std::filesystem::path path(weight.init.path);
  if (path.is_relative() && !weight.info.loc.file.empty()) {
    std::filesystem::path beside = std::filesystem::path(weight.info.loc.file).parent_path() / path;
    if (std::filesystem::exists(beside)) return beside;
  }
  return path;
}

Tensor from_file(const Weight& weight, Shape shape) {
  const std::string what = "weight '" + weight.info.name + "' (" + weight.info.type.str() + ")";
  const std::filesystem::path path = resolve(weight);
  const RegularFile file(path);
  if (!file.is_open()) {
    throw located(weight.info, "file '" + path.string() + "' of " + what + " " +
                                   (file.missing() ? "not found" : "is " + file.problem()) +
                                   "; give a file of raw little-endian values (relative paths "
                                   "start at the graph file)");
  }
  const std::size_t expected = weight_bytes(weight, shape);
  // Sizes are compared before anything is allocated or read.
  if (file.size() != expected) {
    throw located(weight.info, "file '" + path.string() + "' of " + what + " has " +
                                   std::to_string(file.size()) + " bytes, expected " +
                                   std::to_string(expected) + " (raw little-endian " +
                                   std::string(to_string(weight.info.type.dtype)) + " values)");
  }
  Tensor tensor = allocate(weight, std::move(shape));
  auto* out = static_cast<unsigned char*>(tensor.data());
  if (!file.read_all(out, expected)) {
    throw located(weight.info, "file '" + path.string() + "' of " + what +
                                   " could not be read in full (changed while reading?)");
  }
  if constexpr (std::endian::native == std::endian::big) {
    // Files are little-endian; flip each element's bytes on big-endian hosts.
    const std::size_t width = dtype_size(tensor.dtype());
    for (std::size_t i = 0; i < expected; i += width) std::reverse(out + i, out + i + width);
  }
  return tensor;
}

// Values given by the graph's builder; checked because a Graph is plain
// data anyone can edit after it was built.
Tensor given(const Weight& weight, const Shape& shape) {
  const Tensor& data = weight.init.data;
  if (!data.defined() || data.on_device() || data.dtype() != weight.info.type.dtype ||
      data.shape() != shape) {
    throw located(weight.info,
                  "weight '" + weight.info.name + "' (" + weight.info.type.str() + ") was given " +
                      (data.defined() ? std::string(data.on_device() ? "device " : "host ") +
                                            std::string(to_string(data.dtype())) +
                                            shape_to_string(data.shape())
                                      : std::string("no tensor")) +
                      "; give a host tensor of the weight's dtype and shape");
  }
  return data;
}

}  // namespace

Tensor materialize_weight(const Weight& weight) {
  Shape shape = static_shape(weight.info);
  if (weight.init.kind == WeightInit::Kind::tensor) return given(weight, shape);
  if (weight.init.kind == WeightInit::Kind::file) return from_file(weight, std::move(shape));
  return seeded(weight, std::move(shape));
}

std::vector<Tensor> materialize_weights(std::span<const Weight* const> weights) {
  std::vector<Tensor> tensors(weights.size());
  std::vector<detail::SeededSlot> slots;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const Weight& weight = *weights[i];
    Shape shape = static_shape(weight.info);
    if (weight.init.kind == WeightInit::Kind::tensor) {
      tensors[i] = given(weight, shape);
    } else if (weight.init.kind == WeightInit::Kind::file) {
      tensors[i] = from_file(weight, std::move(shape));
    } else {
      weight_bytes(weight, shape);  // an impossible size fails here, named
      slots.push_back({i, detail::SeededKey::of(weight, std::move(shape))});
    }
  }
  detail::fill_seeded_weights(weights, slots, tensors);
  return tensors;
}

}  // namespace rtscope
