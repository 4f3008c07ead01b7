#include "engine.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "failure.hpp"

namespace rtscope_testing {
namespace {

void check_f32(const ValueDef& value, const std::string& what) {
  if (value.dtype != RTS_DTYPE_F32) {
    fail(RTS_ERROR_UNSUPPORTED, what + " '" + value.name + "' has dtype " +
                                    dtype_name(value.dtype) +
                                    "; the testing plugin provides f32 only");
  }
}

const AttrDef* find_attr(const NodeDef& node, const std::string& name) {
  for (const auto& attr : node.attrs) {
    if (attr.name == name) return &attr;
  }
  return nullptr;
}

// Declared shapes that can never broadcast are refused when the engine is
// built rather than at the first execute; dynamic dims (-1) are checked
// against the bound shapes then.
void check_static_broadcast(const ValueDef& a, const ValueDef& b, const std::string& where) {
  const uint32_t rank = std::max(a.rank, b.rank);
  for (uint32_t d = 0; d < rank; ++d) {
    const int ad = static_cast<int>(d) - static_cast<int>(rank - a.rank);
    const int bd = static_cast<int>(d) - static_cast<int>(rank - b.rank);
    const int64_t x = ad >= 0 ? a.dims[ad] : 1;
    const int64_t y = bd >= 0 ? b.dims[bd] : 1;
    if (x >= 0 && y >= 0 && x != y && x != 1 && y != 1) {
      fail(RTS_ERROR_INVALID_ARGUMENT, where + ": cannot broadcast '" + a.name + "' with '" +
                                           b.name + "' (dim " + std::to_string(d) + ": " +
                                           std::to_string(x) + " vs " + std::to_string(y) + ")");
    }
  }
}

}  // namespace

Engine::Engine(PluginState* plugin, uint32_t device, GraphDef graph)
    : plugin_(plugin), device_(device), graph_(std::move(graph)) {
  plugin_->check_device(device_);
  plan();
  for (const auto& v : graph_.inputs) abi_inputs_.push_back(to_abi(v));
  for (const auto& v : graph_.outputs) abi_outputs_.push_back(to_abi(v));
  // Counted last: a constructor that throws never reaches the destructor.
  plugin_->engines_live.fetch_add(1);
}

Engine::~Engine() { plugin_->engines_live.fetch_sub(1); }

void Engine::plan() {
  std::map<std::string, uint32_t> slots;
  auto define = [&](const std::string& name, const std::string& what) {
    const auto slot = static_cast<uint32_t>(slots.size());
    if (!slots.emplace(name, slot).second) {
      fail(RTS_ERROR_INVALID_ARGUMENT, what + " '" + name + "' is defined twice");
    }
    return slot;
  };
  auto lookup = [&](const std::string& name, const std::string& user) {
    auto it = slots.find(name);
    if (it == slots.end()) {
      fail(RTS_ERROR_INVALID_ARGUMENT,
           user + " reads '" + name + "', which is not an input, constant or earlier output");
    }
    return it->second;
  };

  std::map<std::string, const ValueDef*> declared;
  for (const auto& input : graph_.inputs) {
    check_f32(input, "input");
    define(input.name, "input");
    declared[input.name] = &input;
  }
  for (const auto& constant : graph_.constants) {
    const ValueDef& v = constant.value;
    check_f32(v, "constant");
    int64_t numel = 1;
    for (uint32_t d = 0; d < v.rank; ++d) {
      if (v.dims[d] < 0) fail(RTS_ERROR_INVALID_ARGUMENT, "constant '" + v.name + "' is dynamic");
      numel *= v.dims[d];
    }
    if (constant.bytes.size() != static_cast<uint64_t>(numel) * sizeof(float)) {
      fail(RTS_ERROR_INVALID_ARGUMENT,
           "constant '" + v.name + "' holds " + std::to_string(constant.bytes.size()) +
               " bytes, its shape needs " + std::to_string(numel * sizeof(float)));
    }
    define(v.name, "constant");
    declared[v.name] = &v;
  }
  // nonzero writes i64; its outputs are checked with its node below.
  std::set<std::string> i64_outputs;
  for (const auto& node : graph_.nodes) {
    if (node.op == "nonzero" && node.outputs.size() == 1) i64_outputs.insert(node.outputs[0]);
  }
  for (const auto& value : graph_.values) {
    if (!i64_outputs.count(value.name)) check_f32(value, "value");
    declared.emplace(value.name, &value);
  }

  for (const auto& node : graph_.nodes) {
    const std::string where = "node '" + node.name + "' (" + node.op + ")";
    const auto op = op_from_name(node.op);
    if (!op) {
      fail(RTS_ERROR_UNSUPPORTED, where + ": op not provided by the testing plugin");
    }
    if (node.inputs.size() != op_arity(*op) || node.outputs.size() != 1) {
      fail(RTS_ERROR_INVALID_ARGUMENT,
           where + " takes " + std::to_string(op_arity(*op)) + " inputs and 1 output, got " +
               std::to_string(node.inputs.size()) + " and " + std::to_string(node.outputs.size()));
    }
    Step step;
    step.op = *op;
    step.node = node.name;
    step.kernel_key = "kernel/" + node.op + "/" + node.name;
    for (const auto& input : node.inputs) step.inputs.push_back(lookup(input, where));
    if ((*op == Op::kAdd || *op == Op::kMul) && declared.count(node.inputs[0]) &&
        declared.count(node.inputs[1])) {
      check_static_broadcast(*declared[node.inputs[0]], *declared[node.inputs[1]], where);
    }
    step.output = define(node.outputs[0], "value");
    if (*op == Op::kScale) {
      const AttrDef* factor = find_attr(node, "factor");
      if (!factor || (factor->type != RTS_ATTR_FLOAT && factor->type != RTS_ATTR_INT)) {
        fail(RTS_ERROR_INVALID_ARGUMENT, where + " needs a real attribute 'factor'");
      }
      step.factor = factor->type == RTS_ATTR_FLOAT ? factor->f : static_cast<double>(factor->i);
    }
    const AttrDef* dynamic = find_attr(node, kDynamicOutputAttr);
    step.dynamic_output = dynamic && dynamic->type == RTS_ATTR_INT && dynamic->i == 1;
    if (*op == Op::kNonzero) {
      const AttrDef* max_count = find_attr(node, "max_count");
      step.max_count = max_count && max_count->type == RTS_ATTR_INT ? max_count->i : 0;
      step.dynamic_output = step.max_count <= 0;
    }
    needs_output_allocation_ = needs_output_allocation_ || step.dynamic_output;
    steps_.push_back(std::move(step));
  }
  slot_count_ = static_cast<uint32_t>(slots.size());
  // The testing ops read f32 only, so an i64 index tensor can only leave
  // the engine; it is written straight into its engine output.
  for (std::size_t n = 0; n < steps_.size(); ++n) {
    const Step& step = steps_[n];
    const std::string& name = graph_.nodes[n].outputs[0];
    const bool read_inside = std::any_of(steps_.begin(), steps_.end(), [&](const Step& other) {
      return std::find(other.inputs.begin(), other.inputs.end(), step.output) != other.inputs.end();
    });
    const bool leaves = std::any_of(graph_.outputs.begin(), graph_.outputs.end(),
                                    [&](const ValueDef& output) { return output.name == name; });
    if (step.op == Op::kNonzero && (read_inside || !leaves)) {
      fail(RTS_ERROR_UNSUPPORTED, "node '" + step.node + "' (nonzero): its i64 output '" + name +
                                      "' must be an engine output read by no other node");
    }
  }

  output_in_place_.assign(graph_.outputs.size(), false);
  for (std::size_t o = 0; o < graph_.outputs.size(); ++o) {
    if (!i64_outputs.count(graph_.outputs[o].name)) check_f32(graph_.outputs[o], "output");
    const uint32_t slot = lookup(graph_.outputs[o].name, "output " + std::to_string(o));
    output_slots_.push_back(slot);
    // The first engine output a step produces is written in place; inputs,
    // constants and repeated outputs are copied.
    for (auto& step : steps_) {
      if (step.output == slot && step.engine_output < 0) {
        step.engine_output = static_cast<int>(o);
        output_in_place_[o] = true;
      }
    }
  }
}

void Engine::fill_info(rts_engine_info* out) const {
  out->inputs = abi_inputs_.data();
  out->n_inputs = static_cast<uint32_t>(abi_inputs_.size());
  out->outputs = abi_outputs_.data();
  out->n_outputs = static_cast<uint32_t>(abi_outputs_.size());
  out->aliases = nullptr;
  out->n_aliases = 0;
  out->needs_output_allocation = needs_output_allocation_ ? 1 : 0;
}

}  // namespace rtscope_testing
