// The table of ONNX op mappers: each turns the current node of a Context
// into rtscope nodes. One file per group of ops (ops_*.cpp) fills it.
#pragma once

#include <map>
#include <string>

#include "context.hpp"

namespace rtscope::onnx_import {

using Mapper = void (*)(Context& ctx);

struct MapperEntry {
  Mapper map = nullptr;
  int64_t min_opset = 1;  // opsets below this are unsupported
};

using MapperTable = std::map<std::string, MapperEntry, std::less<>>;

void add_elementwise_mappers(MapperTable& table);
void add_tensor_mappers(MapperTable& table);
void add_nn_mappers(MapperTable& table);
void add_resize_mappers(MapperTable& table);
void add_index_mappers(MapperTable& table);
void add_recurrent_mappers(MapperTable& table);
void add_spectral_mappers(MapperTable& table);
void add_control_mappers(MapperTable& table);
void add_einsum_mappers(MapperTable& table);

// Helpers shared by the mappers.
// Normalizes an axis in [-rank, rank).
int64_t axis_in(Context& ctx, int64_t axis, std::size_t rank);
// The rtscope attribute list of ints.
inline AttrValue ints(std::vector<int64_t> v) { return AttrValue(std::move(v)); }
// `in` with unit dims prepended up to `rank` (numpy broadcasting as reshape).
std::string to_rank(Context& ctx, const std::string& in, std::size_t rank);
// Requires a floating input (f32 or f16).
void require_float(Context& ctx, const std::string& name);

}  // namespace rtscope::onnx_import
