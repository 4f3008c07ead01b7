// Runs a segmented engine (segments.hpp) for one context: one context per
// segment, executed in order, with the tensors crossing a segment boundary
// kept in host buffers this object reuses between executes.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kit_names.hpp"
#include "rtscope/plugin_abi.h"

namespace rtscope::vulkan {

class Context;
class Engine;

class SegmentedRun {
 public:
  // Creates the context of every segment with `settings` (may be NULL).
  SegmentedRun(const Engine& engine, const rts_runtime_settings* settings);
  ~SegmentedRun();
  SegmentedRun(const SegmentedRun&) = delete;
  SegmentedRun& operator=(const SegmentedRun&) = delete;

  // Externally synchronized; throws Error.
  void execute(const rts_execute_args& args);

  // The segments' counters summed, plus `segments`, `data_dependent_syncs`
  // and `output_allocations`. Thread-safe with respect to execute.
  void report_counters(const rts_counter_sink& sink) const;

 private:
  // A tensor on the host: an engine input, a constant, or a segment output.
  struct HostTensor {
    rts_dtype dtype = RTS_DTYPE_F32;
    Dims dims;
    void* data = nullptr;
    uint64_t size_bytes = 0;
    // Engine inputs may live on a device; everything else is host memory.
    rts_residency residency = RTS_RESIDENCY_HOST;
    uint32_t device = 0;
  };

  void run_segment(size_t index);
  const HostTensor& find(const std::string& name) const;

  const Engine& engine_;
  std::vector<std::unique_ptr<Context>> contexts_;
  std::map<std::string, HostTensor> tensors_;              // for the current execute
  std::map<std::string, std::vector<std::byte>> buffers_;  // segment outputs' storage

  std::atomic<uint64_t> executes_{0};
  std::atomic<uint64_t> syncs_{0};
  std::atomic<uint64_t> output_allocations_{0};
};

}  // namespace rtscope::vulkan
