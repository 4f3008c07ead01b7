#include "rtscope/kit/graph_desc.hpp"

#include <cstring>
#include <limits>

#include "rtscope/kit/enum_name.hpp"
#include "rtscope/kit/error.hpp"

namespace rtscope::kit {
namespace {

std::string copy_string(const char* text, const char* what) {
  if (text == nullptr) fail_invalid(what, " is NULL");
  return std::string(text);
}

const char* attr_type_name(rts_attr_type type) {
  static constexpr const char* kNames[] = {"int", "float", "string", "ints"};
  return enum_name(type, kNames, "unknown");
}

}  // namespace

bool ValueDesc::is_static() const {
  for (int64_t dim : dims) {
    if (dim < 0) return false;
  }
  return true;
}

std::string ValueDesc::type_str() const { return dtype_name(dtype) + shape_str(dims); }

const AttrDesc* NodeDesc::find_attr(const std::string& attr_name) const {
  for (const AttrDesc& attr : attrs) {
    if (attr.name == attr_name) return &attr;
  }
  return nullptr;
}

int64_t NodeDesc::attr_int(const std::string& attr_name, std::optional<int64_t> fallback) const {
  const AttrDesc* attr = find_attr(attr_name);
  if (attr == nullptr) {
    if (fallback) return *fallback;
    fail_invalid(label(), ": missing required attribute '", attr_name, "'");
  }
  if (attr->type != RTS_ATTR_INT) {
    fail_invalid(label(), ": attribute '", attr_name, "' must be an int, got ",
                 attr_type_name(attr->type));
  }
  return attr->i;
}

double NodeDesc::attr_real(const std::string& attr_name, std::optional<double> fallback) const {
  const AttrDesc* attr = find_attr(attr_name);
  if (attr == nullptr) {
    if (fallback) return *fallback;
    fail_invalid(label(), ": missing required attribute '", attr_name, "'");
  }
  if (attr->type == RTS_ATTR_INT) return static_cast<double>(attr->i);
  if (attr->type != RTS_ATTR_FLOAT) {
    fail_invalid(label(), ": attribute '", attr_name, "' must be a real, got ",
                 attr_type_name(attr->type));
  }
  return attr->f;
}

const std::vector<int64_t>& NodeDesc::attr_ints(const std::string& attr_name) const {
  const AttrDesc* attr = find_attr(attr_name);
  if (attr == nullptr) fail_invalid(label(), ": missing required attribute '", attr_name, "'");
  if (attr->type != RTS_ATTR_INTS) {
    fail_invalid(label(), ": attribute '", attr_name, "' must be a list of ints, got ",
                 attr_type_name(attr->type));
  }
  return attr->ints;
}

std::string NodeDesc::label() const { return str_cat("node '", name, "' (", op, ")"); }

ValueDesc copy_value(const rts_value& value, const char* role) {
  ValueDesc desc;
  desc.name = copy_string(value.name, str_cat(role, " name").c_str());
  if (dtype_size(value.dtype) == 0) {
    fail_invalid(role, " '", desc.name, "': unknown dtype ", static_cast<int>(value.dtype));
  }
  if (value.rank > RTS_MAX_RANK) {
    fail_invalid(role, " '", desc.name, "': rank ", value.rank, " exceeds RTS_MAX_RANK (",
                 RTS_MAX_RANK, ")");
  }
  desc.dtype = value.dtype;
  desc.dims.assign(value.dims, value.dims + value.rank);
  desc.min_dims.assign(value.min_dims, value.min_dims + value.rank);
  desc.max_dims.assign(value.max_dims, value.max_dims + value.rank);
  for (uint32_t axis = 0; axis < value.rank; ++axis) {
    if (desc.dims[axis] >= 0) {
      // A static dim's range is the dim itself, whatever the host wrote.
      desc.min_dims[axis] = desc.max_dims[axis] = desc.dims[axis];
    } else if (desc.dims[axis] != -1) {
      fail_invalid(role, " '", desc.name, "': dim ", axis, " is ", desc.dims[axis],
                   " (use -1 for a dynamic dim)");
    } else if (desc.min_dims[axis] < 0 || desc.max_dims[axis] < desc.min_dims[axis]) {
      fail_invalid(role, " '", desc.name, "': dynamic dim ", axis, " has range [",
                   desc.min_dims[axis], ", ", desc.max_dims[axis], "]");
    }
  }
  return desc;
}

NodeDesc copy_node(const rts_node& node) {
  NodeDesc desc;
  desc.name = copy_string(node.name, "node name");
  desc.op = copy_string(node.op, str_cat("node '", desc.name, "': op").c_str());
  if (node.n_inputs > 0 && node.inputs == nullptr) fail_invalid(desc.label(), ": inputs is NULL");
  if (node.n_outputs > 0 && node.outputs == nullptr) {
    fail_invalid(desc.label(), ": outputs is NULL");
  }
  if (node.n_attrs > 0 && node.attrs == nullptr) fail_invalid(desc.label(), ": attrs is NULL");
  for (uint32_t i = 0; i < node.n_inputs; ++i) {
    desc.inputs.push_back(copy_string(node.inputs[i], str_cat(desc.label(), ": input").c_str()));
  }
  for (uint32_t i = 0; i < node.n_outputs; ++i) {
    desc.outputs.push_back(copy_string(node.outputs[i], str_cat(desc.label(), ": output").c_str()));
  }
  for (uint32_t i = 0; i < node.n_attrs; ++i) {
    const rts_attr& attr = node.attrs[i];
    AttrDesc copy;
    copy.name = copy_string(attr.name, str_cat(desc.label(), ": attribute name").c_str());
    copy.type = attr.type;
    switch (attr.type) {
      case RTS_ATTR_INT:
        copy.i = attr.i;
        break;
      case RTS_ATTR_FLOAT:
        copy.f = attr.f;
        break;
      case RTS_ATTR_STRING:
        copy.s =
            copy_string(attr.s, str_cat(desc.label(), ": attribute '", copy.name, "'").c_str());
        break;
      case RTS_ATTR_INTS:
        if (attr.n_ints > 0 && attr.ints == nullptr) {
          fail_invalid(desc.label(), ": attribute '", copy.name, "' has NULL ints");
        }
        copy.ints.assign(attr.ints, attr.ints + attr.n_ints);
        break;
      default:
        fail_invalid(desc.label(), ": attribute '", copy.name, "' has unknown type ",
                     static_cast<int>(attr.type));
    }
    desc.attrs.push_back(std::move(copy));
  }
  return desc;
}

void ConstantDesc::assign_copy(const void* data, size_t size) {
  if (size == 0) {
    bytes = {};
    owner.reset();
    return;
  }
  // make_shared_for_overwrite: no zeroing of memory overwritten right away.
  auto copy = std::make_shared_for_overwrite<std::byte[]>(size);
  std::memcpy(copy.get(), data, size);
  bytes = {copy.get(), size};
  owner = std::move(copy);
}

GraphDesc copy_graph(const rts_graph& graph) {
  auto check_array = [](const void* array, uint32_t count, const char* what) {
    if (count > 0 && array == nullptr) fail_invalid("graph ", what, " is NULL with count ", count);
  };
  check_array(graph.inputs, graph.n_inputs, "inputs");
  check_array(graph.outputs, graph.n_outputs, "outputs");
  check_array(graph.constants, graph.n_constants, "constants");
  check_array(graph.values, graph.n_values, "values");
  check_array(graph.nodes, graph.n_nodes, "nodes");

  // The host keeps the weights (a mapped checkpoint, say) alive for the
  // engine: view them instead of copying the whole model.
  const bool borrow = RTS_HAS_FIELD(&graph, rts_graph, constants_outlive_engine) &&
                      graph.constants_outlive_engine != 0;
  GraphDesc desc;
  desc.name = graph.name != nullptr ? graph.name : "";
  for (uint32_t i = 0; i < graph.n_inputs; ++i) {
    desc.inputs.push_back(copy_value(graph.inputs[i], "input"));
  }
  for (uint32_t i = 0; i < graph.n_outputs; ++i) {
    desc.outputs.push_back(copy_value(graph.outputs[i], "output"));
  }
  for (uint32_t i = 0; i < graph.n_constants; ++i) {
    const rts_constant& constant = graph.constants[i];
    ConstantDesc copy;
    copy.value = copy_value(constant.value, "constant");
    if (!copy.value.is_static()) {
      fail_invalid("constant '", copy.value.name, "' has dynamic shape ", copy.value.type_str());
    }
    const uint64_t expected =
        static_cast<uint64_t>(element_count(copy.value.dims)) * dtype_size(copy.value.dtype);
    if (constant.size_bytes != expected) {
      fail_invalid("constant '", copy.value.name, "' ", copy.value.type_str(), " holds ",
                   constant.size_bytes, " bytes, expected ", expected);
    }
    if (expected > 0 && constant.data == nullptr) {
      fail_invalid("constant '", copy.value.name, "' has NULL data");
    }
    if (borrow) {
      copy.bytes = {static_cast<const std::byte*>(constant.data), static_cast<size_t>(expected)};
    } else {
      copy.assign_copy(constant.data, static_cast<size_t>(expected));
    }
    desc.constants.push_back(std::move(copy));
  }
  for (uint32_t i = 0; i < graph.n_values; ++i) {
    desc.values.push_back(copy_value(graph.values[i], "value"));
  }
  for (uint32_t i = 0; i < graph.n_nodes; ++i) {
    if (graph.nodes[i].struct_size < offsetof(rts_node, n_attrs) + sizeof(uint32_t)) {
      fail_invalid("node ", i, ": struct_size ", graph.nodes[i].struct_size, " is too small");
    }
    desc.nodes.push_back(copy_node(graph.nodes[i]));
  }
  if (RTS_HAS_FIELD(&graph, rts_graph, n_aliases) && graph.n_aliases > 0) {
    check_array(graph.aliases, graph.n_aliases, "aliases");
    desc.aliases.assign(graph.aliases, graph.aliases + graph.n_aliases);
  }
  return desc;
}

// Saturates at INT64_MAX instead of overflowing: a count that large fits no
// allocation, so the size checks after it refuse the tensor by name.
int64_t element_count(std::span<const int64_t> dims) {
  int64_t count = 1;
  for (int64_t dim : dims) {
    if (__builtin_mul_overflow(count, dim, &count)) return std::numeric_limits<int64_t>::max();
  }
  return count;
}

}  // namespace rtscope::kit
