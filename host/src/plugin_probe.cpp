#include "plugin_probe.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "rtscope/log.hpp"

extern char** environ;

namespace rtscope {
namespace fs = std::filesystem;
namespace {

constexpr int kCacheVersion = 1;

// What identifies one build of a plugin file: a rebuilt or replaced file
// differs in inode, size or mtime.
struct FileIdentity {
  std::string path;
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

std::optional<FileIdentity> identity_of(const fs::path& file) {
  struct stat info {};
  if (stat(file.c_str(), &info) != 0) return std::nullopt;
  return FileIdentity{
      file.string(), static_cast<uint64_t>(info.st_dev), static_cast<uint64_t>(info.st_ino),
      static_cast<uint64_t>(info.st_size),
      static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec};
}

nlohmann::json read_cache(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return nlohmann::json::object();
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || doc.value("version", 0) != kCacheVersion || !doc.contains("plugins") ||
      !doc["plugins"].is_object()) {
    log().debug("plugin probe cache {} is unreadable or of another version; ignoring it",
                file.string());
    return nlohmann::json::object();
  }
  return doc;
}

std::optional<ProbeVerdict> cached_verdict(const nlohmann::json& doc, const FileIdentity& id) {
  if (!doc.contains("plugins")) return std::nullopt;
  const auto& plugins = doc["plugins"];
  const auto found = plugins.find(id.path);
  if (found == plugins.end() || !found->is_object()) return std::nullopt;
  const auto& entry = *found;
  try {
    if (entry.at("device").get<uint64_t>() != id.device ||
        entry.at("inode").get<uint64_t>() != id.inode ||
        entry.at("size").get<uint64_t>() != id.size ||
        entry.at("mtime_ns").get<int64_t>() != id.mtime_ns) {
      return std::nullopt;
    }
    return ProbeVerdict{entry.at("safe").get<bool>(), entry.at("reason").get<std::string>()};
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;  // a damaged entry is probed again
  }
}

// Written to a temporary file and renamed, so a reader never sees half a
// file; a failure only costs the next run a probe.
void write_cache(const fs::path& file, nlohmann::json doc, const FileIdentity& id,
                 const ProbeVerdict& verdict) {
  doc["version"] = kCacheVersion;
  doc["plugins"][id.path] = {{"device", id.device},  {"inode", id.inode},
                             {"size", id.size},      {"mtime_ns", id.mtime_ns},
                             {"safe", verdict.safe}, {"reason", verdict.reason}};
  std::error_code error;
  fs::create_directories(file.parent_path(), error);
  const fs::path temp = file.string() + ".tmp" + std::to_string(getpid());
  {
    std::ofstream out(temp);
    out << doc.dump(2) << "\n";
    if (!out) {
      log().debug("cannot write plugin probe cache {}", temp.string());
      fs::remove(temp, error);
      return;
    }
  }
  fs::rename(temp, file, error);
  if (error) fs::remove(temp, error);
}

std::string signal_text(int signal) {
  const char* name = sigabbrev_np(signal);
  return "signal " + std::to_string(signal) + (name ? std::string(" (SIG") + name + ")" : "");
}

std::string last_line(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  const auto newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

// Runs `probe plugin` with its output captured; kills it at `limit`.
ProbeVerdict run_probe(const fs::path& plugin, const fs::path& probe,
                       std::chrono::milliseconds limit) {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) return {true, ""};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDERR_FILENO);
  const std::string probe_path = probe.string();
  const std::string plugin_path = plugin.string();
  char* argv[] = {const_cast<char*>(probe_path.c_str()), const_cast<char*>(plugin_path.c_str()),
                  nullptr};
  pid_t child = 0;
  const int spawned = posix_spawn(&child, probe_path.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawned != 0) {
    close(pipe_fds[0]);
    log().warn("cannot start plugin probe {}: {}; loading {} without isolation", probe_path,
               std::strerror(spawned), plugin_path);
    return {true, ""};
  }
  std::string output;
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool timed_out = false;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd fd{pipe_fds[0], POLLIN, 0};
    const int ready = poll(&fd, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;  // the deadline check above decides
    char buffer[4096];
    const ssize_t n = read(pipe_fds[0], buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the probe closed its output: it is exiting
    if (output.size() < 65536) output.append(buffer, static_cast<std::size_t>(n));
  }
  close(pipe_fds[0]);
  if (timed_out) kill(child, SIGKILL);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  const double seconds = static_cast<double>(limit.count()) / 1000.0;
  if (timed_out) {
    return {false, "plugin " + plugin_path + " did not finish loading within " +
                       fmt::format("{:g}", seconds) +
                       " s in a probe process (hung in init?); not loaded. If its device is "
                       "just slow to start, raise RTSCOPE_PLUGIN_PROBE_TIMEOUT (seconds)"};
  }
  if (WIFSIGNALED(status)) {
    return {false, "plugin " + plugin_path + " crashed while loading in a probe process (" +
                       signal_text(WTERMSIG(status)) + "); not loaded"};
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
    log().debug("probe of {} refused it: {}", plugin_path, last_line(output));
  }
  return {true, ""};
}

}  // namespace

std::chrono::milliseconds probe_time_limit() {
  if (const char* text = std::getenv("RTSCOPE_PLUGIN_PROBE_TIMEOUT")) {
    char* end = nullptr;
    const double seconds = std::strtod(text, &end);
    if (end != text && *end == '\0' && seconds > 0) {
      return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
    }
    log().warn("RTSCOPE_PLUGIN_PROBE_TIMEOUT='{}' is not a positive number of seconds; using 20",
               text);
  }
  return std::chrono::seconds(20);
}

fs::path probe_cache_file() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return fs::path(xdg) / "rtscope" / "plugin-probe.json";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return fs::path(home) / ".cache" / "rtscope" / "plugin-probe.json";
  }
  return {};
}

ProbeVerdict probe_plugin(const fs::path& plugin, const fs::path& probe, const fs::path& cache_file,
                          std::chrono::milliseconds limit) {
  const std::optional<FileIdentity> id = identity_of(plugin);
  nlohmann::json cache = nlohmann::json::object();
  if (id && !cache_file.empty()) {
    cache = read_cache(cache_file);
    if (auto verdict = cached_verdict(cache, *id)) {
      log().debug("plugin {}: probe verdict from cache {}", plugin.string(), cache_file.string());
      return *verdict;
    }
  }
  std::error_code error;
  if (probe.empty() || !fs::exists(probe, error)) {
    log().warn(
        "no plugin probe at '{}'; loading {} without isolation (a crash in its init "
        "would stop this process)",
        probe.string(), plugin.string());
    return {true, ""};
  }
  log().debug("probing plugin {} with {}", plugin.string(), probe.string());
  const ProbeVerdict verdict = run_probe(plugin, probe, limit);
  if (id && !cache_file.empty()) write_cache(cache_file, std::move(cache), *id, verdict);
  return verdict;
}

}  // namespace rtscope
