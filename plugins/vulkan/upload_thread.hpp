// The constants' upload run on a thread of its own. An engine build then
// returns once the constants are allocated, and what the host does next —
// creating the context's pipelines from the runtime cache, building the
// first plan, creating its shape-specialized pipelines and recording it —
// overlaps the writing of the weights; only the first submit of each
// context waits for the upload (Engine::wait_for_constants). The runtime
// cache reaches the plugin with the context's settings, not at the build,
// so this is how pipeline creation overlaps the upload without reading the
// cache any earlier.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "rtscope/plugin_abi.h"
#include "upload.hpp"

namespace rtscope::vulkan {

//
// A background upload that fails is run once more, in line, by the first
// wait (the upload rewrites every target from the start, so a retry is
// safe): overlapped with the context's start-up it can meet conditions
// the build alone would not (memory taken by the first plan while its
// staging ring was allocated, say). Only a failure of that retry is an
// error, and every later wait reports it again.
class UploadThread {
 public:
  using Work = std::function<UploadStats()>;
  // Called with the background failure's message before the retry.
  using RetryNotice = std::function<void(const std::string&)>;
  // Starts `work` on a new thread. Throws std::system_error when no thread
  // can be started; the caller then uploads in line.
  UploadThread(Work work, RetryNotice on_retry);
  // Joins: the work reads the engine's constants and writes into its
  // allocations, which must outlive it.
  ~UploadThread();
  UploadThread(const UploadThread&) = delete;
  UploadThread& operator=(const UploadThread&) = delete;

  // Blocks until the work has finished (retrying it in line once when it
  // failed in the background) and returns how long this call waited,
  // retry included (0 once finished). A work that failed twice is thrown
  // as an Error with the retry's status and message, on every call.
  // Thread-safe: concurrent waiters block until the retry is done.
  uint64_t wait();
  // The work's stats once it has finished successfully, else nullopt.
  // Thread-safe; never blocks on the work.
  std::optional<UploadStats> stats() const;
  // True once a background failure was retried in line.
  bool retried() const;

 private:
  // Runs `work_`, storing its stats or its failure.
  struct Outcome {
    UploadStats stats;
    std::optional<rts_status> failure;
    std::string message;
  };
  Outcome attempt() const;

  Work work_;
  RetryNotice on_retry_;
  mutable std::mutex mutex_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
  bool retried_ = false;
  // A failure is kept as status and text so that every waiter throws an
  // exception of its own.
  Outcome outcome_;
  std::thread thread_;  // last: started once the state above exists
};

}  // namespace rtscope::vulkan
