// rtscope-run: loads plugins, builds models and reports latency and
// throughput as a table on stdout and, with --json, as a JSON file.
//
// Exit codes: 0 success, 1 any error (one line on stderr), 2 usage error.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <string>
#include <variant>
#include <vector>

#include "config_overrides.hpp"
#include "device_list.hpp"
#include "onnx_quick.hpp"
#include "partitions_report.hpp"
#include "progress.hpp"
#include "report.hpp"
#include "rtscope/trace.hpp"
#include "run_config.hpp"
#include "runner.hpp"

namespace {
// The reference point of the report's start_to_first_token phase.
std::chrono::steady_clock::time_point process_start;
}  // namespace

#ifndef RTSCOPE_VERSION
#define RTSCOPE_VERSION "unknown"
#endif

namespace {

namespace runner = rtscope::runner;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

struct CommandLine {
  std::string config_path;
  std::string onnx_path;  // quick mode: --onnx FILE instead of a config
  bool onnx_no_fuse = false;
  std::string shapes;
  std::string backends;
  std::vector<runner::ConfigOverride> overrides;
  std::string json_path;
  bool dump_config = false;
  bool show_partitions = false;
  bool list_devices = false;
  bool keep_samples = false;
  std::string trace_path;
  std::string text;  // as typed, for the report
};

void print_error(const std::string& message) {
  fmt::print(stderr, "rtscope-run: error: {}\n", runner::fold_lines(message));
}

std::string join_arguments(int argc, char** argv) {
  std::string line;
  for (int i = 0; i < argc; ++i) line += (i ? " " : "") + std::string(argv[i]);
  return line;
}

// Parses argv; on --help/--version or a usage error returns the exit code
// instead, having printed what is needed.
std::variant<CommandLine, int> parse_command_line(int argc, char** argv) {
  CLI::App app{
      "Loads backend plugins, builds models from a config and reports latency and "
      "throughput.",
      "rtscope-run"};
  CommandLine command;
  std::vector<std::string> set_arguments;
  CLI::Option* config = app.add_option("config", command.config_path,
                                       "Runner config (YAML), e.g. configs/default.yaml");
  // One value per --set, so `--set k=v CONFIG` keeps CONFIG positional.
  app.add_option("--set", set_arguments,
                 "Override a config key before it is read: key.path=value, list items by "
                 "index (run.0.warmup=2); the value is YAML. Repeatable.")
      ->allow_extra_args(false)
      ->type_name("KEY=VALUE");
  app.add_option("--json", command.json_path,
                 "Also write the report as JSON to FILE (overrides report.json)")
      ->type_name("FILE");
  app.add_flag("--dump-config", command.dump_config,
               "Print the effective config (overrides applied, defaults filled in) and exit");
  app.add_flag("--show-partitions", command.show_partitions,
               "Build every model, print each node with the plugin it went to and why, and "
               "exit without running");
  app.add_option("--trace", command.trace_path,
                 "Write a Chrome trace-event JSON of the run to FILE (plugin loads, model "
                 "builds, contexts, compiles, cache load/save, every execute); open it in "
                 "https://ui.perfetto.dev (overrides report.trace)")
      ->type_name("FILE");
  app.add_flag("--samples", command.keep_samples,
               "Include every measured iteration's latency (samples_ms) in the JSON report");
  app.add_flag("--list-devices", command.list_devices,
               "Print every plugin's devices and fingerprints and exit: the config's plugins "
               "and backends, or without a config every plugin in the search path");
  CLI::Option* onnx = app.add_option("--onnx", command.onnx_path,
                                     "Run an ONNX model without a config (a batch run of one "
                                     "model; the other flags apply as to a config)")
                          ->type_name("FILE");
  app.add_option("--shapes", command.shapes,
                 "With --onnx: concrete input shapes, NAME:DxD[,NAME:DxD...] (e.g. "
                 "input_ids:1x16); a dim_param takes the size given here")
      ->type_name("SHAPES");
  app.add_option("--backends", command.backends,
                 "With --onnx: plugin ids in partition priority order (default cpu)")
      ->type_name("IDS");
  CLI::Option* no_fuse =
      app.add_flag("--onnx-no-fuse", command.onnx_no_fuse,
                   "With --onnx: import every node as mapped, without fusing decomposed "
                   "decoder blocks into rmsnorm, rope, attention, silu and linear");
  app.set_version_flag("--version", RTSCOPE_VERSION);

  try {
    app.parse(argc, argv);
    if (config->count() > 0 && onnx->count() > 0) {
      throw CLI::ValidationError("--onnx", "give a config or --onnx FILE, not both");
    }
    if (config->count() == 0 && onnx->count() == 0 && !command.list_devices) {
      throw CLI::RequiredError("config (or --onnx FILE)");
    }
    if (onnx->count() == 0 &&
        (!command.shapes.empty() || !command.backends.empty() || no_fuse->count() > 0)) {
      throw CLI::ValidationError("--shapes/--backends/--onnx-no-fuse",
                                 "belong to --onnx FILE; a config has "
                                 "models.NAME.shapes, .backends and .fuse");
    }
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    print_error(fmt::format("{}; run 'rtscope-run --help' for usage", e.what()));
    return kExitUsage;
  }
  try {
    for (const std::string& text : set_arguments) {
      command.overrides.push_back(runner::parse_override(text));
    }
  } catch (const std::exception& e) {
    print_error(e.what());
    return kExitUsage;
  }
  command.text = join_arguments(argc, argv);
  return command;
}

// Records the run while alive and writes the trace file when it ends, also
// when the run fails, so the events up to the failure are kept.
class TraceFile {
 public:
  explicit TraceFile(std::string path) : path_(std::move(path)) {
    if (!path_.empty()) rtscope::trace::start();
  }
  ~TraceFile() {
    if (path_.empty()) return;
    try {
      const std::vector<rtscope::trace::Event> events = rtscope::trace::stop();
      std::ofstream out(path_, std::ios::trunc);
      if (out) rtscope::trace::write_chrome_json(events, out);
      if (!out) {
        print_error(fmt::format("cannot write the trace file {}", path_));
      } else {
        fmt::print(stderr, "rtscope-run: trace with {} events written to {}\n", events.size(),
                   path_);
      }
    } catch (const std::exception& e) {
      print_error(fmt::format("writing the trace file {} failed: {}", path_, e.what()));
    }
  }
  TraceFile(const TraceFile&) = delete;
  TraceFile& operator=(const TraceFile&) = delete;

 private:
  std::string path_;
};

int list_devices(const CommandLine& command) {
  if (command.config_path.empty()) {
    fmt::print("{}", runner::format_devices(runner::list_devices(nullptr)));
    return kExitOk;
  }
  const runner::RunConfig config = runner::load_run_config(command.config_path, command.overrides);
  fmt::print("{}", runner::format_devices(runner::list_devices(&config)));
  return kExitOk;
}

int run(const CommandLine& command) {
  if (command.list_devices) return list_devices(command);
  runner::RunConfig config =
      command.onnx_path.empty()
          ? runner::load_run_config(command.config_path, command.overrides)
          : runner::onnx_quick_config(command.onnx_path, command.shapes, command.backends,
                                      command.overrides, !command.onnx_no_fuse);
  if (!command.json_path.empty()) config.report.json = command.json_path;
  if (!command.trace_path.empty()) config.report.trace = command.trace_path;
  if (command.dump_config) {
    YAML::Emitter out;
    out << runner::to_yaml(config);
    fmt::print("{}\n", out.c_str());
    return kExitOk;
  }
  if (command.show_partitions) {
    fmt::print("{}", runner::format_partitions(runner::place_models(config)));
    return kExitOk;
  }
  if (config.report.json) runner::check_json_destination(*config.report.json, "JSON report");
  if (config.report.trace) runner::check_json_destination(*config.report.trace, "trace");
  if (command.keep_samples && !config.report.json) {
    runner::warn("--samples has no effect without --json FILE (or report.json)");
  }
  const TraceFile trace(config.report.trace ? config.report.trace->string() : std::string());
  runner::RunnerOptions options;
  options.keep_samples = command.keep_samples;
  options.show_progress = runner::ProgressLine::stderr_is_terminal();
  options.command_line = command.text;
  options.process_start = process_start;
  const runner::Report report = runner::run_benchmarks(config, options);
  runner::print_table(report, stdout);
  if (config.report.json) {
    runner::write_json(report, *config.report.json);
    fmt::print("\nJSON report: {}\n", config.report.json->string());
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  process_start = std::chrono::steady_clock::now();
  const auto parsed = parse_command_line(argc, argv);
  if (const int* exit_code = std::get_if<int>(&parsed)) return *exit_code;
  try {
    return run(std::get<CommandLine>(parsed));
  } catch (const std::exception& e) {
    std::fflush(stdout);  // keep the table (if any) ahead of the error
    print_error(e.what());
    return kExitError;
  }
}
