#include "graph_yaml_values.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace rtscope::graph_yaml {
namespace {

constexpr DType kAllDTypes[] = {DType::f32, DType::f16, DType::i32, DType::i64, DType::boolean};

std::string dtype_names() {
  std::vector<std::string> names;
  for (DType d : kAllDTypes) names.emplace_back(to_string(d));
  return yaml::join(names);
}

std::string symbol_names(const std::map<std::string, SymbolRange>& symbols) {
  if (symbols.empty()) return "none are declared";
  std::vector<std::string> names;
  for (const auto& [name, range] : symbols) names.push_back(name);
  return yaml::join(names);
}

// A real attribute is "a number" in a graph file: an integer written there
// is accepted and widened.
std::string_view kind_name(AttrKind kind) {
  return kind == AttrKind::real ? "a number" : schema::attr_kind_name(kind);
}

// The value as written, before the schema is consulted.
AttrValue read_attr_value(const yaml::Source& source, const YAML::Node& value,
                          const YAML::Mark& mark, const std::string& what) {
  if (value.IsSequence()) {
    std::vector<int64_t> ints;
    for (std::size_t i = 0; i < value.size(); ++i) {
      ints.push_back(yaml::read_integer(source, value[i], yaml::mark_of(value[i], mark),
                                        fmt::format("entry {} of {}", i, what)));
    }
    return ints;
  }
  if (!value.IsScalar()) {
    source.fail(mark, fmt::format("{} must be an integer, a number, a string or a list of "
                                  "integers; got {}",
                                  what, yaml::describe(value)));
  }
  const std::string& text = value.Scalar();
  switch (yaml::classify(value)) {
    case yaml::ScalarKind::boolean:
      // Flags such as matmul's transpose_b are integer attributes.
      return int64_t{text[0] == 't' || text[0] == 'T' ? 1 : 0};
    case yaml::ScalarKind::integer: {
      int64_t i = 0;
      yaml::parse_integer(text, i);
      return i;
    }
    case yaml::ScalarKind::real: {
      double d = 0.0;
      yaml::parse_real(text, d);
      return d;
    }
    default:
      return text;
  }
}

}  // namespace

DType read_dtype(const yaml::Map& map) {
  std::string name = map.string("dtype");
  for (DType d : kAllDTypes) {
    if (to_string(d) == name) return d;
  }
  map.source().fail(map.mark("dtype"), fmt::format("bad dtype '{}' for {}; valid dtypes: {}", name,
                                                   map.what(), dtype_names()));
}

SymShape read_shape(const yaml::Map& map, const std::map<std::string, SymbolRange>& symbols) {
  YAML::Node list = map.list("shape");
  SymShape shape;
  for (std::size_t i = 0; i < list.size(); ++i) {
    YAML::Node entry = list[i];
    YAML::Mark mark = yaml::mark_of(entry, map.mark("shape"));
    yaml::ScalarKind kind = entry.IsScalar() ? yaml::classify(entry) : yaml::ScalarKind::null;
    int64_t value = 0;
    if (kind == yaml::ScalarKind::integer && yaml::parse_integer(entry.Scalar(), value) &&
        value >= 0) {
      shape.push_back(Dim::fixed(value));
      continue;
    }
    if (kind == yaml::ScalarKind::string && symbols.count(entry.Scalar())) {
      shape.push_back(Dim::named(entry.Scalar()));
      continue;
    }
    std::string problem = kind == yaml::ScalarKind::string
                              ? fmt::format("unknown symbol '{}'", entry.Scalar())
                              : fmt::format("bad entry {}", yaml::describe(entry));
    map.source().fail(mark, fmt::format("{} in shape of {}; a dimension is a non-negative integer "
                                        "or a symbol declared under 'symbols' ({})",
                                        problem, map.what(), symbol_names(symbols)));
  }
  return shape;
}

std::map<std::string, SymbolRange> read_symbols(const yaml::Source& source, const yaml::Map& root) {
  std::map<std::string, SymbolRange> symbols;
  if (!root.has("symbols")) return symbols;
  YAML::Node node = root.get("symbols");
  if (!node.IsMap()) {
    source.fail(root.mark("symbols"),
                fmt::format("key 'symbols' must be a map of name -> {{min, opt, max}}; got {}",
                            yaml::describe(node)));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    YAML::Mark key_mark = yaml::mark_of(it->first, root.mark("symbols"));
    // A name that reads as a number could not be told apart from a fixed
    // dimension inside a shape.
    if (!it->first.IsScalar() || yaml::classify(it->first) != yaml::ScalarKind::string) {
      source.fail(key_mark, fmt::format("symbol names must be identifiers such as 'batch'; got {}",
                                        yaml::describe(it->first)));
    }
    std::string name = it->first.Scalar();
    if (symbols.count(name)) {
      source.fail(key_mark, fmt::format("symbol '{}' is declared twice", name));
    }
    yaml::Map range(source, it->second, key_mark, fmt::format("symbol '{}'", name),
                    {"min", "opt", "max"}, {"min", "max"});
    SymbolRange r;
    r.min = range.integer("min");
    r.max = range.integer("max");
    // Engines are tuned for `opt`; without one, tune for the largest size.
    r.opt = range.has("opt") ? range.integer("opt") : r.max;
    if (r.min < 0 || r.min > r.opt || r.opt > r.max) {
      source.fail(range.mark(), fmt::format("symbol '{}' needs 0 <= min <= opt <= max; got min {}, "
                                            "opt {}, max {}",
                                            name, r.min, r.opt, r.max));
    }
    symbols[name] = r;
  }
  return symbols;
}

AttrMap read_attrs(const yaml::Map& node_map, const OpSchema& schema,
                   const std::string& node_what) {
  AttrMap attrs;
  if (!node_map.has("attrs")) return attrs;
  const yaml::Source& source = node_map.source();
  YAML::Node node = node_map.get("attrs");
  if (node.IsNull()) return attrs;  // `attrs:` with nothing after it
  if (!node.IsMap()) {
    source.fail(node_map.mark("attrs"),
                fmt::format("key 'attrs' of {} must be a map of attribute name -> value; got {}",
                            node_what, yaml::describe(node)));
  }
  std::vector<std::string> valid;
  for (const AttrSpec& spec : schema.attrs) valid.push_back(spec.name);
  for (auto it = node.begin(); it != node.end(); ++it) {
    YAML::Mark key_mark = yaml::mark_of(it->first, node_map.mark("attrs"));
    std::string name = it->first.IsScalar() ? it->first.Scalar() : std::string();
    auto spec = std::find_if(schema.attrs.begin(), schema.attrs.end(),
                             [&name](const AttrSpec& s) { return s.name == name; });
    if (spec == schema.attrs.end()) {
      std::string choices = valid.empty() ? fmt::format("op '{}' takes no attributes", schema.name)
                                          : fmt::format("valid attributes: {}", yaml::join(valid));
      source.fail(key_mark, fmt::format("unknown attribute '{}' for {} (op {}); {}", name,
                                        node_what, schema.name, choices));
    }
    if (attrs.count(name)) {
      source.fail(key_mark, fmt::format("attribute '{}' of {} is given twice", name, node_what));
    }
    YAML::Mark mark = yaml::mark_of(it->second, key_mark);
    std::string what = fmt::format("attribute '{}' of {}", name, node_what);
    std::optional<AttrValue> value =
        schema::as_attr_kind(spec->kind, read_attr_value(source, it->second, mark, what));
    if (!value) {
      source.fail(mark, fmt::format("{} (op {}) must be {}; got {}", what, schema.name,
                                    kind_name(spec->kind), yaml::describe(it->second)));
    }
    attrs[name] = std::move(*value);
  }
  return attrs;
}

}  // namespace rtscope::graph_yaml
