#include "json_writer.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <limits>

namespace rtscope::runner {
namespace {

TEST(JsonWriter, EscapesStrings) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_quote("line\nnext\ttab"), "\"line\\nnext\\ttab\"");
  EXPECT_EQ(json_quote(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(json_quote("\x1f"), "\"\\u001f\"");
  EXPECT_EQ(json_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // valid UTF-8 kept
  EXPECT_EQ(json_quote("bad\xff"), "\"bad\\ufffd\"");       // invalid byte replaced
  EXPECT_EQ(json_quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");  // overlong form rejected
}

TEST(JsonWriter, WritesNestedDocumentsThatParse) {
  JsonWriter json;
  json.begin_object();
  json.key("schema_version").value(1);
  json.key("name").value("a \"quoted\" name");
  json.key("empty_object").begin_object().end_object();
  json.key("list")
      .begin_array()
      .value(1.5)
      .value(false)
      .null()
      .value(uint64_t{1} << 40)
      .end_array();
  json.key("not_finite").value(std::numeric_limits<double>::quiet_NaN());
  json.end_object();

  const YAML::Node doc = YAML::Load(json.str());
  EXPECT_EQ(doc["schema_version"].as<int>(), 1);
  EXPECT_EQ(doc["name"].as<std::string>(), "a \"quoted\" name");
  EXPECT_TRUE(doc["empty_object"].IsMap());
  EXPECT_EQ(doc["empty_object"].size(), 0u);
  ASSERT_EQ(doc["list"].size(), 4u);
  EXPECT_DOUBLE_EQ(doc["list"][0].as<double>(), 1.5);
  EXPECT_FALSE(doc["list"][1].as<bool>());
  EXPECT_TRUE(doc["list"][2].IsNull());
  EXPECT_EQ(doc["list"][3].as<uint64_t>(), uint64_t{1} << 40);
  EXPECT_TRUE(doc["not_finite"].IsNull());
}

TEST(JsonWriter, MisuseIsALogicError) {
  JsonWriter json;
  json.begin_object();
  EXPECT_THROW(json.value(1), std::logic_error);  // value without a key
  EXPECT_THROW(json.end_array(), std::logic_error);
}

}  // namespace
}  // namespace rtscope::runner
