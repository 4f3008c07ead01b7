// The op schema: for every op of the IR, defined once, its arity,
// attributes (name, kind, required, default), the dtype rule of each input,
// type inference and the texts of every error about them.
//
// The host validates graphs with it over symbolic shapes; plugins link the
// same static library (rtscope::op_schema, no dependency on the host) and
// call the concrete entry, so a shape or dtype a backend rejects is reported
// in the host's words. Semantics of each op are in docs/ops.md; how to add
// one is in docs/op-schema.md.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtscope/value_types.hpp"

namespace rtscope::schema {

enum class AttrKind { integer, real, string, ints };

struct AttrSpec {
  std::string name;
  AttrKind kind;
  bool required = false;
  AttrValue default_value = int64_t{0};
};

// What dtype one input accepts. Inputs are checked in order; a `floating`
// input after the first must also have the dtype of the first `floating`.
enum class InputDtype : uint8_t {
  floating,       // f32 or f16
  same_as_first,  // the dtype of input 0, whatever it is
  any,            // any dtype
  position,       // i64 (the [1] or [batch] shape is checked with the shapes)
  indices,        // i32 or i64
  boolean,        // bool
};

// The dtype of every output: input 0's, or a fixed one (casts, comparisons).
enum class OutputDtype : uint8_t { same_as_first, i64, f32, f16, i32, boolean };

struct InputSpec {
  std::string role;  // "x", "gamma": the name messages use; empty: "input <i>"
  InputDtype dtype = InputDtype::floating;
};

// Output types from input types and resolved attributes. Throws
// std::invalid_argument with a message describing the mismatch (callers add
// the location or node).
using InferFn =
    std::function<std::vector<ValueType>(const std::vector<ValueType>& inputs, const AttrMap&)>;

struct OpSchema {
  std::string name;
  int min_inputs = 1;
  int max_inputs = 1;  // -1: variadic
  int num_outputs = 1;
  // One per input; the last one repeats for variadic ops.
  std::vector<InputSpec> inputs;
  OutputDtype output_dtype = OutputDtype::same_as_first;
  std::vector<AttrSpec> attrs;
  // Checks the input dtypes, then infers shapes (attribute defaults filled
  // in by resolve_attrs).
  InferFn infer;
  // Index of the input the output 0 may share storage with (in-place ops);
  // -1 when none.
  int aliases_input = -1;
};

// nullptr when unknown.
const OpSchema* find_op(std::string_view name);

// Sorted names of every op, for "valid ops are ..." messages.
std::vector<std::string> op_names();

// Empty when `count` inputs suit `schema`, else "takes 2 inputs, got 3".
std::string check_input_count(const OpSchema& schema, int count);

// The spec of input `index` (the last one repeats).
const InputSpec& input_spec(const OpSchema& schema, std::size_t index);
// The role name of input `index` in messages.
std::string input_role(const OpSchema& schema, std::size_t index);
// Whether input `index` holds floating-point data by the dtype rule (a
// backend computing f16 in f32 converts exactly these).
bool is_float_input(const OpSchema& schema, std::size_t index);

// Checks the input dtypes against the op's rule; throws
// std::invalid_argument with the same text as infer.
void check_input_dtypes(const OpSchema& schema, std::span<const ValueType> inputs);
// The output dtype for valid input dtypes.
DType output_dtype(const OpSchema& schema, std::span<const DType> inputs);

// Returns attrs with defaults of `schema` filled in; throws InputError for
// unknown, ill-typed or missing required attributes (the message lists the
// valid ones).
AttrMap resolve_attrs(const OpSchema& schema, const AttrMap& attrs);

// How an attribute of `kind` is named in messages: "an integer", "a real
// number", "a string", "a list of integers".
std::string_view attr_kind_name(AttrKind kind);

// `value` as an attribute of `kind`: itself when it is of that kind, an
// integer widened to a real where a real is expected, nullopt otherwise.
// Every reader of attributes (resolve_attrs, the graph file loader) accepts
// the same values through this.
std::optional<AttrValue> as_attr_kind(AttrKind kind, const AttrValue& value);

// Typed attribute access on resolved attributes.
int64_t attr_int(const AttrMap& attrs, const std::string& name);
double attr_real(const AttrMap& attrs, const std::string& name);
const std::string& attr_string(const AttrMap& attrs, const std::string& name);
const std::vector<int64_t>& attr_ints(const AttrMap& attrs, const std::string& name);

// Symbolic dims that inference introduces. A fresh dim ("?") is one whose
// size inference cannot name (a -1 of reshape over symbolic dims); the
// host renames it to "<value>_d<index>". A data-dependent dim ("?n", from
// nonzero and masked_select) is known only after the op ran; its `value`
// carries the static upper bound, or -1 when the input is symbolic.
bool is_fresh(const Dim& dim);
bool is_data_dependent(const Dim& dim);

// --- The concrete entry, for backends: every dim known. ---

struct TensorType {
  DType dtype = DType::f32;
  std::vector<int64_t> dims;
};

struct ConcreteOutput {
  DType dtype = DType::f32;
  // For a data-dependent output these are the worst-case dims (what a
  // memory plan reserves); the kernel reports the real ones.
  std::vector<int64_t> dims;
  // The index of the dim known only after the op ran (nonzero,
  // masked_select); -1 when the output shape follows from the inputs.
  int data_dependent_dim = -1;
  bool data_dependent() const { return data_dependent_dim >= 0; }
};

// Same checks and texts as the symbolic inference (fixed dims are its
// all-static case). Throws std::invalid_argument.
std::vector<ConcreteOutput> infer(const OpSchema& schema, std::span<const TensorType> inputs,
                                  const AttrMap& resolved_attrs);

}  // namespace rtscope::schema
