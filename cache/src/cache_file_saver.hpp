// The save protocol of a cache file shared by threads and processes.
//
// A saver takes the in-process mutex of the path, then tries the OS lock.
//
// Holding the lock it is the writer: it reads the file on disk and every
// hand-over file present, merges them with its own entries (union; per key
// the newer write), evicts least recently used entries over the size cap,
// writes a new version atomically (temp file, fsync, rename, fsync of the
// directory) and only then removes the hand-over files it merged.
//
// Finding the lock held, it does not queue behind the holder for a whole
// rewrite of the file: it writes the entries the file may lack into a
// hand-over file and waits until either the hand-over file is gone (a writer
// merged it into a durable new version: done) or the lock is free (it becomes
// the writer itself). So one rewrite of the file carries the updates of every
// saver that arrived meanwhile, and a save waits for at most about two
// rewrites however many processes save at once. A writer that dies leaves its
// hand-over files to the next one, so nothing handed over is lost.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "cache_file_format.hpp"

namespace rtscope::cache_file {

struct SaveInput {
  const cache_format::EntryMap* all = nullptr;      // every entry of the saving cache
  const cache_format::EntryMap* changed = nullptr;  // those the file may lack
  uint64_t max_bytes = 0;
  std::chrono::milliseconds lock_timeout{0};
  std::function<void(SavePhase)> on_phase;
};

struct SaveResult {
  bool wrote_file = false;                // this saver was the writer
  cache_format::EntryMap merged;          // writer: the entries written
  cache_format::EntryMap evicted;         // writer: the entries the size cap dropped
  cache_format::EntryMap handed_over;     // waiter: the entries a writer carried into the file
  uint64_t bytes = 0;                     // bytes this saver wrote (file or hand-over)
  uint64_t rejected = 0;                  // invalid entries met in the file or hand-overs
  std::chrono::nanoseconds lock_wait{0};  // until written or handed over
  std::vector<std::string> warnings;
};

// Saves `input` into the file at `canonical_path`. Fills `result` as it goes,
// so lock_wait and warnings are there even when it throws rtscope::Error (I/O
// error, lock timeout, or anything at the path a save must not replace: see
// cache_path_guard.hpp). Work and memory are linear in the file, which is
// read at most up to input.max_bytes.
void save_cache_file(const std::filesystem::path& canonical_path, const SaveInput& input,
                     SaveResult& result);

}  // namespace rtscope::cache_file
