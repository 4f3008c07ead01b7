// rtscope-conformance: runs the op conformance suite and the ABI behaviour
// checks against one plugin and prints a pass/fail table, row by row as the
// checks finish.
//
// The checks run in a worker process (this program again, with --worker-fd)
// that streams each row to the parent. A check that crashes or hangs the
// worker becomes a failed row naming it; the parent then starts a new worker
// that skips the checks that crashed, and keeps the rows it already has.
//
// Exit codes: 0 every check passed (ops the plugin declines do not count
// against it), 1 a check failed or the plugin could not be tested, 2 usage
// error.

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iostream>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "rtscope/conformance/abi_checks.hpp"
#include "rtscope/conformance/op_suite.hpp"
#include "rtscope/conformance/report.hpp"
#include "rtscope/error.hpp"
#include "rtscope/plugin_registry.hpp"

namespace {

namespace conf = rtscope::conformance;

// The exit codes the top of this file lists.
enum ExitCode : int { kExitPass = 0, kExitFail = 1, kExitUsage = 2 };

struct CommandLine {
  std::string plugin;
  std::vector<std::string> ops;
  std::vector<std::string> dtypes = {"f32", "f16"};
  uint32_t device = 0;
  std::string json_path;
  uint64_t seed = 1;
  int threads = 4;
  double check_timeout_s = 300;
  // Worker mode: the descriptor rows are streamed to, and checks to skip
  // ("CHECK\tDTYPE") because they crashed an earlier worker.
  int worker_fd = -1;
  std::vector<std::string> skip_checks;
};

// The width of the CHECK column when rows are printed as they come.
constexpr std::size_t kCheckWidth = 40;

extern "C" char** environ;

// Streams rows from a worker to its parent, one line each: "S\t<subject>",
// "B\t<check>\t<dtype>" before a check, "R\t<row>" after it.
class WorkerStream : public conf::CheckObserver {
 public:
  WorkerStream(int fd, const std::vector<std::string>& skips)
      : fd_(fd), skips_(skips.begin(), skips.end()) {}
  bool begin(const std::string& check, const std::string& dtype) override {
    if (skips_.count(check + "\t" + dtype)) return false;
    send("B\t" + check + "\t" + dtype);
    return true;
  }
  void row(const conf::CheckResult& result) override { send("R\t" + conf::row_to_json(result)); }
  void subject(const conf::ReportSubject& subject) { send("S\t" + conf::subject_to_json(subject)); }

 private:
  void send(std::string line) {
    line += '\n';
    const char* data = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t n = write(fd_, data, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // the parent is gone
      data += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  int fd_;
  std::set<std::string> skips_;
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

// Worker: loads the plugin, streams the subject and every row, exits 0.
int run_worker(const CommandLine& command) {
  const std::vector<rtscope::DType> dtypes = parse_dtypes(command.dtypes);
  WorkerStream stream(command.worker_fd, command.skip_checks);

  rtscope::PluginRegistry registry;
  conf::Target target{registry.load(plugin_spec(command.plugin)), command.device};
  const uint32_t count = target.api().device_count(target.handle());
  if (command.device >= count)
    throw rtscope::InputError(
        fmt::format("--device {} is out of range: plugin '{}' has {} device(s)", command.device,
                    target.plugin->id(), count));

  const rtscope::Plugin& plugin = *target.plugin;
  stream.subject({plugin.id(), plugin.version(), plugin.path().string(),
                  fmt::format("{}.{} (negotiated minor {})", plugin.abi_major(),
                              target.api().abi_minor, plugin.abi_minor()),
                  command.device, device_name(target), command.seed});
  conf::set_check_observer(&stream);

  conf::OpSuiteOptions op_options;
  op_options.ops = command.ops;
  op_options.dtypes = dtypes;
  op_options.seed = command.seed;
  std::vector<conf::CheckResult> results = conf::run_op_suite(target, op_options);

  conf::AbiCheckOptions abi_options;
  abi_options.dtypes = dtypes;
  abi_options.seed = command.seed;
  abi_options.threads = command.threads;
  conf::run_abi_checks(target, abi_options);
  conf::set_check_observer(nullptr);
  return kExitPass;
}

std::string signal_text(int signal) {
  const char* name = sigabbrev_np(signal);
  return "signal " + std::to_string(signal) + (name ? std::string(", SIG") + name : "");
}

// One worker process and its row stream.
struct Worker {
  pid_t pid = -1;
  int fd = -1;
};

Worker start_worker(char** argv, const std::vector<std::string>& skips) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("cannot create a pipe for the worker");
  // Both ends above descriptor 3, close-on-exec: the worker gets only the
  // write end, as descriptor 3.
  int fds[2];
  for (int i = 0; i < 2; ++i) {
    fds[i] = fcntl(pipe_fds[i], F_DUPFD_CLOEXEC, 10);
    close(pipe_fds[i]);
  }
  std::vector<std::string> args;
  for (char** a = argv; *a; ++a) args.emplace_back(*a);
  args.emplace_back("--worker-fd");
  args.emplace_back("3");
  for (const auto& skip : skips) {
    args.emplace_back("--skip-check");
    args.push_back(skip);
  }
  std::vector<char*> raw;
  for (auto& a : args) raw.push_back(a.data());
  raw.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 3);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (error != 0) {
    close(fds[0]);
    throw std::runtime_error(std::string("cannot start a worker process: ") + std::strerror(error));
  }
  return {pid, fds[0]};
}

// Parent: runs workers until the suite is through, prints rows as they
// arrive, then the summary and the JSON.
int run(const CommandLine& command, char** argv) {
  parse_dtypes(command.dtypes);  // usage errors before any process starts
  conf::check_op_names(command.ops);
  std::vector<conf::CheckResult> results;
  std::set<std::string> seen;  // "CHECK\tDTYPE" of rows already printed
  std::vector<std::string> skips;
  std::optional<conf::ReportSubject> subject;
  const auto limit =
      std::chrono::milliseconds(static_cast<int64_t>(command.check_timeout_s * 1000));
  for (;;) {
    Worker worker = start_worker(argv, skips);
    std::string buffer;
    std::string current;  // the check begun and not yet reported
    std::string last_done;
    bool timed_out = false;
    auto deadline = std::chrono::steady_clock::now() + limit;
    const auto handle_line = [&](const std::string& line) {
      if (line.starts_with("S\t") && !subject) {
        subject = conf::subject_from_json(line.substr(2));
        conf::print_header(std::cout, *subject, kCheckWidth);
      } else if (line.starts_with("B\t")) {
        current = line.substr(2);
        deadline = std::chrono::steady_clock::now() + limit;
      } else if (line.starts_with("R\t")) {
        const conf::CheckResult row = conf::row_from_json(line.substr(2));
        const std::string key = row.check + "\t" + row.dtype;
        if (key == current) current.clear();
        last_done = row.check;
        if (!seen.insert(key).second) return;
        results.push_back(row);
        conf::print_row(std::cout, row, kCheckWidth);
        std::cout.flush();
      }
    };
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        timed_out = true;
        kill(worker.pid, SIGKILL);
        break;
      }
      pollfd fd{worker.fd, POLLIN, 0};
      const int ready = poll(&fd, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
      if (ready <= 0) continue;
      char chunk[4096];
      const ssize_t n = read(worker.fd, chunk, sizeof chunk);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      buffer.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t end; (end = buffer.find('\n')) != std::string::npos;) {
        handle_line(buffer.substr(0, end));
        buffer.erase(0, end + 1);
      }
    }
    close(worker.fd);
    int status = 0;
    while (waitpid(worker.pid, &status, 0) < 0 && errno == EINTR) {
    }
    const bool crashed = timed_out || WIFSIGNALED(status);
    if (!crashed) {
      if (!subject || WEXITSTATUS(status) != kExitPass) return WEXITSTATUS(status);
      break;
    }
    const std::string how =
        timed_out ? fmt::format("did not finish within {:g} s (--check-timeout); killed",
                                command.check_timeout_s)
                  : "crashed the worker process (" + signal_text(WTERMSIG(status)) + ")";
    if (!subject) {
      std::cerr << "rtscope-conformance: error: plugin '" << command.plugin << "' " << how
                << " while loading\n";
      return kExitFail;
    }
    if (current.empty()) {
      // Outside any check: nothing to skip, so no new worker.
      conf::CheckResult row{"worker", "-", conf::CheckStatus::failed, std::nullopt,
                            how + " outside any check, after '" + last_done + "'"};
      results.push_back(row);
      conf::print_row(std::cout, row, kCheckWidth);
      break;
    }
    const auto tab = current.find('\t');
    conf::CheckResult row{current.substr(0, tab), current.substr(tab + 1),
                          conf::CheckStatus::failed, std::nullopt,
                          how + " in this check; the remaining checks ran in a new worker"};
    seen.insert(current);
    results.push_back(row);
    conf::print_row(std::cout, row, kCheckWidth);
    std::cout.flush();
    skips.push_back(current);
  }
  conf::print_summary(std::cout, *subject, results);
  if (!command.json_path.empty()) {
    std::ofstream json(command.json_path);
    json << conf::to_json(*subject, results);
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
  app.add_option("--check-timeout", command.check_timeout_s,
                 "Seconds one check may run before it is reported as hung")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  // Internal: the worker process (see the top of this file).
  app.add_option("--worker-fd", command.worker_fd)->group("");
  app.add_option("--skip-check", command.skip_checks)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitPass : kExitUsage;
  }
  try {
    return command.worker_fd >= 0 ? run_worker(command) : run(command, argv);
  } catch (const rtscope::InputError& e) {
    std::cerr << "rtscope-conformance: error: " << e.what() << "\n";
    return kExitUsage;
  } catch (const std::exception& e) {
    std::cerr << "rtscope-conformance: error: " << e.what() << "\n";
    return kExitFail;
  }
}
