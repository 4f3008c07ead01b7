// Seeded weights generated in place: the values of a weight whose init is a
// seed (seeded_random.hpp), and the storage that the seeded weights of a
// model share (materialize_weights() in graph.hpp).
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "rtscope/graph.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope::detail {

// Elements [begin, end) of a seeded weight of `dtype` into `data`: uniform
// in [offset - scale, offset + scale), rounded as store_element() rounds.
void fill_seeded(const Weight& weight, DType dtype, void* data, int64_t begin, int64_t end);

// What a seeded weight's values depend on.
struct SeededKey {
  std::string name;
  uint64_t seed = 0;
  double scale = 0.0;
  double offset = 0.0;
  DType dtype = DType::f32;
  Shape shape;

  static SeededKey of(const Weight& weight, Shape shape);
  auto operator<=>(const SeededKey&) const = default;
};

// A seeded weight of materialize_weights(): its index among the weights.
struct SeededSlot {
  std::size_t index = 0;
  SeededKey key;
};

// tensors[slot.index] for every slot: a tensor another model of this
// process still holds with the same key, or new values in one shared
// allocation (huge pages from 2 MiB on). Thread-safe.
void fill_seeded_weights(std::span<const Weight* const> weights, std::span<const SeededSlot> slots,
                         std::vector<Tensor>& tensors);

}  // namespace rtscope::detail
