// Overflow-checked arithmetic for shapes, counts and byte sizes that come
// from outside the program (graph and engine files, configs, plugins). A
// size that wraps around would allocate a small buffer and then write far
// past it; these return nullopt instead, and the caller reports the value.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace rtscope::checked {

// a * b, or nullopt when the exact product does not fit in T.
template <std::integral T>
constexpr std::optional<T> mul(T a, T b) {
  T out{};
  if (__builtin_mul_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// a + b, or nullopt when the exact sum does not fit in T.
template <std::integral T>
constexpr std::optional<T> add(T a, T b) {
  T out{};
  if (__builtin_add_overflow(a, b, &out)) return std::nullopt;
  return out;
}

// The product of `values` (1 for none), or nullopt on overflow.
template <std::integral T, typename Range>
constexpr std::optional<T> product(const Range& values) {
  T out = 1;
  for (const auto& value : values) {
    if (__builtin_mul_overflow(out, value, &out)) return std::nullopt;
  }
  return out;
}

// Whether `count` records of at least `record_bytes` each can fit in the
// `bytes_left` of a file: a count read from a file is never trusted to size
// an allocation before the file shows it holds that much.
constexpr bool fits(uint64_t count, uint64_t record_bytes, uint64_t bytes_left) {
  const auto needed = mul<uint64_t>(count, record_bytes);
  return needed && *needed <= bytes_left;
}

}  // namespace rtscope::checked
