#include "rtscope/conformance/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace rtscope::conformance {
namespace {

std::string error_text(const CheckResult& r) {
  return r.max_error ? fmt::format("{:.3g}", *r.max_error) : "-";
}

// Messages are one line in the table, whatever the plugin reported.
std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  return text;
}

}  // namespace

void print_table(std::ostream& out, const ReportSubject& subject,
                 const std::vector<CheckResult>& results) {
  out << fmt::format("plugin {} {} ({}), ABI {}, device {}: {}\n", subject.plugin_id,
                     subject.plugin_version, subject.plugin_path, subject.abi, subject.device,
                     subject.device_name);
  std::size_t check_width = 5;
  for (const auto& r : results) check_width = std::max(check_width, r.check.size());
  const std::string row = "{:<" + std::to_string(check_width) + "}  {:<5}  {:<13}  {:<9}  {}\n";
  out << fmt::format(fmt::runtime(row), "CHECK", "DTYPE", "STATUS", "MAX ERR", "MESSAGE");
  for (const auto& r : results)
    out << fmt::format(fmt::runtime(row), r.check, r.dtype, to_string(r.status), error_text(r),
                       one_line(r.message));
  const Summary s = summarize(results);
  out << fmt::format("{} passed, {} failed, {} not supported, {} skipped (seed {}): {}\n", s.passed,
                     s.failed, s.not_supported, s.skipped, subject.seed, s.ok() ? "PASS" : "FAIL");
}

std::string to_json(const ReportSubject& subject, const std::vector<CheckResult>& results) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& r : results) {
    nlohmann::json row = {{"check", r.check},
                          {"dtype", r.dtype},
                          {"status", to_string(r.status)},
                          {"message", r.message}};
    row["max_error"] = r.max_error ? nlohmann::json(*r.max_error) : nlohmann::json(nullptr);
    checks.push_back(std::move(row));
  }
  const Summary s = summarize(results);
  nlohmann::json doc = {{"plugin",
                         {{"id", subject.plugin_id},
                          {"version", subject.plugin_version},
                          {"path", subject.plugin_path},
                          {"abi", subject.abi}}},
                        {"device", {{"index", subject.device}, {"name", subject.device_name}}},
                        {"seed", subject.seed},
                        {"checks", std::move(checks)},
                        {"summary",
                         {{"passed", s.passed},
                          {"failed", s.failed},
                          {"not_supported", s.not_supported},
                          {"skipped", s.skipped},
                          {"ok", s.ok()}}}};
  return doc.dump(2) + "\n";
}

}  // namespace rtscope::conformance
