#include "cache_file_saver.hpp"

#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <thread>

#include "atomic_file_writer.hpp"
#include "file_lock.hpp"
#include "rtscope/error.hpp"

namespace rtscope::cache_file {
namespace {

using Clock = std::chrono::steady_clock;
using cache_format::Decoded;
using cache_format::EntryMap;

// Reads the file and the hand-overs, merges them with the saver's entries and
// writes the new version. The caller holds the lock. `old_version` receives
// the descriptor of the version being replaced: the caller closes it after
// releasing the lock, so that freeing its blocks does not hold up others.
void write_new_version(const std::filesystem::path& path, const SaveInput& input,
                       const std::filesystem::path& own_handover, FileHandle& old_version,
                       SaveResult& result) {
  if (input.on_phase) input.on_phase(SavePhase::after_lock);
  remove_stale_temp_files(path);
  std::vector<uint8_t> bytes;
  EntryMap found;
  if (FileHandle file = open_for_reading(path)) {
    const uint64_t size = file_size(file);
    // Fast path for an intact file: the payloads this saver holds are not
    // read at all.
    std::optional<Decoded> intact = cache_format::decode_by_reads(
        size,
        [&file](uint64_t offset, void* out, std::size_t n) {
          return read_at(file, offset, out, n);
        },
        input.all);
    Decoded disk;
    if (intact) {
      disk = std::move(*intact);
    } else {
      read_all(file, path, bytes);
      disk = cache_format::decode(bytes, input.all);
    }
    old_version = std::move(file);
    if (!disk.magic_ok && size >= 8) {
      throw Error("the file is not an rtscope cache file; not overwriting it");
    }
    if (disk.magic_ok && size >= 12 && disk.version != cache_format::kFormatVersion) {
      // Another build's format: replacing it would destroy that build's cache.
      throw Error(disk.problems.front() +
                  "; not overwriting it (run `rtscope-cache clear` to start over)");
    }
    if (!disk.header_ok) {
      result.warnings.push_back("replacing runtime cache '" + path.string() +
                                "' with a bad header: " + disk.problems.front());
      result.rejected += 1;
    } else if (disk.rejected > 0) {
      result.warnings.push_back("runtime cache '" + path.string() + "': dropped " +
                                std::to_string(disk.rejected) + " invalid entries (" +
                                disk.problems.front() + ")");
      result.rejected += disk.rejected;
    }
    found = std::move(disk.entries);
  }

  std::vector<std::filesystem::path> merged_handovers;
  for (const auto& handover : list_handovers(path)) {
    merged_handovers.push_back(handover);
    if (handover == own_handover) continue;           // those entries are in input.all
    if (!read_whole_file(handover, bytes)) continue;  // withdrawn by a saver that gave up
    Decoded decoded = cache_format::decode(bytes, input.all);
    if (!decoded.header_ok || decoded.rejected > 0) {
      result.warnings.push_back("hand-over file '" + handover.string() + "': skipped " +
                                (decoded.header_ok ? std::to_string(decoded.rejected) : "all") +
                                " invalid entries (" + decoded.problems.front() + ")");
      result.rejected += decoded.header_ok ? decoded.rejected : 1;
    }
    cache_format::merge_into(found, decoded.entries);
  }

  result.merged = *input.all;
  cache_format::merge_into(result.merged, found);
  result.evicted = cache_format::evict_to_fit(result.merged, input.max_bytes);
  const cache_format::Image image = cache_format::encode_image(result.merged);
  replace_file_atomically(path, image.pieces, input.on_phase);
  result.wrote_file = true;
  result.bytes = image.size;
  // Only now, with the new version durable, may their writers count them saved.
  for (const auto& handover : merged_handovers) {
    std::error_code ignored;
    std::filesystem::remove(handover, ignored);
  }
}

bool gone(const std::filesystem::path& path) {
  return access(path.c_str(), F_OK) != 0 && errno == ENOENT;
}

}  // namespace

void save_cache_file(const std::filesystem::path& path, const SaveInput& input,
                     SaveResult& result) {
  const auto start = Clock::now();
  const auto deadline = start + input.lock_timeout;
  auto waited = [&] { result.lock_wait = Clock::now() - start; };
  auto timed_out = [&] {
    waited();
    return Error("timed out after " + std::to_string(input.lock_timeout.count()) +
                 " ms waiting for the lock on '" + path.string() + ".lock' held by another writer");
  };

  // Declared first so that it is closed last, after the locks are released.
  FileHandle old_version;
  std::unique_lock thread_lock(path_mutex(path), std::defer_lock);
  if (!thread_lock.try_lock_until(deadline)) throw timed_out();
  FileLock lock(path);
  if (lock.try_lock()) {
    waited();
    write_new_version(path, input, {}, old_version, result);
    return;
  }

  // Another process is writing. Hand over what the file may lack.
  if (input.changed->empty()) {
    waited();  // nothing the next version could add from here
    return;
  }
  std::filesystem::path handover;
  try {
    const cache_format::Image image = cache_format::encode_image(*input.changed);
    handover = publish_handover(path, image.pieces);
    result.bytes = image.size;
  } catch (const Error& e) {
    result.warnings.push_back(std::string(e.what()) + "; waiting for the lock instead");
  }

  auto pause = std::chrono::microseconds(20);
  for (;;) {
    if (!handover.empty() && gone(handover)) {
      waited();  // a writer merged it into a durable new version
      return;
    }
    if (lock.try_lock()) {
      waited();
      if (!handover.empty() && gone(handover)) return;
      try {
        write_new_version(path, input, handover, old_version, result);
      } catch (...) {
        // Withdraw it, so that a failed save does not normally take effect
        // through a later writer.
        if (!handover.empty()) unlink(handover.c_str());
        throw;
      }
      return;
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      // Withdrawing it settles the race with a writer that is merging it: if
      // it is already gone, that writer removed it after its version became
      // durable.
      if (!handover.empty() && unlink(handover.c_str()) != 0 && errno == ENOENT) {
        waited();
        return;
      }
      throw timed_out();
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

}  // namespace rtscope::cache_file
