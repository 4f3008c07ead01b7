// The runner's JSON documents are nlohmann::ordered_json: keys stay in the
// order the report writes them (the order the schema in report.hpp lists).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace rtscope::runner {

using Json = nlohmann::ordered_json;

// `doc` as text, indented by two spaces. Invalid UTF-8 in a string becomes
// U+FFFD and NaN or an infinity becomes null, so the text is always JSON.
std::string json_text(const Json& doc);

}  // namespace rtscope::runner
