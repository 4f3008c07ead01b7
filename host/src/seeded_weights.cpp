#include "seeded_weights.hpp"

#include <sys/mman.h>

#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <type_traits>

#include "element_access.hpp"
#include "for_ranges.hpp"
#include "host_memory.hpp"
#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"
#include "seeded_random.hpp"

namespace rtscope::detail {
namespace {

// Value i of a seeded weight's stream `key`: uniform in
// [offset - scale, offset + scale).
double seeded_value(uint64_t key, int64_t i, const WeightInit& init) {
  return random_symmetric(key, static_cast<uint64_t>(i), init.scale) + init.offset;
}

template <typename T>
void fill_typed(T* out, int64_t begin, int64_t end, uint64_t key, const WeightInit& init) {
  for (int64_t i = begin; i < end; ++i) {
    const double value = seeded_value(key, i, init);
    if constexpr (std::is_same_v<T, uint16_t>) {
      out[i] = float_to_half(static_cast<float>(value));
    } else {
      out[i] = static_cast<T>(value);
    }
  }
}

constexpr std::size_t kTensorAlignment = 64;
constexpr std::size_t kHugePage = std::size_t{2} << 20;

std::size_t round_up(std::size_t bytes, std::size_t to) { return (bytes + to - 1) / to * to; }

[[noreturn]] void out_of_memory(std::size_t bytes) {
  throw InputError("cannot allocate " + describe_bytes(bytes) +
                   " for the seeded weights of a model: out of host memory; use smaller "
                   "model parameters or free memory");
}

// `bytes` of storage, 64-byte aligned; from 2 MiB on, whole huge pages
// (transparent huge pages, where the kernel gives them): a page fault per
// 2 MiB instead of per 4 KiB, which on a virtual machine is most of the
// time a fresh weight takes.
std::shared_ptr<void> allocate_storage(std::size_t bytes) {
  if (bytes < kHugePage) {
    try {
      void* memory = ::operator new (bytes == 0 ? 1 : bytes, std::align_val_t{kTensorAlignment});
      return {memory, [](void* p) { ::operator delete (p, std::align_val_t{kTensorAlignment}); }};
    } catch (const std::bad_alloc&) {
      out_of_memory(bytes);
    }
  }
  const std::size_t length = round_up(bytes, kHugePage);
  // Mapped a huge page longer, then trimmed to a 2 MiB-aligned start.
  void* mapped = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) out_of_memory(bytes);
  auto* raw = static_cast<unsigned char*>(mapped);
  const auto address = reinterpret_cast<uintptr_t>(raw);
  unsigned char* start = raw + (round_up(address, kHugePage) - address);
  if (start > raw) ::munmap(raw, static_cast<std::size_t>(start - raw));
  const std::size_t tail = static_cast<std::size_t>((raw + length + kHugePage) - (start + length));
  if (tail > 0) ::munmap(start + length, tail);
  ::madvise(start, length, MADV_HUGEPAGE);  // advice only: 4 KiB pages still work
  return {start, [length](void* p) { ::munmap(p, length); }};
}

// Seeded weights alive in this process, by key: the storage that holds
// them (not kept alive from here) and where in it their values are.
struct Alive {
  std::weak_ptr<void> storage;
  void* data = nullptr;
};

std::mutex& alive_mutex() {
  static std::mutex mutex;
  return mutex;
}

std::map<SeededKey, Alive>& alive_weights() {
  static std::map<SeededKey, Alive> alive;
  return alive;
}

}  // namespace

void fill_seeded(const Weight& weight, DType dtype, void* data, int64_t begin, int64_t end) {
  // The name is part of the key so weights sharing a seed still differ.
  const uint64_t key = stream_key(weight.init.seed ^ fnv1a64(weight.info.name));
  // Float weights (every template's) take a loop of their own type: a
  // start generates millions of these values.
  switch (dtype) {
    case DType::f32:
      fill_typed(static_cast<float*>(data), begin, end, key, weight.init);
      return;
    case DType::f16:
      fill_typed(static_cast<uint16_t*>(data), begin, end, key, weight.init);
      return;
    default:
      for (int64_t i = begin; i < end; ++i) {
        store_element(dtype, data, i, seeded_value(key, i, weight.init));
      }
  }
}

SeededKey SeededKey::of(const Weight& weight, Shape shape) {
  return {weight.info.name,   weight.init.seed,       weight.init.scale,
          weight.init.offset, weight.info.type.dtype, std::move(shape)};
}

void fill_seeded_weights(std::span<const Weight* const> weights, std::span<const SeededSlot> slots,
                         std::vector<Tensor>& tensors) {
  // Held while generating: a model built beside this one with the same
  // weights waits and shares them rather than generating them too.
  const std::lock_guard lock(alive_mutex());
  std::map<SeededKey, Alive>& alive = alive_weights();
  std::erase_if(alive, [](const auto& entry) { return entry.second.storage.expired(); });

  std::vector<const SeededSlot*> fresh;
  uint64_t total = 0;
  for (const SeededSlot& slot : slots) {
    const auto found = alive.find(slot.key);
    if (found != alive.end()) {
      if (std::shared_ptr<void> storage = found->second.storage.lock()) {
        tensors[slot.index] =
            Tensor::wrap(slot.key.dtype, slot.key.shape, found->second.data, std::move(storage));
        continue;
      }
    }
    fresh.push_back(&slot);
    // Each size was checked alone (materialize_weights); their sum is
    // checked here.
    const uint64_t bytes = round_up(tensor_bytes(slot.key.dtype, slot.key.shape), kTensorAlignment);
    const std::optional<uint64_t> sum = checked::add(total, bytes);
    if (!sum || *sum > host_memory_bytes()) out_of_memory(sum.value_or(UINT64_MAX));
    total = *sum;
  }
  if (fresh.empty()) return;

  const std::shared_ptr<void> storage = allocate_storage(static_cast<std::size_t>(total));
  auto* next = static_cast<unsigned char*>(storage.get());
  for (const SeededSlot* slot : fresh) {
    const Weight& weight = *weights[slot->index];
    Tensor tensor = Tensor::wrap(slot->key.dtype, slot->key.shape, next, storage);
    for_ranges(tensor.numel(), [&](int64_t begin, int64_t end) {
      fill_seeded(weight, slot->key.dtype, next, begin, end);
    });
    alive[slot->key] = {storage, next};
    next += round_up(tensor.size_bytes(), kTensorAlignment);
    tensors[slot->index] = std::move(tensor);
  }
}

}  // namespace rtscope::detail
