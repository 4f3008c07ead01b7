// Schemas of the elementwise ops: add, sub, mul (broadcasting), scale, relu,
// gelu, silu.
#include "op_shapes.hpp"

namespace rtscope::schema::detail {
namespace {

std::vector<ValueType> infer_binary(const std::vector<ValueType>& in, const AttrMap&) {
  return {ValueType{in[0].dtype, broadcast_shapes("a", in[0], "b", in[1])}};
}

std::vector<ValueType> infer_unary(const std::vector<ValueType>& in, const AttrMap&) {
  return {in[0]};
}

OpSchema binary(std::string name) {
  OpSchema schema;
  schema.name = std::move(name);
  schema.min_inputs = schema.max_inputs = 2;
  schema.inputs = {{"a", InputDtype::floating}, {"b", InputDtype::floating}};
  schema.infer = infer_binary;
  return schema;
}

OpSchema unary(std::string name) {
  OpSchema schema;
  schema.name = std::move(name);
  schema.inputs = {{"x", InputDtype::floating}};
  schema.infer = infer_unary;
  return schema;
}

}  // namespace

void add_elementwise_schemas(std::vector<OpSchema>& schemas) {
  schemas.push_back(binary("add"));
  schemas.push_back(binary("sub"));
  schemas.push_back(binary("mul"));
  schemas.push_back(unary("relu"));
  schemas.push_back(unary("gelu"));
  schemas.push_back(unary("silu"));
  OpSchema scale = unary("scale");
  scale.attrs = {AttrSpec{"factor", AttrKind::real, /*required=*/true, 0.0}};
  schemas.push_back(std::move(scale));
}

}  // namespace rtscope::schema::detail
