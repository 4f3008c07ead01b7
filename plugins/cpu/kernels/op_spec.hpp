// What the CPU plugin knows about each op: the kernel that runs it and the
// kernel's own properties. Arity, attributes, dtype rules and shape
// inference come from the op schema (rtscope/op_schema.hpp), shared with
// the host, through the kit's OpTable. Each kernels/*.cpp file defines the
// specs of one group of ops.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kit_names.hpp"
#include "rtscope/kit/op_table.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

class ThreadPool;
class StepList;
struct LinearEpilogue;

// A tensor as a kernel sees it: row-major, contiguous, host memory.
struct TensorRef {
  rts_dtype dtype = RTS_DTYPE_F32;
  std::span<const int64_t> dims;
  void* data = nullptr;

  int64_t elements() const { return element_count(dims); }
  size_t bytes() const { return static_cast<size_t>(elements()) * dtype_size(dtype); }
  int64_t dim(int axis) const { return dims[axis < 0 ? axis + rank() : axis]; }
  int rank() const { return static_cast<int>(dims.size()); }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data);
  }
};

// What a variant builds once for one node at a plan's shapes (library
// primitives, weights in the library's layout): made when the plan is
// specialized, never per execute. The plan owns it, captures recorded
// from the plan share it, and it goes with the last of them. Used by the
// execute thread of one context only.
struct PreparedKernel {
  virtual ~PreparedKernel() = default;
  // Bytes it holds (weights in the library's layout, scratchpads, staging
  // buffers), for the plan's prepared_bytes counter.
  virtual size_t bytes() const = 0;
};

// How a specialized kernel splits its work: a value chosen per concrete
// shape by measurement (see tuning.hpp).
struct KernelTuning {
  // Work items (elements, rows or columns, as the kernel defines them) per
  // pool task; 0: the kernel's shape-agnostic default.
  int64_t grain = 0;
  // The variant's per-node state (KernelVariant::prepare); nullptr for
  // variants that need none. Never stored in the runtime cache (only the
  // variant name and grain are).
  std::shared_ptr<PreparedKernel> prepared = nullptr;
};

struct KernelArgs {
  const NodeDesc& node;
  std::span<const TensorRef> inputs;
  std::span<const TensorRef> outputs;
  ThreadPool& pool;
  // nullptr for generic kernels, which use their built-in defaults.
  const KernelTuning* tuning = nullptr;
  // linear and matmul only: an elementwise tail fused into the output
  // (fusion.hpp); nullptr for none.
  const LinearEpilogue* epilogue = nullptr;

  int64_t grain_or(int64_t fallback) const {
    return tuning != nullptr && tuning->grain > 0 ? tuning->grain : fallback;
  }
};

using KernelFn = void (*)(const KernelArgs& args);

// Builds a variant's per-node state at concrete shapes. `inputs` carry
// data only for constant inputs (weights, bias; f32), nullptr elsewhere;
// `outputs` carry no data. Throws Error when the variant cannot run the
// node; the tuner then does not choose it.
using PrepareFn = std::shared_ptr<PreparedKernel> (*)(const NodeDesc& node,
                                                      std::span<const TensorRef> inputs,
                                                      std::span<const TensorRef> outputs,
                                                      const KernelTuning& tuning);

// One candidate implementation of a node for concrete shapes. `name` is
// static and stable: tuning results are stored by (name, grain).
struct KernelVariant {
  const char* name = nullptr;
  KernelFn run = nullptr;
  KernelTuning tuning;
  // nullptr: the variant keeps no per-node state. Otherwise `run` reads
  // `tuning.prepared`, built by this once per plan.
  PrepareFn prepare = nullptr;
  // `prepare` keeps inputs 1.. for the plan's life (packed weights with no
  // per-execute reorder): the tuner offers the variant only where they are
  // all engine constants, and such a node tunes under a key of its own.
  bool needs_constant_operands = false;
};

// The candidates worth measuring for one node at concrete shapes.
struct TuningSpace {
  std::vector<KernelVariant> variants;
  // Value written into i64 position inputs while measuring, so that the
  // measured work is representative (e.g. half the KV cache visible).
  int64_t position = 0;
};

// Fills `space` for a node at concrete shapes, given the plugin's pool
// size. Every tunable op offers at least one variant.
using TuneSpaceFn = void (*)(const NodeDesc& node, std::span<const Dims* const> inputs,
                             std::span<const Dims> outputs, unsigned pool_threads,
                             TuningSpace& space);

// Turns a node whose tensors are fully resolved (persistent pointers,
// fixed shapes) into replay steps with pre-computed arguments. Returns
// false when it has no lowering for this variant or shape; the capture
// then wraps the kernel itself.
using LowerFn = bool (*)(const KernelArgs& args, KernelFn kernel, StepList& steps);

// Data-dependent ops (nonzero, masked_select): whether this node's kernel
// sizes its output only after reading the input values, and the real
// output dims computed from those values at execute time.
using DataDependentFn = bool (*)(const NodeDesc& node);
using InferFromDataFn = void (*)(const NodeDesc& node, std::span<const TensorRef> inputs,
                                 std::span<Dims> outputs);

enum class F16Mode : uint8_t {
  // The kernel is written for f32; the context converts f16 inputs and
  // outputs around it.
  kComputeInF32,
  // The kernel moves elements of any size without arithmetic.
  kRawElements,
};

struct OpSpec {
  const char* op;  // a name of the op schema
  F16Mode f16_mode;
  KernelFn run;
  const char* kernel_name;  // static; reported by query_node
  // The output holds input 0's bytes unchanged (reshape): when the output
  // is internal to the engine, the context points it at the input instead
  // of running the kernel.
  bool output_views_input = false;
  // The output is input 0 with some elements replaced (kv_cache_update):
  // an internal output takes over input 0's storage when nothing reads it
  // afterwards. The kernel copies input 0 first only when the pointers
  // differ.
  bool output_updates_input = false;
  // Kernel specialization: candidates for concrete shapes (nullptr: the op
  // has only its generic kernel).
  TuneSpaceFn tune_space = nullptr;
  // Graph capture: replay steps for a resolved node (nullptr: wrapped).
  LowerFn lower = nullptr;
  // nullptr: the output shape always follows from the input shapes. When
  // it returns true for a node, infer_output_dims gives the worst-case dims
  // (what the memory plan reserves) and `infer_from_data` the real ones,
  // which the context resolves before running the kernel.
  DataDependentFn data_dependent = nullptr;
  InferFromDataFn infer_from_data = nullptr;
  // The kernel name query_node reports for nodes of a data-dependent op
  // whose output is static (nullptr: `kernel_name`).
  const char* static_kernel_name = nullptr;
  // The kernel reads the op's any-dtype inputs as float data (argmax): other
  // dtypes are unsupported here, and f16 is converted like a float input.
  bool float_data_only = false;
};

// The spec of a kernel with none of the optional properties: an f32
// kernel the context converts f16 around, or one that moves elements of
// any size without arithmetic.
constexpr OpSpec f32_kernel(const char* op, KernelFn run, const char* kernel_name) {
  return {.op = op, .f16_mode = F16Mode::kComputeInF32, .run = run, .kernel_name = kernel_name};
}
constexpr OpSpec raw_kernel(const char* op, KernelFn run, const char* kernel_name) {
  return {.op = op, .f16_mode = F16Mode::kRawElements, .run = run, .kernel_name = kernel_name};
}

// Grain candidates for `items` units of work on a pool of `threads`: all
// on the caller, one task per thread (when a task holds at least 1/16 of
// `default_grain`), and the kernel's default `default_grain`; duplicates
// removed, values clamped to `items`.
std::vector<int64_t> candidate_grains(int64_t items, unsigned threads, int64_t default_grain);

// The specs of one family of ops, defined in its kernels/*.cpp file (not
// const: GCC gives a const variable template specialization internal linkage).
template <kit::OpFamily family>
extern std::span<const OpSpec> kOpSpecs;

// The plugin's kernels by op, with the schema's checks of a node
// (kernels/op_table.cpp).
const kit::OpTable<OpSpec>& op_table();

}  // namespace rtscope::cpu
