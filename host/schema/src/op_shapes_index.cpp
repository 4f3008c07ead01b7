// Schemas of the ops that read or write elements at positions held in a
// tensor: top_k (the positions of the k largest or smallest along an
// axis), scatter_elements and scatter_nd (data with elements replaced or
// combined at index positions) and gather_nd (slices at index tuples).
// Index values are data: backends and the reference check each against
// its dim when they run and name the node when one is out of range.
#include "op_shapes.hpp"

namespace rtscope::schema::detail {
namespace {

const SymShape& shape_of(const ValueType& type) { return type.shape; }

SymShape sub_shape(const SymShape& shape, std::size_t begin, std::size_t end) {
  return SymShape(shape.begin() + static_cast<std::ptrdiff_t>(begin),
                  shape.begin() + static_cast<std::ptrdiff_t>(end));
}

std::vector<ValueType> infer_top_k(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  if (x.shape.empty()) fail(describe("x", x) + " must have rank >= 1");
  const std::size_t axis = normalize_axis(attr_int(attrs, "axis"), x.shape.size());
  const int64_t k = attr_int(attrs, "k");
  if (k < 0) fail("k must be >= 0, got " + std::to_string(k));
  const Dim& length = x.shape[axis];
  if (length.is_static() && k > length.value) {
    fail("k " + std::to_string(k) + " exceeds dim " + std::to_string(axis) + " of " +
         describe("x", x));
  }
  SymShape out = x.shape;
  out[axis] = Dim::fixed(k);
  return {ValueType{DType::i64, out}};
}

const char* const kReductions[] = {"none", "add", "mul"};

void check_reduction(const AttrMap& attrs) {
  const std::string& reduction = attr_string(attrs, "reduction");
  for (const char* known : kReductions) {
    if (reduction == known) return;
  }
  fail("reduction '" + reduction + "' is not one of none, add, mul");
}

std::vector<ValueType> infer_scatter_elements(const std::vector<ValueType>& in,
                                              const AttrMap& attrs) {
  const ValueType& data = in[0];
  const ValueType& indices = in[1];
  const ValueType& updates = in[2];
  if (data.shape.empty()) fail(describe("data", data) + " must have rank >= 1");
  require_rank("indices", indices, data.shape.size());
  require_rank("updates", updates, data.shape.size());
  for (std::size_t d = 0; d < data.shape.size(); ++d) {
    require_same_dim(indices.shape[d], updates.shape[d], "dims of indices and updates");
  }
  normalize_axis(attr_int(attrs, "axis"), data.shape.size());
  check_reduction(attrs);
  return {data};
}

// The length of an index tuple: the last dim of `indices`, which must be
// static and at most the rank of `data` (after `batch` leading dims).
std::size_t tuple_length(const ValueType& data, const ValueType& indices, std::size_t batch) {
  require_min_rank("indices", indices, batch + 1);
  const Dim& last = indices.shape.back();
  if (!last.is_static())
    fail("the last dim of " + describe("indices", indices) + " must be static");
  if (last.value < 1 || static_cast<std::size_t>(last.value) > data.shape.size() - batch) {
    fail("the last dim of " + describe("indices", indices) + " must be in [1, " +
         std::to_string(data.shape.size() - batch) + "] for " + describe("data", data));
  }
  return static_cast<std::size_t>(last.value);
}

std::vector<ValueType> infer_scatter_nd(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& data = in[0];
  const ValueType& indices = in[1];
  const ValueType& updates = in[2];
  if (data.shape.empty()) fail(describe("data", data) + " must have rank >= 1");
  const std::size_t q = tuple_length(data, indices, 0);
  // updates: indices' dims but the last, then data's dims after the tuple.
  SymShape expected = sub_shape(shape_of(indices), 0, indices.shape.size() - 1);
  const SymShape rest = sub_shape(data.shape, q, data.shape.size());
  expected.insert(expected.end(), rest.begin(), rest.end());
  require_rank("updates", updates, expected.size());
  for (std::size_t d = 0; d < expected.size(); ++d) {
    require_same_dim(updates.shape[d], expected[d],
                     "dims of updates and indices[:-1] + data[" + std::to_string(q) + ":]");
  }
  check_reduction(attrs);
  return {data};
}

std::vector<ValueType> infer_gather_nd(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& data = in[0];
  const ValueType& indices = in[1];
  const int64_t batch_dims = attr_int(attrs, "batch_dims");
  if (batch_dims < 0 || static_cast<std::size_t>(batch_dims) >= data.shape.size() ||
      static_cast<std::size_t>(batch_dims) >= indices.shape.size()) {
    fail("batch_dims " + std::to_string(batch_dims) + " must be >= 0 and below the ranks of " +
         describe("data", data) + " and " + describe("indices", indices));
  }
  const auto b = static_cast<std::size_t>(batch_dims);
  for (std::size_t d = 0; d < b; ++d) {
    require_same_dim(data.shape[d], indices.shape[d], "batch dims of data and indices");
  }
  const std::size_t q = tuple_length(data, indices, b);
  SymShape out = sub_shape(indices.shape, 0, indices.shape.size() - 1);
  const SymShape rest = sub_shape(data.shape, b + q, data.shape.size());
  out.insert(out.end(), rest.begin(), rest.end());
  return {ValueType{data.dtype, out}};
}

}  // namespace

void add_index_schemas(std::vector<OpSchema>& schemas) {
  OpSchema top_k = fixed_inputs("top_k", {{"x", InputDtype::any}},
                                {AttrSpec{"k", AttrKind::integer, true, int64_t{0}},
                                 AttrSpec{"axis", AttrKind::integer, false, int64_t{-1}},
                                 AttrSpec{"largest", AttrKind::integer, false, int64_t{1}}},
                                infer_top_k);
  top_k.output_dtype = OutputDtype::i64;
  schemas.push_back(std::move(top_k));
  const AttrSpec reduction{"reduction", AttrKind::string, false, std::string("none")};
  const std::vector<InputSpec> scatter_inputs = {{"data", InputDtype::any},
                                                 {"indices", InputDtype::indices},
                                                 {"updates", InputDtype::same_as_first}};
  schemas.push_back(fixed_inputs(
      "scatter_elements", scatter_inputs,
      {AttrSpec{"axis", AttrKind::integer, false, int64_t{0}}, reduction}, infer_scatter_elements));
  schemas.push_back(fixed_inputs("scatter_nd", scatter_inputs, {reduction}, infer_scatter_nd));
  schemas.push_back(fixed_inputs(
      "gather_nd", {{"data", InputDtype::any}, {"indices", InputDtype::indices}},
      {AttrSpec{"batch_dims", AttrKind::integer, false, int64_t{0}}}, infer_gather_nd));
}

}  // namespace rtscope::schema::detail
