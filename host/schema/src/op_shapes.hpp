// Shared pieces of op type inference (op_shapes_*.cpp): type checks that
// throw std::invalid_argument with a message naming the input, symbolic
// broadcasting, axis normalization, and the registration hooks that
// op_table.cpp calls to collect every OpSchema.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rtscope/op_schema.hpp"

namespace rtscope::schema::detail {

// Symbol of a dim whose size inference cannot name (e.g. a -1 of reshape
// over symbolic dims). The host's validate() renames it to
// "<value>_d<index>" so every such dim is unique to the value that
// introduced it.
inline constexpr std::string_view kFreshSymbol = "?";
inline Dim fresh_dim() { return Dim::named(std::string(kFreshSymbol)); }

// Symbol of a dim known only after the op ran (nonzero, masked_select).
// Its `value` carries the static upper bound, or -1 when the input is
// symbolic; validate() renames it to "<value>_n" and records the range
// 0..bound, so planners can size a worst-case buffer.
inline constexpr std::string_view kDataDependentSymbol = "?n";
inline Dim data_dependent_dim(int64_t upper_bound) {
  return Dim{upper_bound, std::string(kDataDependentSymbol)};
}

[[noreturn]] void fail(const std::string& message);

// The spec and message role of input `index` (the last spec repeats).
const InputSpec& input_spec(std::span<const InputSpec> specs, std::size_t index);
std::string input_role(std::span<const InputSpec> specs, std::size_t index);
// Checks `inputs` against the dtype rule `specs`, in input order.
void check_dtypes(std::span<const InputSpec> specs, std::span<const ValueType> inputs);

// "a f32[2,3]": a role name followed by the type, for messages.
std::string describe(std::string_view role, const ValueType& type);

// f32 or f16.
void require_float(std::string_view role, const ValueType& type);
void require_rank(std::string_view role, const ValueType& type, std::size_t rank);
void require_min_rank(std::string_view role, const ValueType& type, std::size_t rank);
// Symbols are equal only to the same symbol; `what` names the dims compared.
void require_same_dim(const Dim& a, const Dim& b, const std::string& what);
// The `pos` input of rope, attention and kv_cache_update: i64 [1], one
// position shared by every batch row, or i64 [batch], where batch row b
// uses pos[b] (each row a stream of its own, at its own position).
void require_position(std::string_view role, const ValueType& type, const Dim& batch);

// Numpy broadcasting over symbolic dims: equal dims, or one side fixed 1.
SymShape broadcast_shapes(std::string_view role_a, const ValueType& a, std::string_view role_b,
                          const ValueType& b);

// Axis in [-rank, rank) to [0, rank).
std::size_t normalize_axis(int64_t axis, std::size_t rank, std::string_view attr_name = "axis");

// A schema taking exactly `inputs` (one spec each), with `attrs` and the
// shape rule `infer`; callers adjust the other fields on the result.
OpSchema fixed_inputs(std::string name, std::vector<InputSpec> inputs, std::vector<AttrSpec> attrs,
                      InferFn infer);

void add_elementwise_schemas(std::vector<OpSchema>& schemas);
void add_linalg_schemas(std::vector<OpSchema>& schemas);
void add_norm_schemas(std::vector<OpSchema>& schemas);
void add_attention_schemas(std::vector<OpSchema>& schemas);
void add_layout_schemas(std::vector<OpSchema>& schemas);
void add_math_schemas(std::vector<OpSchema>& schemas);
void add_window_schemas(std::vector<OpSchema>& schemas);
void add_select_schemas(std::vector<OpSchema>& schemas);
void add_index_schemas(std::vector<OpSchema>& schemas);

}  // namespace rtscope::schema::detail
