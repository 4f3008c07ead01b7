#include "rtscope/kit/step_profile.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <utility>

namespace rtscope::kit {

bool StepProfile::requested(const char* variable) {
  const char* value = std::getenv(variable);
  return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
}

uint32_t StepProfile::group(const std::string& label) {
  const auto [it, inserted] = group_ids_.try_emplace(label, static_cast<uint32_t>(groups_.size()));
  if (inserted) {
    Group added;
    added.label = label;
    groups_.push_back(std::move(added));
  }
  return it->second;
}

uint32_t StepProfile::row(uint32_t group, const std::string& label) {
  const auto [it, inserted] =
      row_ids_.try_emplace({group, label}, static_cast<uint32_t>(rows_.size()));
  if (inserted) {
    Row added;
    added.group = group;
    added.label = label;
    rows_.push_back(std::move(added));
  }
  return it->second;
}

double StepProfile::Samples::median_us() const {
  if (values.empty()) return 0.0;
  std::vector<uint32_t> sorted = values;
  const auto middle = sorted.begin() + static_cast<std::ptrdiff_t>(sorted.size() / 2);
  std::nth_element(sorted.begin(), middle, sorted.end());
  return static_cast<double>(*middle) / 1e3;
}

std::string StepProfile::table(size_t max_rows) const {
  std::vector<uint32_t> group_order;
  for (uint32_t g = 0; g < groups_.size(); ++g) {
    if (groups_[g].executes > 0) group_order.push_back(g);
  }
  if (group_order.empty()) return {};
  std::stable_sort(group_order.begin(), group_order.end(), [this](uint32_t a, uint32_t b) {
    return groups_[a].executes > groups_[b].executes;
  });
  std::string text;
  char line[512];
  for (const uint32_t g : group_order) {
    const Group& group = groups_[g];
    const auto executes = static_cast<double>(group.executes);
    struct Line {
      const Row* row;
      double median_us;
      double per_execute_us;  // median_us weighted by runs per execute
    };
    std::vector<Line> rows;
    double rows_median_us = 0;
    uint64_t rows_ns = 0;
    for (const Row& row : rows_) {
      if (row.group != g || row.runs == 0) continue;
      // A row that ran in some executes only (a generic kernel before
      // tuning finished) counts for its share of them.
      const double median_us = row.samples.median_us();
      rows.push_back({&row, median_us, median_us * static_cast<double>(row.runs) / executes});
      rows_median_us += rows.back().per_execute_us;
      rows_ns += row.ns;
    }
    std::stable_sort(rows.begin(), rows.end(), [](const Line& a, const Line& b) {
      return a.per_execute_us > b.per_execute_us;
    });
    const double execute_median_us = group.samples.median_us();
    const double execute_mean_us = static_cast<double>(group.ns) / 1e3 / executes;
    std::snprintf(line, sizeof(line),
                  "\n%s: %llu executes; median %.1f us per execute, %.1f us the sum of node "
                  "medians (%zu rows), %.1f us outside them; mean %.1f us, %.1f us in rows"
                  "\n  median us  mean us  share  runs/execute  node [kernel] output",
                  group.label.c_str(), static_cast<unsigned long long>(group.executes),
                  execute_median_us, rows_median_us, rows.size(),
                  execute_median_us - rows_median_us, execute_mean_us,
                  static_cast<double>(rows_ns) / 1e3 / executes);
    text += line;
    for (size_t i = 0; i < rows.size() && i < max_rows; ++i) {
      const Row& row = *rows[i].row;
      std::snprintf(line, sizeof(line), "\n  %9.2f  %7.2f  %4.1f%%  %12.1f  %s", rows[i].median_us,
                    static_cast<double>(row.ns) / 1e3 / static_cast<double>(row.runs),
                    rows_median_us > 0 ? 100.0 * rows[i].per_execute_us / rows_median_us : 0.0,
                    static_cast<double>(row.runs) / executes, row.label.c_str());
      text += line;
    }
    if (rows.size() > max_rows) {
      std::snprintf(line, sizeof(line), "\n  (%zu more rows)", rows.size() - max_rows);
      text += line;
    }
  }
  return text;
}

}  // namespace rtscope::kit
