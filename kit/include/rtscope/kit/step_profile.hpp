// Host time per node, for finding where an execute's time goes (the cpu
// plugin's RTSCOPE_CPU_PROFILE=1). Rows are interned when a plan or a capture is
// built (a label per node or fused group: its name, the kernel that runs
// it, its output shape), so an execute adds into a vector by index and
// does no lookup. Executes are grouped by their input shapes (a prefill
// and a decode step profile apart), and each group also sums whole
// executes: the difference to its rows is per-execute overhead outside
// the kernels (binding, copies, dispatch). Means on a shared machine are
// dominated by the executes another process preempted, so each row and
// group also keeps its latest samples and reports their median. Logged,
// largest median first, when the context is destroyed.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace rtscope::kit {

class StepProfile {
 public:
  // Whether the environment variable `variable` (a backend's switch, e.g.
  // RTSCOPE_CPU_PROFILE) is set to a value other than "0".
  static bool requested(const char* variable);

  static uint64_t now_ns() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
  }

  // The id of a group of executes (e.g. "inputs [1,1] [1]"), created on
  // first use.
  uint32_t group(const std::string& label);
  // The id of a row of `group`, created on first use.
  uint32_t row(uint32_t group, const std::string& label);

  void add_row(uint32_t row, uint64_t ns) {
    Row& r = rows_[row];
    r.ns += ns;
    r.samples.add(ns);
    ++r.runs;
  }
  void add_execute(uint32_t group, uint64_t ns) {
    Group& g = groups_[group];
    g.ns += ns;
    g.samples.add(ns);
    ++g.executes;
  }

  // One table per group, most executes first; rows largest first, at most
  // `rows` per group. Empty before the first execute.
  std::string table(size_t rows) const;

 private:
  // The latest kCapacity values, overwritten in a ring.
  struct Samples {
    static constexpr size_t kCapacity = 4096;
    std::vector<uint32_t> values;
    size_t next = 0;
    void add(uint64_t ns) {
      const auto value = static_cast<uint32_t>(ns < UINT32_MAX ? ns : UINT32_MAX);
      if (values.size() < kCapacity) {
        values.push_back(value);
      } else {
        values[next] = value;
        next = (next + 1) % kCapacity;
      }
    }
    double median_us() const;
  };
  struct Row {
    uint32_t group = 0;
    std::string label;
    uint64_t ns = 0;
    uint64_t runs = 0;
    Samples samples;
  };
  struct Group {
    std::string label;
    uint64_t ns = 0;
    uint64_t executes = 0;
    Samples samples;
  };
  std::vector<Group> groups_;
  std::vector<Row> rows_;
  std::map<std::string, uint32_t> group_ids_;
  std::map<std::pair<uint32_t, std::string>, uint32_t> row_ids_;
};

}  // namespace rtscope::kit
