// rtscope-cache: inspect, verify, clear and merge runtime cache files, and
// seed, fetch and inspect a remote tier.
//
//   rtscope-cache info FILE          entries per plugin and fingerprint, sizes, format version
//   rtscope-cache info redis://HOST:PORT/NS   the same for a remote tier
//   rtscope-cache verify FILE        exit 1 and list the problems if any entry is invalid
//   rtscope-cache clear FILE         replace FILE with an empty cache
//   rtscope-cache merge A B -o C     write the union of A and B to C (newer write wins)
//   rtscope-cache push FILE redis://HOST:PORT/NS   store FILE's entries there (SET NX)
//   rtscope-cache pull redis://HOST:PORT/NS FILE   merge the remote entries into FILE
//
// Exit status: 0 success, 1 invalid cache content, 2 usage, I/O or server error.
// Writes go through the same lock and atomic replace as RuntimeCache::save, so
// the tool is safe to run while programs use the file.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <limits>
#include <map>
#include <string>
#include <thread>
#include <utility>

#include "atomic_file_writer.hpp"
#include "cache_file_format.hpp"
#include "cache_path_guard.hpp"
#include "file_lock.hpp"
#include "remote_commands.hpp"
#include "rtscope/error.hpp"
#include "rtscope/runtime_cache.hpp"

namespace {

namespace cfmt = rtscope::cache_format;
namespace io = rtscope::cache_file;

constexpr std::chrono::milliseconds kLockTimeout{10000};

// Files are read at most up to this (--max-bytes; the library's default
// cap), so an endless or huge file is refused rather than read.
uint64_t max_bytes = rtscope::RuntimeCache::Options{}.max_bytes;

// Reads and decodes `path` (never through a link, never a device or FIFO);
// a missing file is an error here.
cfmt::Decoded read_cache(const std::string& path) {
  const io::OpenedFile opened = io::open_regular(path, "cache file", max_bytes);
  if (!opened) throw rtscope::Error("'" + path + "' does not exist");
  std::vector<uint8_t> bytes;
  io::read_bounded(opened, path, max_bytes, bytes);
  return cfmt::decode(bytes);
}

void print_problems(const std::string& path, const cfmt::Decoded& decoded) {
  for (const auto& problem : decoded.problems) std::cerr << path << ": " << problem << '\n';
}

// Replaces `path` with `entries` under the file's lock, as a save does but
// without merging. `drop_handovers` also discards entries other processes are
// waiting to hand over (for clear). Like a save it never replaces a link, a
// device or FIFO, nor (unless `force`) a file that is not an rtscope cache.
void write_cache(const std::string& path, const cfmt::EntryMap& entries, bool drop_handovers,
                 bool force) {
  const auto canonical = io::canonical_cache_path(path);
  io::check_cache_folder(canonical.parent_path());
  {
    const io::OpenedFile opened =
        io::open_regular(canonical, "cache file", std::numeric_limits<uint64_t>::max());
    if (opened && !force) io::check_replaceable(opened, canonical);
  }
  std::unique_lock thread_lock(io::path_mutex(canonical));
  io::FileLock lock(canonical);
  const auto deadline = std::chrono::steady_clock::now() + kLockTimeout;
  while (!lock.try_lock()) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw rtscope::Error("timed out waiting for the lock on '" + lock.lock_path() + "'");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  io::remove_stale_temp_files(canonical);
  const cfmt::Image image = cfmt::encode_image(entries);
  io::replace_file_atomically(canonical, image.pieces, nullptr);
  if (drop_handovers) {
    for (const auto& handover : io::list_handovers(canonical)) {
      std::error_code ignored;
      std::filesystem::remove(handover, ignored);
    }
  }
}

int info(const std::string& path) {
  const cfmt::Decoded decoded = read_cache(path);
  if (!decoded.header_ok) {
    print_problems(path, decoded);
    return 1;
  }
  struct Group {
    uint64_t entries = 0;
    uint64_t bytes = 0;
  };
  std::map<std::pair<std::string, std::string>, Group> groups;
  uint64_t payload = 0;
  for (const auto& [key, entry] : decoded.entries) {
    Group& g = groups[{key.plugin_id, key.device_fingerprint}];
    ++g.entries;
    g.bytes += entry.payload->size();
    payload += entry.payload->size();
  }
  std::cout << "file: " << path << '\n'
            << "format version: " << decoded.version << '\n'
            << "file bytes: " << std::filesystem::file_size(path) << '\n'
            << "entries: " << decoded.entries.size() << '\n'
            << "payload bytes: " << payload << '\n'
            << "invalid entries: " << decoded.rejected << '\n';
  for (const auto& [id, g] : groups) {
    std::cout << "  plugin '" << id.first << "' fingerprint '" << id.second << "': " << g.entries
              << " entries, " << g.bytes << " bytes\n";
  }
  if (decoded.rejected > 0) print_problems(path, decoded);
  return 0;
}

int verify(const std::string& path) {
  const cfmt::Decoded decoded = read_cache(path);
  if (!decoded.header_ok || decoded.rejected > 0) {
    print_problems(path, decoded);
    std::cout << path << ": INVALID: "
              << (decoded.header_ok ? std::to_string(decoded.rejected) + " invalid entries"
                                    : std::string("bad header"))
              << ", " << decoded.entries.size() << " valid entries\n";
    return 1;
  }
  std::cout << path << ": OK: " << decoded.entries.size() << " entries\n";
  return 0;
}

int clear(const std::string& path, bool force) {
  try {
    write_cache(path, {}, /*drop_handovers=*/true, force);
  } catch (const rtscope::Error& e) {
    // --force overrides only the content check, never a link, device or FIFO.
    const bool content = std::string(e.what()).find("not an rtscope cache") != std::string::npos;
    std::cerr << "rtscope-cache: " << e.what()
              << (content && !force ? "; use --force to replace it" : "") << '\n';
    return 2;
  }
  std::cout << "cleared " << path << '\n';
  return 0;
}

int merge(const std::string& a, const std::string& b, const std::string& out) {
  cfmt::EntryMap merged;
  for (const std::string& path : {a, b}) {
    const cfmt::Decoded decoded = read_cache(path);
    if (!decoded.header_ok || decoded.rejected > 0) {
      print_problems(path, decoded);
      std::cerr << path << ": skipping " << (decoded.header_ok ? decoded.rejected : 1)
                << (decoded.header_ok ? " invalid entries\n" : " file with a bad header\n");
    }
    cfmt::merge_into(merged, decoded.entries);
  }
  write_cache(out, merged, /*drop_handovers=*/false, /*force=*/false);
  std::cout << "wrote " << merged.size() << " entries to " << out << '\n';
  return 0;
}

bool is_remote(const std::string& target) { return target.starts_with("redis"); }

int push(const std::string& path, const std::string& url) {
  const cfmt::Decoded decoded = read_cache(path);
  if (!decoded.header_ok) {
    print_problems(path, decoded);
    return 1;
  }
  if (decoded.rejected > 0) {
    print_problems(path, decoded);
    std::cerr << path << ": skipping " << decoded.rejected << " invalid entries\n";
  }
  return rtscope::cache_tool::remote_push(decoded, path, url, max_bytes);
}

int pull(const std::string& url, const std::string& path) {
  return rtscope::cache_tool::remote_pull(
      url, path, max_bytes, [&](const cfmt::EntryMap& pulled) -> uint64_t {
        cfmt::EntryMap merged;
        if (std::filesystem::exists(std::filesystem::symlink_status(path))) {
          const cfmt::Decoded decoded = read_cache(path);
          if (!decoded.header_ok) {
            throw rtscope::Error("'" + path + "' is not an rtscope cache of this format version");
          }
          merged = decoded.entries;
        }
        cfmt::merge_into(merged, pulled);
        write_cache(path, merged, /*drop_handovers=*/false, /*force=*/false);
        return merged.size();
      });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Inspect, verify, clear and merge rtscope runtime cache files"};
  app.require_subcommand(1);
  std::string file, a, b, out;
  bool force = false;
  app.add_option("--max-bytes", max_bytes,
                 "Size cap: files over 4 times it are not read (default: the library's cap)");

  auto* info_cmd = app.add_subcommand(
      "info", "Entries per plugin and fingerprint, sizes, version (of a file or a remote tier)");
  info_cmd->add_option("FILE", file, "Cache file or redis://HOST:PORT/NAMESPACE")->required();
  auto* verify_cmd = app.add_subcommand("verify", "Exit 1 and report if any entry is invalid");
  verify_cmd->add_option("FILE", file, "Cache file")->required();
  auto* clear_cmd = app.add_subcommand("clear", "Replace the file with an empty cache");
  clear_cmd->add_option("FILE", file, "Cache file")->required();
  clear_cmd->add_flag("--force", force, "Replace a file that is not an rtscope cache too");
  auto* merge_cmd = app.add_subcommand("merge", "Write the union of A and B to OUT");
  merge_cmd->add_option("A", a, "First cache file")->required();
  merge_cmd->add_option("B", b, "Second cache file")->required();
  merge_cmd->add_option("-o,--output", out, "Output cache file")->required();
  std::string url;
  auto* push_cmd = app.add_subcommand("push", "Store FILE's entries in a remote tier (SET NX)");
  push_cmd->add_option("FILE", file, "Cache file")->required();
  push_cmd->add_option("URL", url, "redis://HOST[:PORT]/NAMESPACE[?timeout_ms=N]")->required();
  auto* pull_cmd = app.add_subcommand("pull", "Merge a remote tier's entries into FILE");
  pull_cmd->add_option("URL", url, "redis://HOST[:PORT]/NAMESPACE[?timeout_ms=N]")->required();
  pull_cmd->add_option("FILE", file, "Cache file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (*info_cmd) {
      return is_remote(file) ? rtscope::cache_tool::remote_info(file, max_bytes) : info(file);
    }
    if (*push_cmd) return push(file, url);
    if (*pull_cmd) return pull(url, file);
    if (*verify_cmd) return verify(file);
    if (*clear_cmd) return clear(file, force);
    return merge(a, b, out);
  } catch (const std::exception& e) {
    std::cerr << "rtscope-cache: " << e.what() << '\n';
    return 2;
  }
}
