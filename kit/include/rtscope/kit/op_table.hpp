// A backend's kernels by op, and the checks every backend makes of a node
// before it runs it: arity, dtypes, attributes and shapes, all answered by
// the op schema (rtscope/op_schema.hpp) so a plugin reports them in the
// host's words. A backend describes each kernel with its own Spec struct
// (what it needs to run the op) and lists them in one OpTable:
//
//   static const kit::OpTable<OpSpec> table("cpu", {elementwise_op_specs(), ...});
//
// The table reads these members of Spec:
//   const char* op;                           // a name of the op schema
//   const char* kernel_name;                  // static; reported by query_node
//   const char* static_kernel_name;           // a data-dependent op's kernel when
//                                             // its output is static (nullptr: kernel_name)
//   bool (*data_dependent)(const NodeDesc&);  // output sized after running; nullptr: never
//   bool float_data_only;                     // reads any-dtype inputs as float data (argmax)
// and, when the Spec has it,
//   void (*check_kernel_shapes)(const NodeDesc&, std::span<const Dims* const>);
//                                             // shapes the schema accepts but the kernel cannot
//                                             run
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rtscope/kit/backend.hpp"
#include "rtscope/kit/error.hpp"
#include "rtscope/kit/graph_desc.hpp"
#include "rtscope/kit/op_attrs.hpp"
#include "rtscope/kit/resolved_graph.hpp"
#include "rtscope/op_schema.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::kit {

// The families every backend sorts its kernels into, one
// kernels/<family>.cpp file each, so that backends look alike. A backend
// declares `template <OpFamily> extern std::span<const Spec> kOpSpecs;`
// and specializes it in each of those files.
enum class OpFamily : uint8_t {
  kElementwise,    // kernels/elementwise.cpp
  kMatmul,         // kernels/matmul.cpp
  kNorm,           // kernels/norms.cpp
  kReduction,      // kernels/reductions.cpp
  kAttention,      // kernels/attention.cpp
  kShape,          // kernels/shape_ops.cpp
  kDataDependent,  // kernels/data_dependent.cpp
  kMath,           // kernels/math_ops.cpp: unary math, arithmetic, casts, gather
  kReduce,         // kernels/reduce_ops.cpp: reduce_* over axes, log_softmax
  kWindow,         // kernels/window_ops.cpp: convolution, pooling, padding
  kSelect,         // kernels/select_ops.cpp: index-driven ops (gather_elements, trilu)
  kIndex,          // kernels/index_ops.cpp: top_k, scatter_elements, scatter_nd, gather_nd
};

// What an input holds by the op's dtype rule: float data (whose dtype picks
// the kernel variant, or which is converted around an f32 kernel), a
// position, or anything else.
enum class InputKind : uint8_t { kFloat, kPosition, kOther };

// The checks behind OpTable, on one op's schema (op_table.cpp).
namespace op_checks {
InputKind input_kind(const schema::OpSchema& op, bool float_data_only, size_t input);
std::string input_types(const char* backend, const schema::OpSchema& op, bool float_data_only,
                        std::span<const rts_dtype> inputs, std::span<const Dims> dims);
std::string attrs(const schema::OpSchema& op, const NodeDesc& node);
rts_dtype output_dtype(const schema::OpSchema& op, std::span<const rts_dtype> inputs);
rts_dtype float_dtype(const schema::OpSchema& op, bool float_data_only,
                      std::span<const rts_dtype> inputs);
void infer_output_dims(const schema::OpSchema& op, const NodeDesc& node,
                       std::span<const rts_dtype> input_dtypes, std::span<const Dims* const> inputs,
                       std::span<Dims> outputs);
}  // namespace op_checks

// Whether `node`'s kernel needs its output sized after running.
template <typename Spec>
bool is_data_dependent(const Spec& spec, const NodeDesc& node) {
  return spec.data_dependent != nullptr && spec.data_dependent(node);
}

// The name of the kernel that runs `node` (static; for query_node).
template <typename Spec>
const char* kernel_name_for(const Spec& spec, const NodeDesc& node) {
  if (spec.static_kernel_name != nullptr && !is_data_dependent(spec, node)) {
    return spec.static_kernel_name;
  }
  return spec.kernel_name;
}

template <typename Spec>
class OpTable {
 public:
  // `groups` are the backend's spec lists, one per OpFamily; a spec naming
  // an op the schema lacks is a bug of the plugin (logic_error).
  OpTable(const char* backend, std::initializer_list<std::span<const Spec>> groups)
      : backend_(backend), unknown_op_(str_cat(backend, ": unknown op")) {
    for (std::span<const Spec> group : groups) {
      for (const Spec& spec : group) {
        const schema::OpSchema* op = schema::find_op(spec.op);
        if (op == nullptr)
          throw std::logic_error(str_cat(backend, ": no op schema for '", spec.op, "'"));
        entries_.emplace_back(&spec, op);
      }
    }
  }

  // nullptr when the backend has no kernel for `op`.
  const Spec* find(std::string_view op) const {
    for (const auto& [spec, schema] : entries_) {
      if (op == spec->op) return spec;
    }
    return nullptr;
  }
  // Why an op is not provided (a static string).
  const char* unknown_op() const { return unknown_op_.c_str(); }
  // The spec of `node`'s op; throws RTS_ERROR_UNSUPPORTED naming the node.
  const Spec& bind(const NodeDesc& node) const {
    const Spec* spec = find(node.op);
    if (spec == nullptr) fail(RTS_ERROR_UNSUPPORTED, node.label(), ": ", unknown_op());
    return *spec;
  }
  const schema::OpSchema& schema(const Spec& spec) const {
    for (const auto& [known, op] : entries_) {
      if (known == &spec) return *op;
    }
    throw std::logic_error(str_cat(backend_, ": op spec '", spec.op, "' is not in the table"));
  }

  InputKind input_kind(const Spec& spec, size_t input) const {
    return op_checks::input_kind(schema(spec), spec.float_data_only, input);
  }
  // Empty when the input count and dtypes suit the op and the kernel, else
  // the reason in the schema's words. `dims` (optional, -1 where dynamic)
  // name the input shapes in the message.
  std::string check_input_types(const Spec& spec, std::span<const rts_dtype> inputs,
                                std::span<const Dims> dims = {}) const {
    return op_checks::input_types(backend_.c_str(), schema(spec), spec.float_data_only, inputs,
                                  dims);
  }
  // Empty when every attribute is known, of the right kind, and every
  // required one is present, else the reason in the schema's words.
  std::string check_attrs(const Spec& spec, const NodeDesc& node) const {
    return op_checks::attrs(schema(spec), node);
  }
  // check_input_types and check_attrs of a node being built: throws naming it.
  void check_node(const Spec& spec, const NodeDesc& node, std::span<const rts_dtype> inputs) const {
    if (std::string reason = check_input_types(spec, inputs); !reason.empty()) {
      fail_node(node, reason);
    }
    if (std::string reason = check_attrs(spec, node); !reason.empty()) fail_node(node, reason);
  }
  // Dtype of every output, from valid input dtypes.
  rts_dtype output_dtype(const Spec& spec, std::span<const rts_dtype> inputs) const {
    return op_checks::output_dtype(schema(spec), inputs);
  }
  // The shared dtype of the node's float inputs, or f32 when it has none.
  rts_dtype float_dtype(const Spec& spec, std::span<const rts_dtype> inputs) const {
    return op_checks::float_dtype(schema(spec), spec.float_data_only, inputs);
  }
  // Output dims from concrete input dims by the op schema, then the
  // kernel's own limits; throws (via fail_node) naming the node. For a
  // data-dependent op these are the worst-case dims.
  void infer_output_dims(const Spec& spec, const NodeDesc& node,
                         std::span<const rts_dtype> input_dtypes,
                         std::span<const Dims* const> inputs, std::span<Dims> outputs) const {
    op_checks::infer_output_dims(schema(spec), node, input_dtypes, inputs, outputs);
    if constexpr (requires { spec.check_kernel_shapes; }) {
      if (spec.check_kernel_shapes != nullptr) spec.check_kernel_shapes(node, inputs);
    }
  }

  // The dims of every value of `engine` (a ResolvedGraph whose nodes hold
  // their `spec`), by value id, for concrete `input_dims`: inputs checked
  // against their declarations, then each node's outputs inferred in order
  // and checked against theirs.
  template <typename ResolvedEngine>
  std::vector<Dims> infer_dims(const ResolvedEngine& engine,
                               std::span<const Dims> input_dims) const {
    const auto& values = engine.values();
    std::vector<Dims> dims(values.size());
    for (size_t i = 0; i < input_dims.size(); ++i) {
      check_input_dims(engine.graph().inputs[i], input_dims[i]);
      dims[engine.input_values()[i]] = input_dims[i];
    }
    for (uint32_t id = 0; id < values.size(); ++id) {
      if (values[id].role == ValueRole::kConstant) {
        dims[id] = engine.graph().constants[values[id].role_index].value.dims;
      }
    }
    std::vector<const Dims*> node_inputs;
    std::vector<rts_dtype> node_dtypes;
    std::vector<Dims> node_outputs;
    for (const auto& node : engine.nodes()) {
      node_inputs.clear();
      node_dtypes.clear();
      for (uint32_t id : node.inputs) {
        node_inputs.push_back(&dims[id]);
        node_dtypes.push_back(values[id].dtype);
      }
      node_outputs.assign(node.outputs.size(), Dims{});
      infer_output_dims(*node.spec, *node.desc, node_dtypes, node_inputs, node_outputs);
      for (size_t o = 0; o < node.outputs.size(); ++o) {
        check_inferred_dims(*node.desc, values[node.outputs[o]], node_outputs[o]);
        dims[node.outputs[o]] = std::move(node_outputs[o]);
      }
    }
    return dims;
  }

  // The part of Backend::query_node every backend shares: the op, input
  // dtypes, attributes, `device_check(spec, dtypes)` (the backend's own
  // reason to refuse, "" when none), one output of the produced dtype and
  // the static shapes. Returns the spec when the node passes, with
  // `answer` marked supported (and needs_output_allocation set) and
  // `dtypes` holding the input dtypes; otherwise nullptr with
  // `answer.detail` saying why. The backend then names the kernel.
  template <typename DeviceCheck>
  const Spec* query_node(Backend& backend, const NodeDesc& desc, const rts_value* inputs,
                         const rts_value* outputs, std::vector<rts_dtype>& dtypes,
                         rts_support& answer, DeviceCheck&& device_check) const {
    answer = rts_support{};
    const Spec* spec = find(desc.op);
    if (spec == nullptr) {
      answer.detail = unknown_op();
      return nullptr;
    }
    dtypes.clear();
    std::vector<Dims> dims;
    for (size_t i = 0; i < desc.inputs.size(); ++i) {
      dtypes.push_back(inputs[i].dtype);
      dims.push_back(copy_value(inputs[i], "input").dims);
    }
    std::string reason = check_input_types(*spec, dtypes, dims);
    if (reason.empty()) reason = check_attrs(*spec, desc);
    if (reason.empty()) reason = device_check(*spec, std::span<const rts_dtype>(dtypes));
    if (reason.empty()) {
      reason = check_queried_outputs(
          desc, inputs, outputs, [&] { return output_dtype(*spec, dtypes); },
          [&](auto input_dims, auto output_dims) {
            infer_output_dims(*spec, desc, dtypes, input_dims, output_dims);
          });
    }
    if (!reason.empty()) {
      answer.detail = backend.refusal(desc, reason);
      return nullptr;
    }
    answer.supported = 1;
    answer.needs_output_allocation = is_data_dependent(*spec, desc) ? 1 : 0;
    return spec;
  }

 private:
  std::string backend_;
  std::string unknown_op_;
  std::vector<std::pair<const Spec*, const schema::OpSchema*>> entries_;
};

}  // namespace rtscope::kit
