#include "rtscope/conformance/abi_checks.hpp"

#include <exception>

#include "abi_check_support.hpp"

namespace rtscope::conformance {
namespace detail {

std::string Probe::dtype() const { return std::string(to_string(graph->dtype())); }

namespace {

std::string serialization_declined(const Probe& probe) {
  Engine engine = build_engine(probe.target, probe.graph->abi());
  rts_blob_sink sink{nullptr, [](void*, const void*, uint64_t) { return 0; }};
  ErrorCapture err;
  const rts_status status = probe.target.api().serialize_engine(engine.get(), &sink, err.sink());
  if (status != RTS_ERROR_UNSUPPORTED) return "";
  return err.message().empty() ? "serialize_engine returned RTS_ERROR_UNSUPPORTED" : err.message();
}

}  // namespace

std::optional<Probe> find_probe(const Target& target, const AbiCheckOptions& options) {
  const std::vector<std::string> preferred = {"add_same", "mul_same", "relu", "scale"};
  std::vector<const OpCase*> order;
  for (const auto& label : preferred)
    for (const auto& c : op_cases())
      if (c.label == label) order.push_back(&c);
  for (const auto& c : op_cases()) order.push_back(&c);
  for (DType dtype : options.dtypes) {
    for (const OpCase* c : order) {
      auto graph = std::make_unique<CaseGraph>(*c, dtype);
      if (!supports(target, *graph)) continue;
      Probe probe{target, std::move(graph), options.seed, ""};
      probe.serialization_declined = serialization_declined(probe);
      return probe;
    }
  }
  return std::nullopt;
}

CheckResult run_check(const std::string& name, const std::string& dtype,
                      const std::function<std::string()>& body) {
  return observed_check("abi " + name, dtype, [&] {
    return CheckResult{"abi " + name, dtype, CheckStatus::passed, std::nullopt, body()};
  });
}

CheckResult not_supported(const std::string& name, const std::string& dtype,
                          const std::string& why) {
  return observed_row({"abi " + name, dtype, CheckStatus::not_supported, std::nullopt, why});
}

void execute_and_verify(const Probe& probe, const Engine& engine, const Context& context,
                        uint64_t seed) {
  const auto inputs = probe.graph->inputs(seed);
  const auto expected = probe.graph->reference_outputs(inputs);
  const Comparison cmp =
      compare(*probe.graph, execute(probe.target, engine, context, inputs), expected);
  if (!cmp.ok()) throw CallFailure("wrong result: " + cmp.describe());
}

void require_reported_error(const std::string& slot, rts_status status, const ErrorCapture& err) {
  if (status == RTS_OK) throw CallFailure(slot + " returned RTS_OK; expected an error status");
  if (err.reports() == 0)
    throw CallFailure(slot + " returned status " + std::to_string(int(status)) +
                      " without reporting through the error sink");
  if (err.reports() > 1)
    throw CallFailure(slot + " reported " + std::to_string(err.reports()) +
                      " errors; the sink may be called at most once per call");
  if (err.message().empty())
    throw CallFailure(slot + " returned status " + std::to_string(int(status)) +
                      " with an empty error message");
  if (err.reported_status() != status)
    throw CallFailure(slot + " returned status " + std::to_string(int(status)) +
                      " but reported status " + std::to_string(int(err.reported_status())) +
                      " to the sink");
}

}  // namespace detail

std::vector<CheckResult> run_abi_checks(const Target& target, const AbiCheckOptions& options) {
  std::vector<CheckResult> results = detail::entry_checks(target);
  std::optional<detail::Probe> probe;
  const CheckResult found = observed_check("abi probe", "-", [&] {
    probe = detail::find_probe(target, options);
    return CheckResult{
        "abi probe", "-", CheckStatus::passed, std::nullopt,
        probe ? "engine checks on " + probe->graph->op_case().label + " " + probe->dtype() : ""};
  });
  results.push_back(found);
  if (found.status == CheckStatus::failed) return results;
  if (!probe) {
    results.push_back(observed_row({"abi engine checks", "-", CheckStatus::skipped, std::nullopt,
                                    "the plugin supports no op case on this device"}));
    return results;
  }
  for (auto* group :
       {&detail::struct_size_checks, &detail::error_checks, &detail::lifetime_checks}) {
    auto rows = (*group)(*probe);
    results.insert(results.end(), rows.begin(), rows.end());
  }
  auto threads = detail::thread_checks(*probe, options.threads);
  results.insert(results.end(), threads.begin(), threads.end());
  auto runtime = detail::runtime_checks(*probe, options);
  results.insert(results.end(), runtime.begin(), runtime.end());
  return results;
}

}  // namespace rtscope::conformance
