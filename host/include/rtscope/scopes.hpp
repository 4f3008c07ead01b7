// RAII scopes over modules and models: runtime_config and graph_capture.
//
//   auto config = rtscope::runtime_config(model, {{"kernel_specialization", "eager"}});
//   auto capture = rtscope::graph_capture(model);   // record on the first run, replay after
//   model.run(inputs);                               // exactly one context per module
//
// A target is a Module, a Model (every module under it) or a braced list of
// them: runtime_config({model_a, module_b}, ...). Scopes nest LIFO and
// restore each module's exact previous settings on exit.
//
// Concurrency: a scope may be entered or left on any thread while another
// thread executes. An execute already in flight keeps its context and
// finishes with the settings it started with; the change applies to the
// next execute (see module.hpp).
#pragma once

#include <initializer_list>
#include <vector>

#include "rtscope/model.hpp"
#include "rtscope/module.hpp"
#include "rtscope/runtime_config.hpp"

namespace rtscope {

// The modules a scope acts on.
class ScopeTarget {
 public:
  ScopeTarget(Module& module) : modules_{&module} {}  // NOLINT: implicit by design
  ScopeTarget(Model& model) {                         // NOLINT
    for (Module* m : model.modules()) modules_.push_back(m);
  }
  ScopeTarget(std::initializer_list<ScopeTarget> targets) {
    for (const auto& t : targets)
      modules_.insert(modules_.end(), t.modules_.begin(), t.modules_.end());
  }
  ScopeTarget(const std::vector<Module*>& modules)
      : modules_(modules.begin(), modules.end()) {}  // NOLINT

  const std::vector<SettingsTarget*>& modules() const { return modules_; }

 private:
  std::vector<SettingsTarget*> modules_;
};

[[nodiscard]] inline RuntimeConfigScope runtime_config(const ScopeTarget& target,
                                                       const SettingOverrides& overrides) {
  return RuntimeConfigScope(target.modules(), overrides);
}

// Sets the capture strategy before any context exists: the first execute in
// the scope records the whole engine, later ones replay it; an input shape
// change re-records. Leaving the scope restores the previous strategy and
// frees the capture with its context.
[[nodiscard]] inline RuntimeConfigScope graph_capture(
    const ScopeTarget& target, GraphCapture strategy = GraphCapture::whole_graph) {
  return RuntimeConfigScope(target.modules(),
                            {{"graph_capture", std::string(to_string(strategy))}});
}

}  // namespace rtscope
