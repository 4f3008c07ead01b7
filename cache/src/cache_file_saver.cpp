#include "cache_file_saver.hpp"

#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <thread>

#include "atomic_file_writer.hpp"
#include "cache_path_guard.hpp"
#include "file_lock.hpp"
#include "rtscope/error.hpp"

namespace rtscope::cache_file {
namespace {

using Clock = std::chrono::steady_clock;
using cache_format::Decoded;
using cache_format::EntryMap;

// One version of the cache file: the open file (empty when there is none),
// which also keeps its inode from being reused, and its entries once read.
struct DiskVersion {
  OpenedFile opened;
  bool read = false;
  Decoded decoded;
};

// Opens what is at `path`, refusing (throwing) anything a save must not
// replace: a link, a device or FIFO, a file over the cap or not a cache.
OpenedFile open_replaceable(const std::filesystem::path& path, uint64_t max_bytes) {
  OpenedFile opened = open_regular(path, "runtime cache", max_bytes);
  if (opened) check_replaceable(opened, path);
  return opened;
}

// Reads and validates `version`: linear work, at most the cap of bytes.
void read_version(DiskVersion& version, const std::filesystem::path& path, const SaveInput& input) {
  if (version.opened) {
    std::vector<uint8_t> bytes;
    read_bounded(version.opened, path, input.max_bytes, bytes);
    version.decoded = cache_format::decode(bytes, input.all);
  }
  version.read = true;
}

// Reads the file (unless `early` already read this very version), merges it
// and the hand-overs with the saver's entries and writes the new version.
// The caller holds the lock. `old_version` receives the descriptor of the
// version being replaced: the caller closes it after releasing the lock, so
// that freeing its blocks does not hold up others.
void write_new_version(const std::filesystem::path& path, const SaveInput& input,
                       const std::filesystem::path& own_handover, DiskVersion& early,
                       FileHandle& old_version, SaveResult& result) {
  if (input.on_phase) input.on_phase(SavePhase::after_lock);
  remove_stale_temp_files(path);
  DiskVersion disk;
  disk.opened = open_replaceable(path, input.max_bytes);
  const bool unchanged = early.read && bool(disk.opened) == bool(early.opened) &&
                         (!disk.opened || same_version(disk.opened.st, early.opened.st));
  if (unchanged) {
    disk.decoded = std::move(early.decoded);
    disk.read = true;
  } else {
    read_version(disk, path, input);
  }
  EntryMap found;
  if (disk.opened) {
    if (!disk.decoded.header_ok) {
      result.warnings.push_back("replacing runtime cache '" + path.string() +
                                "' with a bad header: " + disk.decoded.problems.front());
      result.rejected += 1;
    } else if (disk.decoded.rejected > 0) {
      result.warnings.push_back("runtime cache '" + path.string() + "': dropped " +
                                std::to_string(disk.decoded.rejected) + " invalid entries (" +
                                disk.decoded.problems.front() + ")");
      result.rejected += disk.decoded.rejected;
    }
    found = std::move(disk.decoded.entries);
    old_version = std::move(disk.opened.file);
  }

  // Hand-over files merged here, removed once the new version is durable.
  // One that cannot be read safely (a planted FIFO, device or link, one over
  // the cap) is skipped with a warning and left alone: its writer, if alive,
  // saves by itself once it gets the lock.
  std::vector<std::filesystem::path> merged_handovers;
  std::vector<uint8_t> bytes;
  for (const auto& handover : list_handovers(path)) {
    if (handover == own_handover) {  // those entries are in input.all
      merged_handovers.push_back(handover);
      continue;
    }
    Decoded decoded;
    try {
      const OpenedFile opened = open_regular(handover, "hand-over file", input.max_bytes);
      if (!opened) continue;  // withdrawn by a saver that gave up
      read_bounded(opened, handover, input.max_bytes, bytes);
      decoded = cache_format::decode(bytes, input.all);
    } catch (const Error& e) {
      result.warnings.push_back(std::string("skipping ") + e.what());
      continue;
    }
    merged_handovers.push_back(handover);
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
  // Outside any lock: what is at the path must be a cache this save may
  // replace (no lock file is made beside a device or a foreign file), and
  // when no writer holds the lock its current version is read and validated
  // here, so that the time under the lock is mostly the write.
  DiskVersion early;
  early.opened = open_replaceable(path, input.max_bytes);
  // Declared before the locks so that it is closed after they are released.
  FileHandle old_version;
  FileLock lock(path);
  if (!lock.held_elsewhere()) read_version(early, path, input);

  const auto start = Clock::now();
  const auto deadline = start + input.lock_timeout;
  auto waited = [&] { result.lock_wait = Clock::now() - start; };
  auto timed_out = [&] {
    waited();
    return Error("timed out after " + std::to_string(input.lock_timeout.count()) +
                 " ms waiting for the lock on '" + path.string() + ".lock' held by another writer");
  };

  std::unique_lock thread_lock(path_mutex(path), std::defer_lock);
  if (!thread_lock.try_lock_until(deadline)) throw timed_out();
  if (lock.try_lock()) {
    waited();
    write_new_version(path, input, {}, early, old_version, result);
    return;
  }
  early = DiskVersion{};  // another writer is replacing it

  // Another process is writing. Hand over what the file may lack, within
  // the cap that every reader of hand-overs applies; what the cap leaves out
  // stays unsaved in memory for the next save.
  if (input.changed->empty()) {
    waited();  // nothing the next version could add from here
    return;
  }
  std::filesystem::path handover;
  try {
    EntryMap handed = *input.changed;
    cache_format::evict_to_fit(handed, input.max_bytes);
    const cache_format::Image image = cache_format::encode_image(handed);
    handover = publish_handover(path, image.pieces);
    result.bytes = image.size;
    result.handed_over = std::move(handed);
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
        result.handed_over.clear();  // it writes them itself
        write_new_version(path, input, handover, early, old_version, result);
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
