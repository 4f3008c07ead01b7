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

std::string row_format(std::size_t check_width) {
  return "{:<" + std::to_string(check_width) + "}  {:<5}  {:<13}  {:<9}  {}\n";
}

CheckStatus status_from_string(const std::string& text) {
  for (CheckStatus s :
       {CheckStatus::passed, CheckStatus::failed, CheckStatus::not_supported, CheckStatus::skipped})
    if (text == to_string(s)) return s;
  return CheckStatus::failed;
}

}  // namespace

void print_header(std::ostream& out, const ReportSubject& subject, std::size_t check_width) {
  out << fmt::format("plugin {} {} ({}), ABI {}, device {}: {}\n", subject.plugin_id,
                     subject.plugin_version, subject.plugin_path, subject.abi, subject.device,
                     subject.device_name);
  out << fmt::format(fmt::runtime(row_format(check_width)), "CHECK", "DTYPE", "STATUS", "MAX ERR",
                     "MESSAGE");
}

void print_row(std::ostream& out, const CheckResult& r, std::size_t check_width) {
  out << fmt::format(fmt::runtime(row_format(check_width)), r.check, r.dtype, to_string(r.status),
                     error_text(r), one_line(r.message));
}

void print_table(std::ostream& out, const ReportSubject& subject,
                 const std::vector<CheckResult>& results) {
  std::size_t check_width = 5;
  for (const auto& r : results) check_width = std::max(check_width, r.check.size());
  print_header(out, subject, check_width);
  for (const auto& r : results) print_row(out, r, check_width);
  print_summary(out, subject, results);
}

void print_summary(std::ostream& out, const ReportSubject& subject,
                   const std::vector<CheckResult>& results) {
  const Summary s = summarize(results);
  out << fmt::format("{} passed, {} failed, {} not supported, {} skipped (seed {}): {}\n", s.passed,
                     s.failed, s.not_supported, s.skipped, subject.seed, s.ok() ? "PASS" : "FAIL");
}

std::string row_to_json(const CheckResult& r) {
  nlohmann::json row = {{"check", r.check},
                        {"dtype", r.dtype},
                        {"status", to_string(r.status)},
                        {"message", r.message}};
  row["max_error"] = r.max_error ? nlohmann::json(*r.max_error) : nlohmann::json(nullptr);
  return row.dump();
}

CheckResult row_from_json(const std::string& text) {
  const nlohmann::json row = nlohmann::json::parse(text);
  CheckResult r{row.at("check"), row.at("dtype"), status_from_string(row.at("status")),
                std::nullopt, row.at("message")};
  if (row.at("max_error").is_number()) r.max_error = row.at("max_error").get<double>();
  return r;
}

std::string subject_to_json(const ReportSubject& s) {
  return nlohmann::json{
      {"id", s.plugin_id},  {"version", s.plugin_version},  {"path", s.plugin_path}, {"abi", s.abi},
      {"device", s.device}, {"device_name", s.device_name}, {"seed", s.seed}}
      .dump();
}

ReportSubject subject_from_json(const std::string& text) {
  const nlohmann::json s = nlohmann::json::parse(text);
  return {s.at("id"),     s.at("version"),     s.at("path"), s.at("abi"),
          s.at("device"), s.at("device_name"), s.at("seed")};
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
