// Executes a RunConfig: loads plugins, builds each model once, applies
// runtime settings, runs warm-up then measured iterations per run entry,
// and collects the Report.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "report.hpp"
#include "rtscope/model.hpp"
#include "run_config.hpp"

namespace rtscope::runner {

struct RunnerOptions {
  bool show_progress = false;  // progress line on stderr for long runs
  std::string command_line;    // recorded in the report's context
  bool keep_samples = false;   // every iteration's latency in the report (--samples)
  // When the process started (main's first statement); start_to_first_token
  // is measured from it. Unset: from the start of run_benchmarks.
  std::optional<std::chrono::steady_clock::time_point> process_start;
};

// Throws rtscope::Error (or a subclass) on the first failure; messages from
// config-related failures start with the config's "file:line:col: ".
Report run_benchmarks(const RunConfig& config, const RunnerOptions& options);

// Where the nodes of one model of the config went.
struct ModelPlacements {
  std::string model;  // key of `models`
  std::vector<NodePlacement> nodes;
};

// Loads the plugins and builds every model of `config` in file order,
// without running any; throws like run_benchmarks.
std::vector<ModelPlacements> place_models(const RunConfig& config);

// Messages are printed as one line so scripts can grep them; multi-line
// text from lower layers (e.g. a list of searched directories) is folded: a
// line break becomes "; ", or a space after a colon, and indentation is
// dropped.
std::string fold_lines(const std::string& message);

// Prints "rtscope-run: warning: <message>" on stderr, folded to one line.
void warn(const std::string& message);

}  // namespace rtscope::runner
