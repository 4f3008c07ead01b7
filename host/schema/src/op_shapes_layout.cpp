// Schemas of the data movement ops: reshape, transpose, concat, slice,
// embedding, argmax, and the data-dependent nonzero and masked_select.
// Layout ops accept any dtype.
#include <algorithm>
#include <limits>
#include <map>

#include "op_shapes.hpp"

namespace rtscope::schema::detail {
namespace {

// A symbolic element count: product of the static dims times the symbols.
struct SymbolicCount {
  int64_t fixed = 1;
  std::map<std::string, int> symbols;  // symbol -> multiplicity

  void multiply(const Dim& dim) {
    if (dim.is_static()) {
      fixed *= dim.value;
    } else {
      ++symbols[dim.symbol];
    }
  }
};

std::string ints_to_string(const std::vector<int64_t>& values) {
  std::string text = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ",";
    text += std::to_string(values[i]);
  }
  return text + "]";
}

std::vector<ValueType> infer_reshape(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  const std::vector<int64_t>& spec = attr_ints(attrs, "shape");
  const std::string what = "cannot reshape " + describe("x", x) + " to " + ints_to_string(spec);

  SymShape out(spec.size());
  std::ptrdiff_t inferred = -1;
  SymbolicCount known;
  for (std::size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == 0) {
      if (i >= x.shape.size()) {
        fail(what + ": shape[" + std::to_string(i) + "] is 0 (copy the input dim) but x has rank " +
             std::to_string(x.shape.size()));
      }
      out[i] = x.shape[i];
    } else if (spec[i] == -1) {
      if (inferred >= 0) fail(what + ": only one -1 is allowed");
      inferred = static_cast<std::ptrdiff_t>(i);
      continue;
    } else if (spec[i] > 0) {
      out[i] = Dim::fixed(spec[i]);
    } else {
      fail(what + ": dims must be > 0, 0 (copy) or -1 (infer), got " + std::to_string(spec[i]));
    }
    known.multiply(out[i]);
  }

  SymbolicCount total;
  for (const Dim& dim : x.shape) total.multiply(dim);

  if (inferred < 0) {
    if (known.fixed != total.fixed || known.symbols != total.symbols) {
      fail(what + ": element counts differ");
    }
    return {ValueType{x.dtype, std::move(out)}};
  }

  // Symbols of the output all come from 0-copies of distinct input dims, so
  // they are a sub-multiset of the input's symbols; what is left over, and
  // the static ratio, make up the -1.
  std::map<std::string, int> left = total.symbols;
  for (const auto& [symbol, count] : known.symbols) {
    if ((left[symbol] -= count) == 0) left.erase(symbol);
  }
  Dim& result = out[static_cast<std::size_t>(inferred)];
  if (left.empty()) {
    if (known.fixed == 0 || total.fixed % known.fixed != 0) {
      fail(what + ": " + std::to_string(total.fixed) + " elements do not divide into dims of " +
           std::to_string(known.fixed));
    }
    result = Dim::fixed(total.fixed / known.fixed);
  } else if (left.size() == 1 && left.begin()->second == 1 && known.fixed == total.fixed) {
    result = Dim::named(left.begin()->first);
  } else {
    result = fresh_dim();
  }
  return {ValueType{x.dtype, std::move(out)}};
}

std::vector<ValueType> infer_transpose(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  const std::vector<int64_t>& perm = attr_ints(attrs, "perm");
  const auto rank = static_cast<int64_t>(x.shape.size());
  std::vector<int64_t> sorted = perm;
  std::sort(sorted.begin(), sorted.end());
  bool is_permutation = static_cast<int64_t>(perm.size()) == rank;
  for (int64_t i = 0; is_permutation && i < rank; ++i) is_permutation = sorted[i] == i;
  if (!is_permutation) {
    fail("perm " + ints_to_string(perm) + " must be a permutation of 0.." +
         std::to_string(rank - 1) + " for " + describe("x", x));
  }
  SymShape out;
  for (int64_t axis : perm) out.push_back(x.shape[axis]);
  return {ValueType{x.dtype, std::move(out)}};
}

std::vector<ValueType> infer_concat(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& first = in[0];
  require_min_rank("input 0", first, 1);
  const std::size_t axis = normalize_axis(attr_int(attrs, "axis"), first.shape.size());
  SymShape out = first.shape;
  int64_t fixed_sum = 0;
  bool all_static = true;
  for (std::size_t i = 0; i < in.size(); ++i) {
    const std::string role = "input " + std::to_string(i);
    require_rank(role, in[i], first.shape.size());
    for (std::size_t d = 0; d < first.shape.size(); ++d) {
      if (d == axis) continue;
      require_same_dim(in[i].shape[d], first.shape[d],
                       "dim " + std::to_string(d) + " of " + describe(role, in[i]) + " and " +
                           describe("input 0", first) + " (only the concat axis may differ)");
    }
    const Dim& along = in[i].shape[axis];
    all_static = all_static && along.is_static();
    if (along.is_static()) fixed_sum += along.value;
  }
  if (in.size() > 1) out[axis] = all_static ? Dim::fixed(fixed_sum) : fresh_dim();
  return {ValueType{first.dtype, std::move(out)}};
}

std::vector<ValueType> infer_slice(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  require_min_rank("x", x, 1);
  const std::size_t axis = normalize_axis(attr_int(attrs, "axis"), x.shape.size());
  const int64_t start = attr_int(attrs, "start");
  const int64_t end = attr_int(attrs, "end");
  SymShape out = x.shape;
  const Dim& dim = x.shape[axis];
  if (dim.is_static()) {
    // Python slicing: negative bounds count from the end, then clamp.
    auto clamp = [&](int64_t bound) {
      if (bound < 0) bound += dim.value;
      return std::clamp<int64_t>(bound, 0, dim.value);
    };
    out[axis] = Dim::fixed(std::max<int64_t>(0, clamp(end) - clamp(start)));
  } else if (!(start == 0 && end == std::numeric_limits<int64_t>::max())) {
    out[axis] = fresh_dim();  // the length depends on the symbol's value
  }
  return {ValueType{x.dtype, std::move(out)}};
}

std::vector<ValueType> infer_embedding(const std::vector<ValueType>& in, const AttrMap&) {
  const ValueType& table = in[0];
  const ValueType& ids = in[1];
  require_rank("table", table, 2);  // [V, D]
  SymShape out = ids.shape;
  out.push_back(table.shape[1]);
  return {ValueType{table.dtype, std::move(out)}};
}

std::vector<ValueType> infer_argmax(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  require_min_rank("x", x, 1);
  const std::size_t axis = normalize_axis(attr_int(attrs, "axis"), x.shape.size());
  if (x.shape[axis].is_static() && x.shape[axis].value == 0) {
    fail("argmax over an empty axis of " + describe("x", x));
  }
  SymShape out = x.shape;
  out.erase(out.begin() + static_cast<std::ptrdiff_t>(axis));
  return {ValueType{DType::i64, std::move(out)}};
}

// Element count of a static shape; -1 when any dim is symbolic.
int64_t static_numel(const SymShape& shape) {
  int64_t count = 1;
  for (const Dim& dim : shape) {
    if (!dim.is_static()) return -1;
    count *= dim.value;
  }
  return count;
}

std::vector<ValueType> infer_nonzero(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  const int64_t max_count = attr_int(attrs, "max_count");
  if (max_count < 0) fail("max_count must be >= 0, got " + std::to_string(max_count));
  const auto rank = static_cast<int64_t>(x.shape.size());
  // max_count > 0 fixes the row count, so the output is static-shape.
  const Dim rows =
      max_count > 0 ? Dim::fixed(max_count) : data_dependent_dim(static_numel(x.shape));
  return {ValueType{DType::i64, {rows, Dim::fixed(rank)}}};
}

std::vector<ValueType> infer_masked_select(const std::vector<ValueType>& in, const AttrMap&) {
  const ValueType& x = in[0];
  const ValueType& mask = in[1];
  if (mask.shape != x.shape) {
    fail(describe("mask", mask) + " must have the shape of " + describe("x", x));
  }
  return {ValueType{x.dtype, {data_dependent_dim(static_numel(x.shape))}}};
}

OpSchema schema(std::string name, std::vector<AttrSpec> attrs,
                std::vector<ValueType> (*infer)(const std::vector<ValueType>&, const AttrMap&)) {
  OpSchema result;
  result.name = std::move(name);
  result.inputs = {{"x", InputDtype::any}};
  result.attrs = std::move(attrs);
  result.infer = infer;
  return result;
}

AttrSpec required(std::string name, AttrKind kind) {
  AttrSpec spec{std::move(name), kind, true, int64_t{0}};
  if (kind == AttrKind::ints) spec.default_value = std::vector<int64_t>{};
  return spec;
}

}  // namespace

void add_layout_schemas(std::vector<OpSchema>& schemas) {
  schemas.push_back(schema("reshape", {required("shape", AttrKind::ints)}, infer_reshape));
  schemas.push_back(schema("transpose", {required("perm", AttrKind::ints)}, infer_transpose));

  OpSchema concat = schema("concat", {required("axis", AttrKind::integer)}, infer_concat);
  concat.max_inputs = -1;
  // Any dtype, one for all inputs; roles are "input <i>".
  concat.inputs = {{"", InputDtype::any}, {"", InputDtype::same_as_first}};
  schemas.push_back(std::move(concat));

  schemas.push_back(
      schema("slice",
             {required("axis", AttrKind::integer), required("start", AttrKind::integer),
              required("end", AttrKind::integer)},
             infer_slice));

  OpSchema embedding = schema("embedding", {}, infer_embedding);
  embedding.min_inputs = embedding.max_inputs = 2;
  embedding.inputs = {{"table", InputDtype::floating}, {"ids", InputDtype::indices}};
  schemas.push_back(std::move(embedding));

  OpSchema argmax =
      schema("argmax", {AttrSpec{"axis", AttrKind::integer, false, int64_t{-1}}}, infer_argmax);
  argmax.output_dtype = OutputDtype::i64;
  schemas.push_back(std::move(argmax));

  OpSchema nonzero = schema(
      "nonzero", {AttrSpec{"max_count", AttrKind::integer, false, int64_t{0}}}, infer_nonzero);
  nonzero.output_dtype = OutputDtype::i64;
  schemas.push_back(std::move(nonzero));
  OpSchema masked_select = schema("masked_select", {}, infer_masked_select);
  masked_select.min_inputs = masked_select.max_inputs = 2;
  masked_select.inputs = {{"x", InputDtype::any}, {"mask", InputDtype::boolean}};
  schemas.push_back(std::move(masked_select));
}

}  // namespace rtscope::schema::detail
