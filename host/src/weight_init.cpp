// materialize_weight(): the values of a weight, from its seed or its file.
#include <algorithm>
#include <bit>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "element_access.hpp"
#include "regular_file.hpp"
#include "rtscope/error.hpp"
#include "rtscope/graph.hpp"
#include "seeded_random.hpp"

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

// Runs fill(begin, end) over [0, count) on all cores when the range is
// large: a model of a billion parameters generates its weights in a second
// rather than in ten. Values depend only on the index, so the split does
// not change them.
void for_ranges(int64_t count, const std::function<void(int64_t, int64_t)>& fill) {
  constexpr int64_t kMinPerThread = int64_t{1} << 20;
  const int64_t threads = std::clamp<int64_t>(count / kMinPerThread, 1,
                                              std::max(1u, std::thread::hardware_concurrency()));
  if (threads == 1) {
    fill(0, count);
    return;
  }
  std::vector<std::jthread> workers;
  const int64_t per_thread = (count + threads - 1) / threads;
  for (int64_t begin = per_thread; begin < count; begin += per_thread) {
    workers.emplace_back(
        [&fill, begin, end = std::min(count, begin + per_thread)] { fill(begin, end); });
  }
  fill(0, std::min(count, per_thread));
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
  // The name is part of the key so weights sharing a seed still differ.
  const uint64_t key = detail::stream_key(weight.init.seed ^ detail::fnv1a64(weight.info.name));
  const DType dtype = tensor.dtype();
  void* data = tensor.data();
  for_ranges(tensor.numel(), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const double value =
          detail::random_symmetric(key, static_cast<uint64_t>(i), weight.init.scale) +
          weight.init.offset;
      detail::store_element(dtype, data, i, value);
    }
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

// Values held in memory already: shared as they are once dtype and shape
// are checked against the declaration.
Tensor in_memory(const Weight& weight, const Shape& shape) {
  const Tensor& data = weight.init.data;
  if (!data.defined() || data.dtype() != weight.info.type.dtype || data.shape() != shape) {
    throw located(
        weight.info,
        "weight '" + weight.info.name + "' (" + weight.info.type.str() + ") holds " +
            (data.defined() ? std::string(to_string(data.dtype())) + shape_to_string(data.shape())
                            : std::string("no data")) +
            "; its tensor must have the declared dtype and shape");
  }
  return data;
}

}  // namespace

Tensor materialize_weight(const Weight& weight) {
  Shape shape = static_shape(weight.info);
  if (weight.init.kind == WeightInit::Kind::file) return from_file(weight, std::move(shape));
  if (weight.init.kind == WeightInit::Kind::tensor) return in_memory(weight, shape);
  return seeded(weight, std::move(shape));
}

}  // namespace rtscope
