// Schemas of the index-driven ops of imported models: gather_elements,
// trilu (a triangle of the last two dims, the rest zeroed) and nll_loss
// (negative log-likelihood of class scores at target indices).
#include <limits>

#include "op_shapes.hpp"

namespace rtscope::schema::detail {
namespace {

std::vector<ValueType> infer_gather_elements(const std::vector<ValueType>& in,
                                             const AttrMap& attrs) {
  const ValueType& data = in[0];
  const ValueType& indices = in[1];
  if (data.shape.empty()) fail(describe("data", data) + " must have rank >= 1");
  require_rank("indices", indices, data.shape.size());
  normalize_axis(attr_int(attrs, "axis"), data.shape.size());
  return {ValueType{data.dtype, indices.shape}};
}

std::vector<ValueType> infer_trilu(const std::vector<ValueType>& in, const AttrMap&) {
  require_min_rank("x", in[0], 2);
  return {in[0]};
}

std::vector<ValueType> infer_nll_loss(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  const ValueType& target = in[1];
  require_min_rank("x", x, 2);
  require_rank("target", target, x.shape.size() - 1);
  require_same_dim(x.shape[0], target.shape[0], "batch dims of x and target");
  for (std::size_t d = 2; d < x.shape.size(); ++d) {
    require_same_dim(x.shape[d], target.shape[d - 1], "spatial dims of x and target");
  }
  if (in.size() > 2) {
    require_rank("weight", in[2], 1);
    require_same_dim(in[2].shape[0], x.shape[1], "weight's size and x's classes");
  }
  const std::string& reduction = attr_string(attrs, "reduction");
  if (reduction == "none") return {ValueType{x.dtype, target.shape}};
  if (reduction != "sum" && reduction != "mean") {
    fail("reduction '" + reduction + "' is not one of none, sum, mean");
  }
  return {ValueType{x.dtype, {}}};
}

}  // namespace

void add_select_schemas(std::vector<OpSchema>& schemas) {
  schemas.push_back(fixed_inputs(
      "gather_elements", {{"data", InputDtype::any}, {"indices", InputDtype::indices}},
      {AttrSpec{"axis", AttrKind::integer, false, int64_t{0}}}, infer_gather_elements));
  schemas.push_back(fixed_inputs("trilu", {{"x", InputDtype::any}},
                                 {AttrSpec{"upper", AttrKind::integer, false, int64_t{1}},
                                  AttrSpec{"k", AttrKind::integer, false, int64_t{0}}},
                                 infer_trilu));
  OpSchema nll = fixed_inputs(
      "nll_loss",
      {{"x", InputDtype::floating},
       {"target", InputDtype::indices},
       {"weight", InputDtype::floating}},
      {AttrSpec{"reduction", AttrKind::string, false, std::string("mean")},
       // The minimum int64 stands for "no index is ignored".
       AttrSpec{"ignore_index", AttrKind::integer, false, std::numeric_limits<int64_t>::min()}},
      infer_nll_loss);
  nll.min_inputs = 2;  // the weight is optional
  schemas.push_back(std::move(nll));
}

}  // namespace rtscope::schema::detail
