// A small streaming JSON writer (objects, arrays, strings, numbers, bools,
// null) with two-space indentation. Keeps the runner free of a JSON library.
//
//   JsonWriter json;
//   json.begin_object();
//   json.key("schema_version").value(1);
//   json.end_object();
//   std::string text = json.str();
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rtscope::runner {

// `text` as a JSON string literal, quotes included. Invalid UTF-8 bytes are
// replaced by U+FFFD so the output is always valid JSON.
std::string json_quote(std::string_view text);

class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  // Inside an object: the next value's key.
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(const std::string& text) { return value(std::string_view(text)); }
  // NaN and infinities have no JSON form; they are written as null.
  JsonWriter& value(double number);
  JsonWriter& value(int64_t number);
  JsonWriter& value(uint64_t number);
  JsonWriter& value(int number) { return value(static_cast<int64_t>(number)); }
  JsonWriter& value(unsigned number) { return value(static_cast<uint64_t>(number)); }
  JsonWriter& value(bool flag);
  JsonWriter& null();

  // The document; complete once every object and array is closed.
  const std::string& str() const { return out_; }

 private:
  void before_value();
  void newline();

  struct Level {
    bool is_object;
    bool empty = true;
  };
  std::string out_;
  std::vector<Level> levels_;
  bool after_key_ = false;
};

}  // namespace rtscope::runner
