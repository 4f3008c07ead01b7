// State of one import: the ONNX model, the rtscope graph being built, the
// values known at import time (initializers and folded results) and the
// type of every value emitted so far. Mappers (ops_*.cpp) turn one ONNX
// node into rtscope nodes through it.
#pragma once

#include <onnx/onnx_pb.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "rtscope/graph.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope::onnx_import {

class Context {
 public:
  std::string file;  // the model as named in messages
  std::filesystem::path dir;
  std::map<std::string, int64_t> opsets;  // domain ("" = ai.onnx) → version
  Graph graph;
  std::map<std::string, Tensor> constants;
  std::map<std::string, ValueType> types;
  std::set<std::string> graph_outputs;

  // The node being imported (messages name it).
  void begin_node(const onnx::NodeProto& node, std::size_t index);
  const onnx::NodeProto& node() const { return *node_; }
  std::size_t node_index() const { return node_index_; }
  int64_t opset() const;  // of the node's domain

  // One line: "file: node 'n' (Op, domain ai.onnx, opset 13): message".
  [[noreturn]] void fail(const std::string& message) const;
  // "unsupported: ..." errors, which the conformance suite lists as such.
  [[noreturn]] void unsupported(const std::string& message) const;
  std::string where() const;

  // Inputs of the current node ("" when an optional input is absent).
  std::size_t input_count() const;
  const std::string& input(std::size_t index) const;
  bool has_input(std::size_t index) const;
  const std::string& output(std::size_t index) const;

  // Attributes of the current node.
  bool has_attr(const std::string& name) const;
  int64_t attr_int(const std::string& name, int64_t fallback) const;
  double attr_float(const std::string& name, double fallback) const;
  std::string attr_string(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& name,
                                 const std::vector<int64_t>& fallback = {}) const;
  std::vector<double> attr_floats(const std::string& name) const;
  const onnx::AttributeProto* attr(const std::string& name) const;
  // Fails naming every attribute that is set but not in `handled`.
  void only_attrs(std::initializer_list<const char*> handled) const;

  // Known at import time: an initializer, a Constant, a folded result.
  const Tensor* constant(const std::string& name) const;
  // Values of a constant as int64 (shape inputs); fails when not constant.
  std::vector<int64_t> constant_ints(const std::string& name, const char* role) const;
  std::vector<double> constant_doubles(const std::string& name, const char* role) const;

  // The type of a value: emitted, graph input or constant.
  ValueType type(const std::string& name) const;
  // Its shape when every dim is static; fails otherwise (naming the value).
  Shape static_shape(const std::string& name) const;
  bool is_static(const std::string& name) const;
  DType dtype(const std::string& name) const { return type(name).dtype; }

  // A name a node may read: constants become weights the first time.
  std::string value(const std::string& name);
  // A new weight holding `data`.
  std::string add_weight(const std::string& hint, Tensor data);
  // A scalar or 1-D f32/f16 weight of `dtype`.
  std::string add_scalar(const std::string& hint, double value, DType dtype,
                         const Shape& shape = {});
  // A name no value has.
  std::string fresh(const std::string& hint);

  // Appends one rtscope node; its output is `out` (fresh when empty).
  // Infers the output types by the op schema; a rejection fails naming the
  // ONNX node.
  std::string emit(const std::string& op, std::vector<std::string> inputs, AttrMap attrs = {},
                   std::string out = {});
  std::vector<std::string> emit_n(const std::string& op, std::vector<std::string> inputs,
                                  AttrMap attrs, std::vector<std::string> outs);
  // reshape of `in` to `shape` (static).
  std::string reshape(const std::string& in, const Shape& shape, std::string out = {});
  // Makes `out` an alias of `in` (an identity).
  void identity(const std::string& in, const std::string& out);

  std::set<std::string> names;  // every name in use
  // Subgraph bodies imported so far (If branches, Loop and Scan
  // iterations), bounded so nested loops cannot multiply without limit.
  int64_t inlined_bodies = 0;
  // Recurrent steps unrolled so far (RNN, GRU, LSTM), bounded the same way.
  int64_t unrolled_steps = 0;

 private:
  const onnx::NodeProto* node_ = nullptr;
  std::size_t node_index_ = 0;
  int emitted_in_node_ = 0;
  std::map<std::string, std::string> weight_of_;
  int fresh_counter_ = 0;
};

// "Unsupported" errors carry this prefix after the location.
inline constexpr const char* kUnsupported = "unsupported: ";

// Evaluates the node at import time when every input is known (shape
// arithmetic); returns false when it does not fold.
bool fold_node(Context& ctx);

// Maps the node onto rtscope ops; fails when the op has no mapping.
void map_node(Context& ctx);

// Imports one node (the graph's, or a subgraph's that control flow
// inlines): its domain checked, then folded or mapped.
void import_node(Context& ctx, const onnx::NodeProto& node, std::size_t index);

// ONNX op types with a mapping, for docs and messages.
std::vector<std::string> mapped_op_types();

}  // namespace rtscope::onnx_import
