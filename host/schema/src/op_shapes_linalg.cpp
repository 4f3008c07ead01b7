// Schemas of the matrix ops: matmul (batched, optional transposed b),
// linear (x·w + bias) and det (determinants of square matrices).
#include "op_shapes.hpp"

namespace rtscope::schema::detail {
namespace {

std::vector<ValueType> infer_matmul(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& a = in[0];
  const ValueType& b = in[1];
  require_min_rank("a", a, 2);
  require_min_rank("b", b, 2);
  const int64_t transpose_b = attr_int(attrs, "transpose_b");
  if (transpose_b != 0 && transpose_b != 1) {
    fail("transpose_b must be 0 or 1, got " + std::to_string(transpose_b));
  }
  const std::size_t ra = a.shape.size();
  const std::size_t rb = b.shape.size();
  const Dim& m = a.shape[ra - 2];
  const Dim& k_a = a.shape[ra - 1];
  const Dim& k_b = transpose_b ? b.shape[rb - 1] : b.shape[rb - 2];
  const Dim& n = transpose_b ? b.shape[rb - 2] : b.shape[rb - 1];
  if (!(k_a == k_b)) {
    fail("inner dimensions differ: " + describe("a", a) + " has K=" + k_a.str() + " but " +
         describe("b", b) + " has K=" + k_b.str() +
         (transpose_b ? " (b is [..., N, K] because transpose_b=1)" : " (b is [..., K, N])"));
  }
  // Batch dims broadcast like elementwise ops.
  const ValueType batch_a{a.dtype, SymShape(a.shape.begin(), a.shape.end() - 2)};
  const ValueType batch_b{b.dtype, SymShape(b.shape.begin(), b.shape.end() - 2)};
  SymShape out = broadcast_shapes("a batch dims", batch_a, "b batch dims", batch_b);
  out.push_back(m);
  out.push_back(n);
  return {ValueType{a.dtype, std::move(out)}};
}

std::vector<ValueType> infer_linear(const std::vector<ValueType>& in, const AttrMap&) {
  const ValueType& x = in[0];
  const ValueType& w = in[1];
  require_min_rank("x", x, 1);
  require_rank("w", w, 2);
  if (in.size() == 3) {
    require_rank("bias", in[2], 1);
    require_same_dim(in[2].shape[0], w.shape[1],
                     "bias length and output features of " + describe("w", w));
  }
  if (!(x.shape.back() == w.shape[0])) {
    fail("inner dimensions differ: " + describe("x", x) + " has K=" + x.shape.back().str() +
         " but " + describe("w", w) + " has K=" + w.shape[0].str() + " (w is [K, N])");
  }
  SymShape out(x.shape.begin(), x.shape.end() - 1);
  out.push_back(w.shape[1]);
  return {ValueType{x.dtype, std::move(out)}};
}

// x [..., M, M] -> [...].
std::vector<ValueType> infer_det(const std::vector<ValueType>& in, const AttrMap&) {
  const ValueType& x = in[0];
  require_min_rank("x", x, 2);
  require_same_dim(x.shape[x.shape.size() - 2], x.shape.back(), "the last two dims of x");
  return {ValueType{x.dtype, SymShape(x.shape.begin(), x.shape.end() - 2)}};
}

}  // namespace

void add_linalg_schemas(std::vector<OpSchema>& schemas) {
  schemas.push_back(
      fixed_inputs("matmul", {{"a", InputDtype::floating}, {"b", InputDtype::floating}},
                   {{"transpose_b", AttrKind::integer, false, int64_t{0}}}, infer_matmul));
  OpSchema linear = fixed_inputs(
      "linear",
      {{"x", InputDtype::floating}, {"w", InputDtype::floating}, {"bias", InputDtype::floating}},
      {}, infer_linear);
  linear.min_inputs = 2;  // the bias is optional
  schemas.push_back(std::move(linear));
  schemas.push_back(fixed_inputs("det", {{"x", InputDtype::floating}}, {}, infer_det));
}

}  // namespace rtscope::schema::detail
