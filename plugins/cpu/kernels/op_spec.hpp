// What the CPU plugin knows about each op: the kernel that runs it and the
// kernel's own properties. Arity, attributes, dtype rules and shape
// inference come from the op schema (rtscope/op_schema.hpp), shared with
// the host. Each kernels/*.cpp file defines the specs of one group of ops.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"
#include "graph_desc.hpp"
#include "rtscope/op_schema.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::cpu {

class ThreadPool;
class StepList;

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

// How a specialized kernel splits its work: a value chosen per concrete
// shape by measurement (see tuning.hpp).
struct KernelTuning {
  // Work items (elements, rows or columns, as the kernel defines them) per
  // pool task; 0: the kernel's shape-agnostic default.
  int64_t grain = 0;
};

struct KernelArgs {
  const NodeDesc& node;
  std::span<const TensorRef> inputs;
  std::span<const TensorRef> outputs;
  ThreadPool& pool;
  // nullptr for generic kernels, which use their built-in defaults.
  const KernelTuning* tuning = nullptr;

  int64_t grain_or(int64_t fallback) const {
    return tuning != nullptr && tuning->grain > 0 ? tuning->grain : fallback;
  }
};

using KernelFn = void (*)(const KernelArgs& args);

// One candidate implementation of a node for concrete shapes. `name` is
// static and stable: tuning results are stored by (name, grain).
struct KernelVariant {
  const char* name = nullptr;
  KernelFn run = nullptr;
  KernelTuning tuning;
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

// What an input holds by the op's dtype rule: float data (the inputs an f16
// node converts around a kernel computing in f32), a position (tuning
// writes a representative one), or anything else.
enum class InputKind : uint8_t { kFloat, kPosition, kOther };

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

// Whether `node`'s kernel needs its output sized after running.
inline bool is_data_dependent(const OpSpec& spec, const NodeDesc& node) {
  return spec.data_dependent != nullptr && spec.data_dependent(node);
}

// The name of the kernel that runs `node` (static; for query_node).
inline const char* kernel_name_for(const OpSpec& spec, const NodeDesc& node) {
  if (spec.static_kernel_name != nullptr && !is_data_dependent(spec, node)) {
    return spec.static_kernel_name;
  }
  return spec.kernel_name;
}

// Grain candidates for `items` units of work on a pool of `threads`: all
// on the caller, one task per thread, and the kernel's default
// `default_grain`; duplicates removed, values clamped to `items`.
std::vector<int64_t> candidate_grains(int64_t items, unsigned threads, int64_t default_grain);

// Spec groups, one per kernels/*.cpp file.
std::span<const OpSpec> elementwise_op_specs();
std::span<const OpSpec> matmul_op_specs();
std::span<const OpSpec> norm_op_specs();
std::span<const OpSpec> reduction_op_specs();
std::span<const OpSpec> attention_op_specs();
std::span<const OpSpec> shape_op_specs();
std::span<const OpSpec> data_dependent_op_specs();
std::span<const OpSpec> math_op_specs();
std::span<const OpSpec> reduce_op_specs();
std::span<const OpSpec> window_op_specs();
std::span<const OpSpec> select_op_specs();

// nullptr when the plugin has no kernel for `op`.
const OpSpec* find_op_spec(std::string_view op);
// Why an op is not provided (a static string), for query_node and
// build_engine.
const char* unsupported_op_reason(std::string_view op);

// The schema of the op `spec` runs.
const schema::OpSchema& op_schema(const OpSpec& spec);

// Empty when the input count and dtypes suit the op, else the reason in
// the schema's words. `dims` (optional, -1 where dynamic) name the input
// shapes in the message.
std::string check_input_types(const OpSpec& spec, std::span<const rts_dtype> inputs,
                              std::span<const Dims> dims = {});
// Empty when every attribute is known, of the right kind, and every
// required one is present, else the reason in the schema's words.
std::string check_attrs(const OpSpec& spec, const NodeDesc& node);
// Dtype of every output, from valid input dtypes.
rts_dtype output_dtype(const OpSpec& spec, std::span<const rts_dtype> inputs);
// The dtype f16-converting kernels compute in for this node: the shared
// dtype of its float inputs, or f32 when it has none.
rts_dtype float_dtype(const OpSpec& spec, std::span<const rts_dtype> inputs);
InputKind input_kind(const OpSpec& spec, size_t input);

// Output dims from concrete input dims by the op schema; throws (via
// fail_node) on a shape the op does not accept, in the schema's words. For
// a data-dependent op these are the worst-case dims.
void infer_output_dims(const OpSpec& spec, const NodeDesc& node,
                       std::span<const rts_dtype> input_dtypes, std::span<const Dims* const> inputs,
                       std::span<Dims> outputs);

template <typename... Parts>
[[noreturn]] void fail_node(const NodeDesc& node, const Parts&... parts) {
  fail_invalid(node.label(), ": ", parts...);
}

// Maps a possibly negative axis onto [0, rank); throws naming the node.
int normalize_axis(const NodeDesc& node, int64_t axis, size_t rank);

}  // namespace rtscope::cpu
