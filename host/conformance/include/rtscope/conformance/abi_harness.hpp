// Direct calls into a plugin's C table, as a host would make them, with the
// bookkeeping the checks need: error capture, owning handles, single-op
// graphs in ABI form and execution on host buffers.
#pragma once

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "rtscope/conformance/op_cases.hpp"
#include "rtscope/graph.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin.hpp"
#include "rtscope/plugin_abi.h"
#include "rtscope/reference/reference.hpp"
#include "rtscope/tensor.hpp"

namespace rtscope {
class AbiNode;
class AbiPartition;
}  // namespace rtscope

namespace rtscope::conformance {

// A plugin call failed where success was expected; the message names the
// slot, the status and the plugin's own message.
class CallFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Records what a plugin reports through one rts_error_sink.
class ErrorCapture {
 public:
  ErrorCapture();
  ErrorCapture(const ErrorCapture&) = delete;
  ErrorCapture& operator=(const ErrorCapture&) = delete;

  const rts_error_sink* sink() const { return &sink_; }
  int reports() const { return reports_; }
  rts_status reported_status() const { return reported_status_; }
  const std::string& message() const { return message_; }

  // Throws CallFailure "<slot> failed: <message> (status N)" unless OK.
  void require_ok(rts_status status, const std::string& slot) const;

 private:
  static void report(void* user, rts_status status, const char* message);
  rts_error_sink sink_{};
  int reports_ = 0;
  rts_status reported_status_ = RTS_OK;
  std::string message_;
};

// The plugin and device under test.
struct Target {
  std::shared_ptr<Plugin> plugin;
  uint32_t device = 0;

  const rts_plugin_api& api() const { return plugin->api(); }
  rts_plugin* handle() const { return plugin->handle(); }
};

// One op case as a validated graph and as the rts_graph a host would hand to
// build_engine (single partition, every value crossing the boundary).
class CaseGraph {
 public:
  CaseGraph(const OpCase& op_case, DType dtype);
  ~CaseGraph();
  CaseGraph(const CaseGraph&) = delete;
  CaseGraph& operator=(const CaseGraph&) = delete;

  const OpCase& op_case() const { return *op_case_; }
  DType dtype() const { return dtype_; }
  const Graph& graph() const { return graph_; }
  const rts_graph& abi() const;
  // The node and its value declarations, for query_node.
  const rts_node& node() const;
  const rts_value* node_inputs() const;
  const rts_value* node_outputs() const;

  // Seeded random inputs by name, and the float64 reference outputs for them.
  std::map<std::string, Tensor> inputs(uint64_t seed) const;
  std::vector<reference::RefTensor> reference_outputs(
      const std::map<std::string, Tensor>& inputs) const;
  // The dtype the graph declares for each output.
  std::vector<DType> output_dtypes() const;

 private:
  const OpCase* op_case_;
  DType dtype_;
  Graph graph_;
  Partition partition_;  // the ABI view points into its names
  std::unique_ptr<AbiPartition> abi_;
  std::unique_ptr<AbiNode> abi_node_;
};

// An owning handle to a plugin object, destroyed through the plugin's own
// slot `Destroy` (a member of rts_plugin_api). Move-only.
template <typename Handle, void (*rts_plugin_api::*Destroy)(Handle*)>
class PluginHandle {
 public:
  PluginHandle() = default;
  PluginHandle(const rts_plugin_api* api, Handle* handle) : api_(api), handle_(handle) {}
  PluginHandle(PluginHandle&& other) noexcept { *this = std::move(other); }
  PluginHandle& operator=(PluginHandle&& other) noexcept {
    if (this != &other) {
      reset();
      api_ = other.api_;
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  ~PluginHandle() { reset(); }
  Handle* get() const { return handle_; }
  void reset() {
    if (handle_) (api_->*Destroy)(std::exchange(handle_, nullptr));
  }

 private:
  const rts_plugin_api* api_ = nullptr;
  Handle* handle_ = nullptr;
};

using Engine = PluginHandle<rts_engine, &rts_plugin_api::destroy_engine>;
using Context = PluginHandle<rts_context, &rts_plugin_api::destroy_context>;

// Settings a host uses when nothing is configured.
rts_runtime_settings default_settings();

// Each throws CallFailure when the slot does not return RTS_OK.
Engine build_engine(const Target& target, const rts_graph& graph);
Context create_context(const Target& target, const Engine& engine,
                       const rts_runtime_settings& settings = default_settings());
std::vector<uint8_t> serialize_engine(const Target& target, const Engine& engine);
Engine deserialize_engine(const Target& target, const std::vector<uint8_t>& blob);
rts_engine_info engine_info(const Target& target, const Engine& engine);

// Binds `inputs` by the engine's input names, executes on host buffers
// (with an output allocator for data-dependent outputs) and returns the
// outputs in engine order with the shapes the plugin reported. Throws
// CallFailure on a failing status or an inconsistent result.
// How outputs that engine_info aliases onto an input are bound: to storage
// of their own (the plugin must not rely on the alias) or to the input's
// storage, which is how the host asks for in-place execution. Aliased
// inputs are copied first either way, so `inputs` is never written.
enum class AliasBinding { separate, in_place };

std::vector<Tensor> execute(const Target& target, const Engine& engine, const Context& context,
                            const std::map<std::string, Tensor>& inputs,
                            AliasBinding aliasing = AliasBinding::separate);

// Largest |actual - expected| and the largest ratio of the error to the
// tolerance of the case's dtype (<= 1 passes); `mismatch` says what differs
// when a shape, dtype or output count does not match.
struct Comparison {
  double max_abs_error = 0;
  double worst_ratio = 0;
  std::string mismatch;
  bool ok() const { return mismatch.empty() && worst_ratio <= 1.0; }
  // "max |error| 0.5 is 4.93e+03x the tolerance", or the mismatch.
  std::string describe() const;
};
Comparison compare(const CaseGraph& graph, const std::vector<Tensor>& actual,
                   const std::vector<reference::RefTensor>& expected);

}  // namespace rtscope::conformance
