// Workloads: what one measured iteration of a run does to a model.
//
//  - stream: autoregressive decoding. A stream resets the model's state,
//    prefills `prompt` seeded random tokens (not timed), then runs `tokens`
//    decode steps of one token each, feeding back the last column of
//    `next_token`. One iteration is one decode step, so latency is per
//    generated token; when a stream has run all its steps the next
//    iteration starts a new stream. Needs the decoder contract: inputs
//    `tokens` (i64 [batch, seq]) and `pos` (i64 [1] or [batch]), output
//    `next_token`. A model with batch rows decodes that many independent
//    streams per step (`batch`, default the model's), each with its own
//    seeded prompt (seed + row) and, with pos [batch], its own position;
//    throughput counts one token per stream and step.
//  - batch: one Model::run on `batch` seeded random rows per iteration (the
//    same inputs every time). State buffers, if any, are reset before each
//    run, outside the timed part.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "rtscope/model.hpp"
#include "run_config.hpp"

namespace rtscope::runner {

class Workload {
 public:
  virtual ~Workload() = default;

  // Runs one iteration; returns the time of its measured part.
  virtual std::chrono::nanoseconds run_iteration() = 0;

  // Items one iteration produces, for throughput: generated tokens (stream,
  // one per batch row) or input rows (batch).
  virtual int64_t items_per_iteration() const = 0;
  virtual std::string item_unit() const = 0;  // "tokens" or "samples"
  virtual std::string describe() const = 0;   // e.g. "stream prompt 16, tokens 64"
  // The tokens the last iteration generated, one per stream (stream); empty
  // for a batch workload.
  virtual std::span<const int64_t> last_tokens() const { return {}; }

  // Duration of the first Model::run this workload made (it includes
  // execution-context creation); empty before the first iteration.
  std::optional<std::chrono::nanoseconds> first_run() const { return first_run_; }
  // When the first Model::run returned (the prompt's tokens, for a stream).
  std::optional<std::chrono::steady_clock::time_point> first_run_end() const {
    return first_run_end_;
  }

  // Calls `begin` and `end` around work an iteration does outside its
  // measured part (a stream's prefill of a new prompt), so that the caller
  // can leave it out of what it counts per iteration. Empty functions: no
  // calls.
  void observe_untimed_work(std::function<void()> begin, std::function<void()> end) {
    untimed_begin_ = std::move(begin);
    untimed_end_ = std::move(end);
  }

 protected:
  // Model::run_into (inputs and outputs by position), timed; records the
  // first call's time.
  void timed_run(Model& model, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                 std::chrono::nanoseconds& elapsed);
  void begin_untimed() const {
    if (untimed_begin_) untimed_begin_();
  }
  void end_untimed() const {
    if (untimed_end_) untimed_end_();
  }

 private:
  std::optional<std::chrono::nanoseconds> first_run_;
  std::optional<std::chrono::steady_clock::time_point> first_run_end_;
  std::function<void()> untimed_begin_;
  std::function<void()> untimed_end_;
};

// Checks that `model` fits the workload (throws InputError naming the
// mismatch) and prepares its inputs. A stream with a `prefill` model runs
// its prompts on `prefill`, which must share `model`'s state buffers.
std::unique_ptr<Workload> make_workload(const WorkloadConfig& config, Model& model,
                                        Model* prefill = nullptr);

}  // namespace rtscope::runner
