// Bad calls a host can make by mistake: each must fail with a status and a
// message through the error sink, never crash, and leave the objects usable.
#include <vector>

#include "abi_check_support.hpp"

namespace rtscope::conformance::detail {
namespace {

// Host buffers bound to a probe engine's inputs and outputs, for execute
// calls that break one rule on purpose.
struct Bindings {
  std::vector<Tensor> storage;
  std::vector<rts_tensor> inputs;
  std::vector<rts_tensor> outputs;

  Bindings(const rts_engine_info& info, const std::map<std::string, Tensor>& values) {
    storage.reserve(info.n_inputs + info.n_outputs);
    for (uint32_t i = 0; i < info.n_inputs; ++i)
      inputs.push_back(bind(info.inputs[i], values.at(info.inputs[i].name).clone()));
    for (uint32_t o = 0; o < info.n_outputs; ++o) {
      const rts_value& v = info.outputs[o];
      outputs.push_back(
          bind(v, Tensor::zeros(static_cast<DType>(v.dtype), Shape(v.dims, v.dims + v.rank))));
    }
  }

  rts_tensor bind(const rts_value& decl, Tensor t) {
    storage.push_back(std::move(t));
    Tensor& held = storage.back();
    rts_tensor b{};
    b.struct_size = sizeof(b);
    b.name = decl.name;
    b.dtype = static_cast<rts_dtype>(held.dtype());
    b.rank = static_cast<uint32_t>(held.shape().size());
    std::copy(held.shape().begin(), held.shape().end(), b.dims);
    b.data = held.data();
    b.size_bytes = held.size_bytes();
    b.residency = RTS_RESIDENCY_HOST;
    return b;
  }

  rts_execute_args args() { return execute_args(inputs, outputs); }
};

// Builds a copy of `graph` changed by `edit` and expects build_engine to
// refuse it.
std::string expect_build_error(
    const Probe& probe,
    const std::function<void(rts_graph&, std::vector<rts_value>&, rts_node&)>& edit) {
  rts_graph graph = probe.graph->abi();
  std::vector<rts_value> inputs(graph.inputs, graph.inputs + graph.n_inputs);
  rts_node node = graph.nodes[0];
  edit(graph, inputs, node);
  graph.inputs = inputs.data();
  graph.nodes = &node;
  ErrorCapture err;
  rts_engine* engine = nullptr;
  const rts_status status = probe.target.api().build_engine(
      probe.target.handle(), probe.target.device, &graph, &engine, err.sink());
  if (status == RTS_OK && engine) probe.target.api().destroy_engine(engine);
  require_reported_error("build_engine", status, err);
  return err.message();
}

}  // namespace

std::vector<CheckResult> error_checks(const Probe& probe) {
  const Target& target = probe.target;
  std::vector<CheckResult> rows;
  const std::string dtype = probe.dtype();

  rows.push_back(run_check("errors.build_wrong_shape", dtype, [&] {
    return expect_build_error(probe, [](rts_graph&, std::vector<rts_value>& inputs, rts_node&) {
      rts_value& first = inputs[0];
      const uint32_t last = first.rank ? first.rank - 1 : 0;
      first.dims[last] += 1;
      first.min_dims[last] = first.max_dims[last] = first.dims[last];
    });
  }));
  rows.push_back(run_check("errors.build_unknown_op", dtype, [&] {
    return expect_build_error(probe, [](rts_graph&, std::vector<rts_value>&, rts_node& node) {
      node.op = "conformance_no_such_op";
    });
  }));
  rows.push_back(run_check("errors.query_unknown_op", dtype, [&] {
    rts_node node = probe.graph->node();
    node.op = "conformance_no_such_op";
    rts_support support{};
    support.struct_size = sizeof(support);
    ErrorCapture err;
    err.require_ok(
        target.api().query_node(target.handle(), target.device, &node, probe.graph->node_inputs(),
                                probe.graph->node_outputs(), &support, err.sink()),
        "query_node (unknown op; must return RTS_OK with supported = 0)");
    if (support.supported) throw CallFailure("query_node claims support for an unknown op");
    return std::string();
  }));

  Engine engine;
  Context context;
  // The engine the bad executes and blobs start from; only a failure to
  // make it gets a row of its own.
  CheckResult setup = run_check("errors.setup", dtype, [&] {
    engine = build_engine(target, probe.graph->abi());
    context = create_context(target, engine);
    return std::string();
  });
  if (!context.get()) {
    rows.push_back(setup);
    return rows;
  }
  const rts_engine_info info = engine_info(target, engine);
  const auto values = probe.graph->inputs(probe.seed + 17);

  // Each case breaks the bindings of one otherwise valid execute.
  const std::vector<std::pair<std::string, std::function<void(Bindings&)>>> bad_executes = {
      {"errors.execute_missing_binding", [](Bindings& b) { b.inputs.pop_back(); }},
      {"errors.execute_unknown_binding", [](Bindings& b) { b.inputs[0].name = "no_such_input"; }},
      {"errors.execute_small_input_buffer",
       [](Bindings& b) { b.inputs[0].size_bytes = b.inputs[0].size_bytes / 2; }},
      {"errors.execute_wrong_input_shape", [](Bindings& b) {
         rts_tensor& t = b.inputs[0];
         t.dims[t.rank ? t.rank - 1 : 0] += 1;
       }}};
  // Not a structured binding: clang 14 cannot capture one in a lambda.
  for (const auto& bad : bad_executes) {
    const auto& breaker = bad.second;
    rows.push_back(run_check(bad.first, dtype, [&] {
      Bindings bindings(info, values);
      breaker(bindings);
      rts_execute_args args = bindings.args();
      ErrorCapture err;
      const rts_status status = target.api().execute(context.get(), &args, err.sink());
      require_reported_error("execute", status, err);
      return err.message();
    }));
  }
  rows.push_back(run_check("errors.context_usable_after_errors", dtype, [&] {
    execute_and_verify(probe, engine, context, probe.seed + 23);
    return std::string();
  }));

  // deserialize_engine of `size` bytes that are no engine must fail with a
  // reported message (returned as the row's detail).
  const auto refused_deserialize = [&](const void* data, uint64_t size) {
    ErrorCapture err;
    rts_engine* out = nullptr;
    const rts_status status = target.api().deserialize_engine(target.handle(), target.device, data,
                                                              size, &out, err.sink());
    if (status == RTS_OK && out) target.api().destroy_engine(out);
    require_reported_error("deserialize_engine", status, err);
    return err.message();
  };
  rows.push_back(run_check("errors.deserialize_garbage", dtype, [&] {
    const Tensor noise = Tensor::random(DType::i32, {16}, probe.seed + 29, 1e9);
    return refused_deserialize(noise.data(), noise.size_bytes());
  }));
  if (!probe.serialization_declined.empty()) return rows;
  rows.push_back(run_check("errors.deserialize_truncated", dtype, [&] {
    std::vector<uint8_t> blob = serialize_engine(target, engine);
    blob.resize(blob.size() / 2);
    return refused_deserialize(blob.data(), blob.size());
  }));
  rows.push_back(run_check("errors.serialize_sink_abort", dtype, [&] {
    rts_blob_sink refusing{nullptr, [](void*, const void*, uint64_t) { return 1; }};
    ErrorCapture err;
    const rts_status status = target.api().serialize_engine(engine.get(), &refusing, err.sink());
    if (status == RTS_OK)
      throw CallFailure("serialize_engine returned RTS_OK although the blob sink refused");
    return "status " + std::to_string(int(status));
  }));
  return rows;
}

}  // namespace rtscope::conformance::detail
