// Schemas of the index-driven ops of imported models: gather_elements,
// trilu (a triangle of the last two dims, the rest zeroed), nll_loss
// (negative log-likelihood of class scores at target indices) and
// non_max_suppression (the [batch, class, box] triples of the boxes kept;
// how many is known only after it ran).
#include <algorithm>
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

// boxes [B, S, 4], scores [B, C, S] -> i64 [selected, 3], at most
// B * C * min(max_output_boxes_per_class, S) rows.
std::vector<ValueType> infer_non_max_suppression(const std::vector<ValueType>& in,
                                                 const AttrMap& attrs) {
  const ValueType& boxes = in[0];
  const ValueType& scores = in[1];
  require_rank("boxes", boxes, 3);
  require_rank("scores", scores, 3);
  if (!(boxes.shape[2] == Dim::fixed(4))) {
    fail(describe("boxes", boxes) + " must end in 4 (the corners or the centre and size)");
  }
  require_same_dim(boxes.shape[0], scores.shape[0], "batch dims of boxes and scores");
  require_same_dim(boxes.shape[1], scores.shape[2], "box counts of boxes and scores");
  const int64_t max_per_class = attr_int(attrs, "max_output_boxes_per_class");
  if (max_per_class <= 0) {
    fail("max_output_boxes_per_class must be > 0, got " + std::to_string(max_per_class));
  }
  const int64_t center = attr_int(attrs, "center_point_box");
  if (center != 0 && center != 1) {
    fail("center_point_box must be 0 or 1, got " + std::to_string(center));
  }
  int64_t bound = -1;  // symbolic input dims: no static bound
  if (boxes.shape[0].is_static() && scores.shape[1].is_static() && boxes.shape[1].is_static()) {
    const __int128 rows = __int128{boxes.shape[0].value} * scores.shape[1].value *
                          std::min(max_per_class, boxes.shape[1].value);
    if (rows > std::numeric_limits<int32_t>::max()) fail("selects too many boxes to index");
    bound = static_cast<int64_t>(rows);
  }
  return {ValueType{DType::i64, {data_dependent_dim(bound), Dim::fixed(3)}}};
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
  OpSchema nms = fixed_inputs(
      "non_max_suppression", {{"boxes", InputDtype::floating}, {"scores", InputDtype::floating}},
      {AttrSpec{"center_point_box", AttrKind::integer, false, int64_t{0}},
       AttrSpec{"max_output_boxes_per_class", AttrKind::integer, true, int64_t{0}},
       AttrSpec{"iou_threshold", AttrKind::real, false, 0.0},
       AttrSpec{"score_threshold", AttrKind::real, false,
                -std::numeric_limits<double>::infinity()}},
      infer_non_max_suppression);
  nms.output_dtype = OutputDtype::i64;
  schemas.push_back(std::move(nms));
}

}  // namespace rtscope::schema::detail
