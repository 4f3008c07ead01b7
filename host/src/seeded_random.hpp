// Counter-based random numbers: value i of a stream depends only on (key, i),
// so seeded tensors and weights are identical on every machine, in any order
// of generation, without carrying generator state.
#pragma once

#include <cstdint>
#include <string_view>

namespace rtscope::detail {

// splitmix64 finalizer: a bijective 64-bit mix with good avalanche.
constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// FNV-1a over the bytes of a name; mixes a weight name into its seed.
constexpr uint64_t fnv1a64(std::string_view text) {
  uint64_t hash = 0xcbf29ce484222325ull;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return hash;
}

// Stream key of a seed; distinct seeds give unrelated streams.
constexpr uint64_t stream_key(uint64_t seed) { return splitmix64(seed ^ 0x5eedf00d5eedf00dull); }

// 64 random bits for element `index` of the stream `key`.
constexpr uint64_t random_bits(uint64_t key, uint64_t index) {
  return splitmix64(key + splitmix64(index));
}

// Uniform in [0, 1) with 53 random bits.
constexpr double random_unit(uint64_t key, uint64_t index) {
  return static_cast<double>(random_bits(key, index) >> 11) * 0x1.0p-53;
}

// Uniform in [-scale, scale).
constexpr double random_symmetric(uint64_t key, uint64_t index, double scale) {
  return (2.0 * random_unit(key, index) - 1.0) * scale;
}

}  // namespace rtscope::detail
