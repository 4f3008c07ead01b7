#include "engine.hpp"

#include <algorithm>

#include "context.hpp"

namespace rtscope_testing {
namespace {

using kit::fail;

void check_f32(const kit::ValueDesc& value, const char* what) {
  if (value.dtype != RTS_DTYPE_F32) {
    fail(RTS_ERROR_UNSUPPORTED, what, " '", value.name, "' has dtype ",
         kit::dtype_name(value.dtype), "; the testing plugin provides f32 only");
  }
}

// Declared shapes that can never broadcast are refused when the engine is
// built rather than at the first execute; dynamic dims (-1) are checked
// against the bound shapes then.
void check_static_broadcast(const kit::ValueDesc& a, const kit::ValueDesc& b,
                            const std::string& where) {
  const size_t rank = std::max(a.dims.size(), b.dims.size());
  for (size_t d = 0; d < rank; ++d) {
    const size_t a_pad = rank - a.dims.size();
    const size_t b_pad = rank - b.dims.size();
    const int64_t x = d >= a_pad ? a.dims[d - a_pad] : 1;
    const int64_t y = d >= b_pad ? b.dims[d - b_pad] : 1;
    if (x >= 0 && y >= 0 && x != y && x != 1 && y != 1) {
      fail(RTS_ERROR_INVALID_ARGUMENT, where, ": cannot broadcast '", a.name, "' with '", b.name,
           "' (dim ", d, ": ", x, " vs ", y, ")");
    }
  }
}

// The testing op of each node and its attributes.
struct TestingTyper {
  void bind(Step& step) const {
    const kit::NodeDesc& node = *step.desc;
    const auto op = op_from_name(node.op);
    if (!op) fail(RTS_ERROR_UNSUPPORTED, node.label(), ": op not provided by the testing plugin");
    if (node.inputs.size() != op_arity(*op) || node.outputs.size() != 1) {
      fail(RTS_ERROR_INVALID_ARGUMENT, node.label(), " takes ", op_arity(*op),
           " inputs and 1 output, got ", node.inputs.size(), " and ", node.outputs.size());
    }
    step.op = *op;
    step.kernel_key = "kernel/" + node.op + "/" + node.name;
    if (*op == Op::kScale) {
      const kit::AttrDesc* factor = node.find_attr("factor");
      if (!factor || (factor->type != RTS_ATTR_FLOAT && factor->type != RTS_ATTR_INT)) {
        fail(RTS_ERROR_INVALID_ARGUMENT, node.label(), " needs a real attribute 'factor'");
      }
      step.factor = node.attr_real("factor");
    }
    const kit::AttrDesc* dynamic = node.find_attr(kDynamicOutputAttr);
    step.dynamic_output = dynamic && dynamic->type == RTS_ATTR_INT && dynamic->i == 1;
    if (*op == Op::kNonzero) {
      const kit::AttrDesc* max_count = node.find_attr("max_count");
      step.max_count = max_count && max_count->type == RTS_ATTR_INT ? max_count->i : 0;
      step.dynamic_output = step.max_count <= 0;
    }
  }
  // nonzero writes i64 indices; everything else f32.
  rts_dtype type(Step& step, std::span<const rts_dtype> inputs) const {
    for (rts_dtype dtype : inputs) {
      if (dtype != RTS_DTYPE_F32) {
        fail(RTS_ERROR_UNSUPPORTED, step.desc->label(), " reads ", kit::dtype_name(dtype),
             "; the testing plugin provides f32 only");
      }
    }
    return step.op == Op::kNonzero ? RTS_DTYPE_I64 : RTS_DTYPE_F32;
  }
};

}  // namespace

Engine::Engine(TestingPlugin& plugin, kit::GraphDesc graph)
    : kit::Engine(plugin), ResolvedGraph(std::move(graph), TestingTyper{}), plugin_(plugin) {
  const kit::GraphDesc& desc = ResolvedGraph::graph();  // `graph` is the moved-from argument
  if (!desc.aliases.empty()) {
    fail(RTS_ERROR_UNSUPPORTED, "graph '", desc.name,
         "' declares aliased outputs; the testing plugin runs no in-place ops");
  }
  for (const kit::ValueDesc& input : desc.inputs) check_f32(input, "input");
  for (const kit::ConstantDesc& constant : desc.constants) check_f32(constant.value, "constant");
  for (Step& step : nodes()) {
    const kit::ResolvedValue& a = values()[step.inputs[0]];
    if (step.inputs.size() == 2 && a.declared && values()[step.inputs[1]].declared) {
      check_static_broadcast(*a.declared, *values()[step.inputs[1]].declared, step.desc->label());
    }
    needs_output_allocation_ = needs_output_allocation_ || step.dynamic_output;
    // The testing ops read f32 only, so an i64 index tensor can only leave
    // the engine; it is written straight into its engine output.
    const uint32_t out = step.outputs[0];
    const bool leaves =
        std::find(output_values().begin(), output_values().end(), out) != output_values().end();
    if (step.op == Op::kNonzero && !leaves) {
      fail(RTS_ERROR_UNSUPPORTED, "node '", step.desc->name, "' (nonzero): its i64 output '",
           values()[out].name, "' must be an engine output read by no other node");
    }
  }
  // The first engine output a step produces is written in place; inputs,
  // constants and repeated outputs are copied.
  output_in_place_.assign(output_values().size(), false);
  for (size_t o = 0; o < output_values().size(); ++o) {
    const int producer = values()[output_values()[o]].producer;
    if (producer >= 0 && nodes()[producer].engine_output < 0) {
      nodes()[producer].engine_output = static_cast<int>(o);
      output_in_place_[o] = true;
    }
  }
  // Counted last: a constructor that throws never reaches the destructor.
  plugin_.engines_live.fetch_add(1);
}

Engine::~Engine() { plugin_.engines_live.fetch_sub(1); }

void Engine::fill_info(rts_engine_info& info) const {
  ResolvedGraph::fill_info(info);
  info.needs_output_allocation = needs_output_allocation_ ? 1 : 0;
}

std::unique_ptr<kit::Context> Engine::create_context(const rts_runtime_settings* settings) const {
  return std::make_unique<Context>(*this, settings);
}

void Engine::validate_settings(const rts_runtime_settings* settings) const {
  kit::Engine::validate_settings(settings);
  const Config config = plugin_.config();
  if (config.fail_validate_settings) fail(RTS_ERROR_UNSUPPORTED, *config.fail_validate_settings);
}

}  // namespace rtscope_testing
