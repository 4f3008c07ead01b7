// The table of op schemas, attribute resolution and typed access, and the
// input count and dtype rules every op shares.
#include <map>
#include <sstream>

#include "op_shapes.hpp"
#include "rtscope/error.hpp"
#include "rtscope/op_schema.hpp"

namespace rtscope::schema {
namespace {

using SchemaTable = std::map<std::string, OpSchema, std::less<>>;

const SchemaTable& schemas() {
  static const SchemaTable table = [] {
    std::vector<OpSchema> list;
    detail::add_elementwise_schemas(list);
    detail::add_linalg_schemas(list);
    detail::add_norm_schemas(list);
    detail::add_attention_schemas(list);
    detail::add_layout_schemas(list);
    detail::add_math_schemas(list);
    detail::add_window_schemas(list);
    detail::add_select_schemas(list);
    detail::add_index_schemas(list);
    SchemaTable result;
    for (OpSchema& schema : list) {
      // Every op checks its input dtypes by its declared rule before its
      // shape rule runs, so both entries report dtype errors alike.
      schema.infer = [inputs = schema.inputs, rule = std::move(schema.infer)](
                         const std::vector<ValueType>& types, const AttrMap& attrs) {
        detail::check_dtypes(inputs, types);
        return rule(types, attrs);
      };
      result.emplace(schema.name, std::move(schema));
    }
    return result;
  }();
  return table;
}

std::string describe_value(const AttrValue& value) {
  std::ostringstream text;
  if (const auto* i = std::get_if<int64_t>(&value)) {
    text << "the integer " << *i;
  } else if (const auto* r = std::get_if<double>(&value)) {
    text << "the real number " << *r;
  } else if (const auto* s = std::get_if<std::string>(&value)) {
    text << "the string '" << *s << "'";
  } else {
    text << "a list of " << std::get<std::vector<int64_t>>(value).size() << " integers";
  }
  return text.str();
}

const AttrValue& lookup(const AttrMap& attrs, const std::string& name) {
  auto it = attrs.find(name);
  if (it == attrs.end()) {
    throw InputError("attribute '" + name +
                     "' is not set (pass attributes through resolve_attrs to fill defaults)");
  }
  return it->second;
}

[[noreturn]] void wrong_kind(const std::string& name, AttrKind expected, const AttrValue& got) {
  throw InputError("attribute '" + name + "' must be " + std::string(attr_kind_name(expected)) +
                   ", got " + describe_value(got));
}

std::string valid_attr_list(const OpSchema& schema) {
  std::string list;
  for (const AttrSpec& spec : schema.attrs) {
    if (!list.empty()) list += ", ";
    list += spec.name;
  }
  return list;
}

}  // namespace

const OpSchema* find_op(std::string_view name) {
  const SchemaTable& table = schemas();
  auto it = table.find(name);
  return it == table.end() ? nullptr : &it->second;
}

std::vector<std::string> op_names() {
  std::vector<std::string> names;
  for (const auto& [name, schema] : schemas()) names.push_back(name);
  return names;  // std::map keeps them sorted
}

int64_t attr_int(const AttrMap& attrs, const std::string& name) {
  const AttrValue& value = lookup(attrs, name);
  if (const auto* i = std::get_if<int64_t>(&value)) return *i;
  wrong_kind(name, AttrKind::integer, value);
}

double attr_real(const AttrMap& attrs, const std::string& name) {
  const AttrValue& value = lookup(attrs, name);
  if (const auto* r = std::get_if<double>(&value)) return *r;
  if (const auto* i = std::get_if<int64_t>(&value)) return static_cast<double>(*i);
  wrong_kind(name, AttrKind::real, value);
}

const std::string& attr_string(const AttrMap& attrs, const std::string& name) {
  const AttrValue& value = lookup(attrs, name);
  if (const auto* s = std::get_if<std::string>(&value)) return *s;
  wrong_kind(name, AttrKind::string, value);
}

const std::vector<int64_t>& attr_ints(const AttrMap& attrs, const std::string& name) {
  const AttrValue& value = lookup(attrs, name);
  if (const auto* v = std::get_if<std::vector<int64_t>>(&value)) return *v;
  wrong_kind(name, AttrKind::ints, value);
}

std::string check_input_count(const OpSchema& schema, int count) {
  if (count >= schema.min_inputs && (schema.max_inputs < 0 || count <= schema.max_inputs)) {
    return {};
  }
  std::string expected = std::to_string(schema.min_inputs);
  if (schema.max_inputs < 0) {
    expected = "at least " + expected;
  } else if (schema.max_inputs != schema.min_inputs) {
    expected += " to " + std::to_string(schema.max_inputs);
  }
  return "takes " + expected + " inputs, got " + std::to_string(count);
}

const InputSpec& input_spec(const OpSchema& schema, std::size_t index) {
  return detail::input_spec(schema.inputs, index);
}

std::string input_role(const OpSchema& schema, std::size_t index) {
  return detail::input_role(schema.inputs, index);
}

bool is_float_input(const OpSchema& schema, std::size_t index) {
  const InputDtype rule = input_spec(schema, index).dtype;
  return rule == InputDtype::floating ||
         (rule == InputDtype::same_as_first && input_spec(schema, 0).dtype == InputDtype::floating);
}

void check_input_dtypes(const OpSchema& schema, std::span<const ValueType> inputs) {
  detail::check_dtypes(schema.inputs, inputs);
}

DType output_dtype(const OpSchema& schema, std::span<const DType> inputs) {
  switch (schema.output_dtype) {
    case OutputDtype::i64:
      return DType::i64;
    case OutputDtype::f32:
      return DType::f32;
    case OutputDtype::f16:
      return DType::f16;
    case OutputDtype::i32:
      return DType::i32;
    case OutputDtype::boolean:
      return DType::boolean;
    case OutputDtype::same_as_first:
      break;
  }
  return inputs.empty() ? DType::f32 : inputs[0];
}

bool is_fresh(const Dim& dim) { return dim.symbol == detail::kFreshSymbol; }

bool is_data_dependent(const Dim& dim) { return dim.symbol == detail::kDataDependentSymbol; }

std::string_view attr_kind_name(AttrKind kind) {
  switch (kind) {
    case AttrKind::integer:
      return "an integer";
    case AttrKind::real:
      return "a real number";
    case AttrKind::string:
      return "a string";
    case AttrKind::ints:
      return "a list of integers";
  }
  return "?";
}

std::optional<AttrValue> as_attr_kind(AttrKind kind, const AttrValue& value) {
  if (kind == AttrKind::real && std::holds_alternative<int64_t>(value)) {
    return static_cast<double>(std::get<int64_t>(value));
  }
  const bool matches =
      (kind == AttrKind::integer && std::holds_alternative<int64_t>(value)) ||
      (kind == AttrKind::real && std::holds_alternative<double>(value)) ||
      (kind == AttrKind::string && std::holds_alternative<std::string>(value)) ||
      (kind == AttrKind::ints && std::holds_alternative<std::vector<int64_t>>(value));
  if (!matches) return std::nullopt;
  return value;
}

AttrMap resolve_attrs(const OpSchema& schema, const AttrMap& attrs) {
  AttrMap resolved;
  for (const auto& [name, value] : attrs) {
    const AttrSpec* spec = nullptr;
    for (const AttrSpec& candidate : schema.attrs) {
      if (candidate.name == name) spec = &candidate;
    }
    if (spec == nullptr) {
      throw InputError("unknown attribute '" + name + "' for op '" + schema.name + "'; " +
                       (schema.attrs.empty() ? "op '" + schema.name + "' takes no attributes"
                                             : "valid attributes: " + valid_attr_list(schema)));
    }
    std::optional<AttrValue> accepted = as_attr_kind(spec->kind, value);
    if (!accepted) {
      throw InputError("attribute '" + name + "' of op '" + schema.name + "' must be " +
                       std::string(attr_kind_name(spec->kind)) + ", got " + describe_value(value));
    }
    resolved[name] = std::move(*accepted);
  }
  for (const AttrSpec& spec : schema.attrs) {
    if (resolved.count(spec.name)) continue;
    if (spec.required) {
      throw InputError("op '" + schema.name + "' requires attribute '" + spec.name + "' (" +
                       std::string(attr_kind_name(spec.kind)) + ")");
    }
    resolved[spec.name] = spec.default_value;
  }
  return resolved;
}

}  // namespace rtscope::schema
