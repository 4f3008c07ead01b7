// rtscope-conformance: runs the op conformance suite and the ABI behaviour
// checks against one plugin and prints a pass/fail table.
//
// Exit codes: 0 every check passed (ops the plugin declines do not count
// against it), 1 a check failed or the plugin could not be tested, 2 usage
// error.

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "rtscope/conformance/abi_checks.hpp"
#include "rtscope/conformance/op_suite.hpp"
#include "rtscope/conformance/report.hpp"
#include "rtscope/error.hpp"
#include "rtscope/plugin_registry.hpp"

namespace {

namespace conf = rtscope::conformance;

constexpr int kExitPass = 0;
constexpr int kExitFail = 1;
constexpr int kExitUsage = 2;

struct CommandLine {
  std::string plugin;
  std::vector<std::string> ops;
  std::vector<std::string> dtypes = {"f32", "f16"};
  uint32_t device = 0;
  std::string json_path;
  uint64_t seed = 1;
  int threads = 4;
};

// A path when it names a file (has a slash or the .so suffix), else a plugin
// name searched like rtscope-run does.
rtscope::PluginSpec plugin_spec(const std::string& argument) {
  const bool is_path =
      argument.find('/') != std::string::npos || (argument.size() > 3 && argument.ends_with(".so"));
  if (is_path) return {.path = argument};
  return {.name = argument};
}

std::vector<rtscope::DType> parse_dtypes(const std::vector<std::string>& names) {
  std::vector<rtscope::DType> dtypes;
  for (const auto& name : names) {
    if (name == "f32")
      dtypes.push_back(rtscope::DType::f32);
    else if (name == "f16")
      dtypes.push_back(rtscope::DType::f16);
    else
      throw rtscope::InputError("unknown dtype '" + name +
                                "' in --dtypes; the op cases run in f32 and f16");
  }
  return dtypes;
}

std::string device_name(const conf::Target& target) {
  const auto& devices = target.plugin->devices();
  return target.device < devices.size() ? devices[target.device].name : "?";
}

int run(const CommandLine& command) {
  const std::vector<rtscope::DType> dtypes = parse_dtypes(command.dtypes);
  conf::check_op_names(command.ops);

  rtscope::PluginRegistry registry;
  conf::Target target{registry.load(plugin_spec(command.plugin)), command.device};
  const uint32_t count = target.api().device_count(target.handle());
  if (command.device >= count)
    throw rtscope::InputError(
        fmt::format("--device {} is out of range: plugin '{}' has {} device(s)", command.device,
                    target.plugin->id(), count));

  conf::OpSuiteOptions op_options;
  op_options.ops = command.ops;
  op_options.dtypes = dtypes;
  op_options.seed = command.seed;
  std::vector<conf::CheckResult> results = conf::run_op_suite(target, op_options);

  conf::AbiCheckOptions abi_options;
  abi_options.dtypes = dtypes;
  abi_options.seed = command.seed;
  abi_options.threads = command.threads;
  const auto abi = conf::run_abi_checks(target, abi_options);
  results.insert(results.end(), abi.begin(), abi.end());

  const rtscope::Plugin& plugin = *target.plugin;
  const conf::ReportSubject subject{plugin.id(),
                                    plugin.version(),
                                    plugin.path().string(),
                                    fmt::format("{}.{} (negotiated minor {})", plugin.abi_major(),
                                                target.api().abi_minor, plugin.abi_minor()),
                                    command.device,
                                    device_name(target),
                                    command.seed};
  conf::print_table(std::cout, subject, results);
  if (!command.json_path.empty()) {
    std::ofstream json(command.json_path);
    json << conf::to_json(subject, results);
    if (!json)
      throw rtscope::InputError("cannot write --json file '" + command.json_path +
                                "'; check that its directory exists and is writable");
  }
  return conf::summarize(results).ok() ? kExitPass : kExitFail;
}

}  // namespace

int main(int argc, char** argv) {
  // The table is the output: plugin info lines (device opened, staging
  // plans) stay off stderr unless RTSCOPE_LOG_LEVEL asks for them.
  setenv("RTSCOPE_LOG_LEVEL", "warn", /*overwrite=*/0);
  CLI::App app{
      "Runs the op conformance suite (float64 reference, seeded random inputs) and the ABI "
      "behaviour checks against one backend plugin.",
      "rtscope-conformance"};
  CommandLine command;
  app.add_option("--plugin", command.plugin,
                 "Plugin to test: a library path (./librtscope_plugin_x.so) or a name searched "
                 "like rtscope-run does (cpu, testing, vulkan)")
      ->required()
      ->type_name("PATH|NAME");
  app.add_option("--ops", command.ops, "Only these ops, comma-separated (default: every op)")
      ->delimiter(',')
      ->type_name("OP,...");
  app.add_option("--dtypes", command.dtypes, "Float dtypes to test, comma-separated")
      ->delimiter(',')
      ->type_name("f32,f16")
      ->capture_default_str();
  app.add_option("--device", command.device, "Device index of the plugin")->capture_default_str();
  app.add_option("--json", command.json_path, "Also write the results as JSON to FILE")
      ->type_name("FILE");
  app.add_option("--seed", command.seed, "Seed of the random inputs")->capture_default_str();
  app.add_option("--threads", command.threads, "Threads for the thread-safety checks")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitPass : kExitUsage;
  }
  try {
    return run(command);
  } catch (const rtscope::InputError& e) {
    std::cerr << "rtscope-conformance: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "rtscope-conformance: error: " << e.what() << "\n";
    return kExitFail;
  }
}
