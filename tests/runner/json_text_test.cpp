// The runner's JSON text (nlohmann::ordered_json) and the atomic write that
// puts a report on disk.
#include "json_text.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "atomic_file.hpp"
#include "report.hpp"
#include "rtscope/error.hpp"
#include "support/temp_dir.hpp"

namespace rtscope::runner {
namespace {

using ::testing::HasSubstr;

// Caps the size of the files this process writes at `bytes` (RLIMIT_FSIZE),
// with SIGXFSZ ignored so that a longer write fails with EFBIG instead of
// killing the test; both are restored when the scope ends.
class FileSizeCap {
 public:
  explicit FileSizeCap(rlim_t bytes) {
    limit_read_ = getrlimit(RLIMIT_FSIZE, &saved_) == 0;
    previous_handler_ = signal(SIGXFSZ, SIG_IGN);
    rlimit small = saved_;
    small.rlim_cur = bytes;
    applied_ = limit_read_ && setrlimit(RLIMIT_FSIZE, &small) == 0;
  }
  ~FileSizeCap() {
    if (applied_) setrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, previous_handler_);
  }
  FileSizeCap(const FileSizeCap&) = delete;
  FileSizeCap& operator=(const FileSizeCap&) = delete;

  bool limit_read() const { return limit_read_; }
  bool applied() const { return applied_; }

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = SIG_DFL;
  bool limit_read_ = false;
  bool applied_ = false;
};

std::string quoted(const std::string& text) { return json_text(Json(text)); }

TEST(JsonText, EscapesStrings) {
  EXPECT_EQ(quoted("plain"), "\"plain\"");
  EXPECT_EQ(quoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(quoted("line\nnext\ttab"), "\"line\\nnext\\ttab\"");
  EXPECT_EQ(quoted(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(quoted("\x1f"), "\"\\u001f\"");
  EXPECT_EQ(quoted("caf\xc3\xa9"), "\"caf\xc3\xa9\"");            // valid UTF-8 kept
  EXPECT_EQ(quoted("bad\xff"), "\"bad\xef\xbf\xbd\"");            // invalid byte: U+FFFD
  EXPECT_EQ(quoted("\xc0\xaf"), "\"\xef\xbf\xbd\xef\xbf\xbd\"");  // overlong form rejected
}

TEST(JsonText, WritesNestedDocumentsThatParse) {
  Json doc = Json::object();
  doc["schema_version"] = 1;
  doc["name"] = "a \"quoted\" name";
  doc["empty_object"] = Json::object();
  doc["list"] = Json::array({1.5, false, nullptr, uint64_t{1} << 40});
  doc["not_finite"] = std::numeric_limits<double>::quiet_NaN();

  const YAML::Node parsed = YAML::Load(json_text(doc));
  EXPECT_EQ(parsed["schema_version"].as<int>(), 1);
  EXPECT_EQ(parsed["name"].as<std::string>(), "a \"quoted\" name");
  EXPECT_TRUE(parsed["empty_object"].IsMap());
  EXPECT_EQ(parsed["empty_object"].size(), 0u);
  ASSERT_EQ(parsed["list"].size(), 4u);
  EXPECT_DOUBLE_EQ(parsed["list"][0].as<double>(), 1.5);
  EXPECT_FALSE(parsed["list"][1].as<bool>());
  EXPECT_TRUE(parsed["list"][2].IsNull());
  EXPECT_EQ(parsed["list"][3].as<uint64_t>(), uint64_t{1} << 40);
  EXPECT_TRUE(parsed["not_finite"].IsNull());
}

// The report lists keys in the schema's order, not sorted.
TEST(JsonText, KeepsKeysInWrittenOrder) {
  Json doc = Json::object();
  doc["schema_version"] = 1;
  doc["context"] = Json::object();
  doc["models"] = Json::object();
  const std::string text = json_text(doc);
  EXPECT_LT(text.find("schema_version"), text.find("context"));
  EXPECT_LT(text.find("context"), text.find("models"));
  EXPECT_EQ(text, "{\n  \"schema_version\": 1,\n  \"context\": {},\n  \"models\": {}\n}");
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::size_t files_in(const std::filesystem::path& folder) {
  std::size_t count = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(folder)) ++count;
  return count;
}

TEST(AtomicFile, ReplacesTheFileWhole) {
  testing::TempDir dir;
  const std::filesystem::path file = dir.path() / "report.json";
  write_file_atomically(file, "old", "JSON report");
  write_file_atomically(file, "{\"new\": true}", "JSON report");
  EXPECT_EQ(read_file(file), "{\"new\": true}");
  EXPECT_EQ(files_in(dir.path()), 1u);  // no temporary file left
}

// A disk that fills up mid-write (simulated by a file size limit, which
// makes write() fail with EFBIG the way a full disk fails with ENOSPC)
// leaves the previous report as it was and names the file in one line.
TEST(AtomicFile, AFailedWriteLeavesTheOldFileUntouched) {
  testing::TempDir dir;
  const std::filesystem::path file = dir.path() / "report.json";
  const std::string old_report = "{\"schema_version\": 1}";
  write_file_atomically(file, old_report, "JSON report");

  std::string message;
  {
    const FileSizeCap cap(8);
    ASSERT_TRUE(cap.limit_read());
    ASSERT_TRUE(cap.applied());
    try {
      write_file_atomically(file, std::string(4096, 'x'), "JSON report");
    } catch (const Error& e) {
      message = e.what();
    }
  }

  EXPECT_THAT(message, HasSubstr(file.string() + ": cannot write the JSON report"));
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_EQ(read_file(file), old_report);
  EXPECT_EQ(files_in(dir.path()), 1u);
}

TEST(AtomicFile, AFolderThatDoesNotExistIsAnErrorNamingTheFile) {
  testing::TempDir dir;
  const std::filesystem::path file = dir.path() / "missing" / "report.json";
  try {
    write_file_atomically(file, "{}", "JSON report");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(file.string() + ": cannot write the JSON report"));
    EXPECT_THAT(e.what(), HasSubstr("No such file or directory"));
  }
}

// write_json goes through the atomic write: a report that cannot be written
// is an error and the report already there stays.
TEST(AtomicFile, WriteJsonKeepsTheExistingReportOnFailure) {
  testing::TempDir dir;
  const std::filesystem::path file = dir.path() / "report.json";
  { std::ofstream(file) << "previous"; }
  bool threw = false;
  {
    const FileSizeCap cap(16);
    ASSERT_TRUE(cap.limit_read());
    ASSERT_TRUE(cap.applied());
    try {
      write_json(Report{}, file);
    } catch (const Error& e) {
      threw = std::string(e.what()).find(file.string()) != std::string::npos;
    }
  }
  EXPECT_TRUE(threw);
  EXPECT_EQ(read_file(file), "previous");
}

}  // namespace
}  // namespace rtscope::runner
