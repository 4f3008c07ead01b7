// Object lifetimes and engine blobs: engines and contexts created and
// destroyed in varied order (a context never outlives its engine, as the
// ABI requires), and engines re-created from their serialized form.
#include <cstring>

#include "abi_check_support.hpp"

namespace rtscope::conformance::detail {
namespace {

std::string varied_order(const Probe& probe) {
  const Target& t = probe.target;
  const rts_graph& graph = probe.graph->abi();
  uint64_t seed = probe.seed + 100;
  Engine first = build_engine(t, graph);
  Engine second = build_engine(t, graph);
  Context a = create_context(t, first);
  Context b = create_context(t, first);
  Context c = create_context(t, second);
  execute_and_verify(probe, first, b, ++seed);
  a.reset();  // the older sibling goes first
  execute_and_verify(probe, first, b, ++seed);
  execute_and_verify(probe, second, c, ++seed);
  c.reset();
  second.reset();  // another engine's teardown leaves this one intact
  execute_and_verify(probe, first, b, ++seed);
  Context late = create_context(t, first);
  b.reset();
  execute_and_verify(probe, first, late, ++seed);
  Context unused = create_context(t, first);  // created and destroyed, never run
  unused.reset();
  late.reset();
  first.reset();
  // An engine built after everything else is gone starts clean.
  Engine again = build_engine(t, graph);
  Context fresh = create_context(t, again);
  execute_and_verify(probe, again, fresh, ++seed);
  return "3 engines, 6 contexts";
}

bool same_value(const rts_value& a, const rts_value& b) {
  if (std::strcmp(a.name ? a.name : "", b.name ? b.name : "") != 0) return false;
  if (a.dtype != b.dtype || a.rank != b.rank) return false;
  for (uint32_t d = 0; d < a.rank; ++d)
    if (a.dims[d] != b.dims[d]) return false;
  return true;
}

void require_same_bindings(const rts_engine_info& original, const rts_engine_info& restored) {
  if (original.n_inputs != restored.n_inputs || original.n_outputs != restored.n_outputs)
    throw CallFailure("the deserialized engine has a different number of bindings");
  for (uint32_t i = 0; i < original.n_inputs; ++i)
    if (!same_value(original.inputs[i], restored.inputs[i]))
      throw CallFailure("deserialized input " + std::to_string(i) + " differs from the original");
  for (uint32_t o = 0; o < original.n_outputs; ++o)
    if (!same_value(original.outputs[o], restored.outputs[o]))
      throw CallFailure("deserialized output " + std::to_string(o) + " differs from the original");
}

std::string round_trip(const Probe& probe) {
  const Target& t = probe.target;
  Engine original = build_engine(t, probe.graph->abi());
  const std::vector<uint8_t> blob = serialize_engine(t, original);
  Engine restored = deserialize_engine(t, blob);
  require_same_bindings(engine_info(t, original), engine_info(t, restored));

  const auto inputs = probe.graph->inputs(probe.seed + 200);
  Context original_context = create_context(t, original);
  Context restored_context = create_context(t, restored);
  const auto expected = execute(t, original, original_context, inputs);
  const auto actual = execute(t, restored, restored_context, inputs);
  for (std::size_t o = 0; o < expected.size(); ++o) {
    if (actual[o].shape() != expected[o].shape() ||
        std::memcmp(actual[o].data(), expected[o].data(), expected[o].size_bytes()) != 0)
      throw CallFailure("the deserialized engine computes a different output " + std::to_string(o) +
                        " than the original");
  }
  execute_and_verify(probe, restored, restored_context, probe.seed + 201);

  // The blob is self-contained: the copy outlives the engine it came from.
  restored_context.reset();
  restored.reset();
  original_context.reset();
  Engine copy = deserialize_engine(t, blob);
  original.reset();
  Context copy_context = create_context(t, copy);
  execute_and_verify(probe, copy, copy_context, probe.seed + 202);
  // Serializing a deserialized engine gives a blob that loads again.
  Engine twice = deserialize_engine(t, serialize_engine(t, copy));
  Context twice_context = create_context(t, twice);
  execute_and_verify(probe, twice, twice_context, probe.seed + 203);
  return std::to_string(blob.size()) + "-byte blob";
}

}  // namespace

std::vector<CheckResult> lifetime_checks(const Probe& probe) {
  std::vector<CheckResult> rows = {
      run_check("lifetimes.varied_order", probe.dtype(), [&] { return varied_order(probe); })};
  if (!probe.serialization_declined.empty())
    rows.push_back(not_supported("serialize.round_trip", probe.dtype(),
                                 "serialize_engine: " + probe.serialization_declined));
  else
    rows.push_back(
        run_check("serialize.round_trip", probe.dtype(), [&] { return round_trip(probe); }));
  return rows;
}

}  // namespace rtscope::conformance::detail
