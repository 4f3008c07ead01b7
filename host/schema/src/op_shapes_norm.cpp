// Schemas of the normalizations: softmax, layernorm, rmsnorm.
#include "op_shapes.hpp"

namespace rtscope::schema::detail {
namespace {

std::vector<ValueType> infer_softmax(const std::vector<ValueType>& in, const AttrMap& attrs) {
  require_min_rank("x", in[0], 1);
  normalize_axis(attr_int(attrs, "axis"), in[0].shape.size());
  return {in[0]};
}

void check_eps(const AttrMap& attrs) {
  const double eps = attr_real(attrs, "eps");
  if (!(eps >= 0.0)) fail("eps must be >= 0, got " + std::to_string(eps));
}

// x [..., D] with per-feature parameters of shape [D].
void check_feature_param(std::string_view role, const ValueType& param, const ValueType& x) {
  require_rank(role, param, 1);
  require_same_dim(
      param.shape[0], x.shape.back(),
      "length of " + describe(role, param) + " and the last dim of " + describe("x", x));
}

std::vector<ValueType> infer_layernorm(const std::vector<ValueType>& in, const AttrMap& attrs) {
  require_min_rank("x", in[0], 1);
  check_feature_param("gamma", in[1], in[0]);
  check_feature_param("beta", in[2], in[0]);
  check_eps(attrs);
  return {in[0]};
}

std::vector<ValueType> infer_rmsnorm(const std::vector<ValueType>& in, const AttrMap& attrs) {
  require_min_rank("x", in[0], 1);
  check_feature_param("gamma", in[1], in[0]);
  check_eps(attrs);
  return {in[0]};
}

}  // namespace

void add_norm_schemas(std::vector<OpSchema>& schemas) {
  schemas.push_back(fixed_inputs("softmax", {{"x", InputDtype::floating}},
                                 {{"axis", AttrKind::integer, false, int64_t{-1}}}, infer_softmax));
  schemas.push_back(fixed_inputs("layernorm",
                                 {{"x", InputDtype::floating},
                                  {"gamma", InputDtype::same_as_first},
                                  {"beta", InputDtype::same_as_first}},
                                 {{"eps", AttrKind::real, false, 1e-5}}, infer_layernorm));
  schemas.push_back(
      fixed_inputs("rmsnorm", {{"x", InputDtype::floating}, {"gamma", InputDtype::same_as_first}},
                   {{"eps", AttrKind::real, false, 1e-5}}, infer_rmsnorm));
}

}  // namespace rtscope::schema::detail
