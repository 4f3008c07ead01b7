// Helpers for the runtime cache tests: forked children, warning capture and
// a hand-written encoder of the cache file format (independent of the
// library's, so the tests check the documented layout, not the code).
#pragma once

#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "rtscope/runtime_cache.hpp"

namespace rtscope::testing {

// Runs `body` in a forked child and returns its exit code, or 128 + the
// signal that killed it. The child never returns into the test framework.
inline int run_in_child(const std::function<int()>& body) {
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    int rc = 100;
    try {
      rc = body();
    } catch (...) {
      rc = 101;
    }
    _exit(rc);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Collects warnings; safe to share between threads.
class Warnings {
 public:
  std::function<void(const std::string&)> sink() {
    return [state = state_](const std::string& message) {
      std::lock_guard lock(state->mutex);
      state->messages.push_back(message);
    };
  }
  std::vector<std::string> messages() const {
    std::lock_guard lock(state_->mutex);
    return state_->messages;
  }
  std::size_t count() const { return messages().size(); }
  bool any_contains(const std::string& text) const {
    for (const auto& m : messages()) {
      if (m.find(text) != std::string::npos) return true;
    }
    return false;
  }

 private:
  struct State {
    std::mutex mutex;
    std::vector<std::string> messages;
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

inline RuntimeCache::Options options_with(Warnings& warnings) {
  RuntimeCache::Options options;
  options.warn = warnings.sink();
  return options;
}

inline std::string join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + '\n';
  return out;
}

inline std::vector<uint8_t> bytes_of(const std::string& text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

inline void put(RuntimeCache& cache, const CacheKey& key, const std::vector<uint8_t>& value) {
  cache.put(key, value.data(), value.size());
}

// Writes a cache file at `path` holding only `key` -> `value`.
inline void save_one_entry(const std::filesystem::path& path, const CacheKey& key,
                           const std::vector<uint8_t>& value) {
  RuntimeCache seed;
  put(seed, key, value);
  seed.save(path);
}

// What a fresh cache that loaded the file at `path` serves for `key`.
inline std::optional<std::vector<uint8_t>> read_back(const std::filesystem::path& path,
                                                     const CacheKey& key) {
  RuntimeCache reader;
  reader.load(path);
  return reader.get(key);
}

inline std::vector<uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

inline void write_file(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
}

// Temp files a save leaves next to `path` (none once a save completes).
inline int count_temp_files(const std::filesystem::path& path) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(path.parent_path())) {
    if (entry.path().filename().string().starts_with(path.filename().string() + ".tmp.")) ++count;
  }
  return count;
}

// The documented file layout, written by hand.
namespace raw {

inline void le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

inline std::vector<uint8_t> header(uint32_t version = 1, const char* magic = "RTSCACHE") {
  std::vector<uint8_t> out(magic, magic + 8);
  le(out, version, 4);
  le(out, 0, 4);
  return out;
}

inline std::vector<uint8_t> entry(const std::string& plugin, const std::string& fingerprint,
                                  const std::string& key, const std::vector<uint8_t>& payload,
                                  uint64_t written_ns = 1000, uint64_t last_used_ns = 1000) {
  std::vector<uint8_t> out = {'R', 'T', 'S', 'E'};
  le(out, plugin.size(), 2);
  le(out, fingerprint.size(), 2);
  le(out, key.size(), 4);
  le(out, 0, 4);
  le(out, payload.size(), 8);
  le(out, written_ns, 8);
  le(out, last_used_ns, 8);
  le(out, XXH64(payload.data(), payload.size(), 0), 8);
  const std::string strings = plugin + fingerprint + key;
  le(out, XXH64(strings.data(), strings.size(), XXH64(out.data(), 48, 0)), 8);
  out.insert(out.end(), strings.begin(), strings.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

inline std::vector<uint8_t> trailer(uint64_t count) {
  std::vector<uint8_t> out = {'R', 'T', 'S', 'C', 'E', 'N', 'D', '!'};
  le(out, count, 8);
  le(out, XXH64(out.data(), 16, 0), 8);
  return out;
}

inline std::vector<uint8_t> file(const std::vector<std::vector<uint8_t>>& entries) {
  std::vector<uint8_t> out = header();
  for (const auto& e : entries) out.insert(out.end(), e.begin(), e.end());
  const auto t = trailer(entries.size());
  out.insert(out.end(), t.begin(), t.end());
  return out;
}

}  // namespace raw
}  // namespace rtscope::testing
