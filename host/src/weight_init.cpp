// materialize_weight(): the values of a weight, from its seed or its file.
#include <algorithm>
#include <bit>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "element_access.hpp"
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

Tensor seeded(const Weight& weight, Shape shape) {
  Tensor tensor = Tensor::empty(weight.info.type.dtype, std::move(shape));
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
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw located(weight.info, "cannot open file '" + path.string() + "' of " + what +
                                   "; check the path (relative paths start at the graph file)");
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  Tensor tensor = Tensor::empty(weight.info.type.dtype, std::move(shape));
  if (bytes.size() != tensor.size_bytes()) {
    throw located(weight.info, "file '" + path.string() + "' of " + what + " has " +
                                   std::to_string(bytes.size()) + " bytes, expected " +
                                   std::to_string(tensor.size_bytes()) + " (raw little-endian " +
                                   std::string(to_string(tensor.dtype())) + " values)");
  }
  auto* out = static_cast<unsigned char*>(tensor.data());
  const std::size_t width = dtype_size(tensor.dtype());
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    // Files are little-endian; flip each element's bytes on big-endian hosts.
    const std::size_t source = std::endian::native == std::endian::little
                                   ? i
                                   : (i / width) * width + (width - 1 - i % width);
    out[i] = static_cast<unsigned char>(bytes[source]);
  }
  return tensor;
}

}  // namespace

Tensor materialize_weight(const Weight& weight) {
  Shape shape = static_shape(weight.info);
  if (weight.init.kind == WeightInit::Kind::file) return from_file(weight, std::move(shape));
  return seeded(weight, std::move(shape));
}

}  // namespace rtscope
