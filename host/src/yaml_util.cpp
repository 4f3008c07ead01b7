#include "yaml_util.hpp"

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string_view>

#include "rtscope/error.hpp"

namespace rtscope::yaml {
namespace {

bool is_digits(std::string_view s, int base) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [base](char c) {
    if (c >= '0' && c <= '9') return c - '0' < base;
    if (base == 16) return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    return false;
  });
}

bool one_of(std::string_view s, std::initializer_list<std::string_view> words) {
  return std::find(words.begin(), words.end(), s) != words.end();
}

}  // namespace

SourceLocation Source::at(const YAML::Mark& mark) const {
  // yaml-cpp marks are 0-based and -1 when unknown (e.g. an empty document).
  SourceLocation loc;
  loc.file = file_;
  loc.line = mark.line >= 0 ? mark.line + 1 : 1;
  loc.column = mark.column >= 0 ? mark.column + 1 : 1;
  return loc;
}

void Source::fail(const YAML::Mark& mark, std::string_view message) const {
  throw InputError(located(at(mark), message));
}

namespace {

// Where flow collections ([ and {) first nest deeper than kMaxNesting, if
// they do. yaml-cpp would stop there too, but at its own depth and with
// "bad file" at the end of the text; this names the place. Quoted strings
// and comments are skipped; brackets inside block scalars are counted,
// which at worst refuses a block scalar holding hundreds of unmatched
// brackets.
std::optional<YAML::Mark> too_deep(const std::string& text) {
  int depth = 0;
  YAML::Mark at;
  at.line = 0;
  at.column = 0;
  char quote = 0;
  char previous = '\n';
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote) {
      if (quote == '"' && c == '\\') {
        ++i;
        ++at.column;
      } else if (c == quote) {
        quote = 0;
      }
    } else if (c == '#' && (previous == ' ' || previous == '\t' || previous == '\n')) {
      while (i + 1 < text.size() && text[i + 1] != '\n') ++i;
    } else if ((c == '"' || c == '\'') &&
               std::string_view(" \t\n[{,:-").find(previous) != std::string_view::npos) {
      quote = c;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxNesting) return at;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
    if (c == '\n') {
      ++at.line;
      at.column = 0;
    } else {
      ++at.column;
    }
    previous = c;
  }
  return std::nullopt;
}

}  // namespace

YAML::Node Source::parse(const std::string& text) const {
  if (const auto mark = too_deep(text)) {
    fail(*mark, fmt::format("YAML nested too deeply: lists and maps go at most {} levels deep; "
                            "flatten the document",
                            kMaxNesting));
  }
  try {
    return YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    // Block nesting (indentation) past the parser's own depth limit;
    // yaml-cpp words this "bad file".
    fail(e.mark, fmt::format("YAML nested too deeply: deeper than the parser's limit of {} "
                             "nested nodes; flatten the document",
                             e.depth()));
  } catch (const YAML::ParserException& e) {
    fail(e.mark, fmt::format("malformed YAML: {}", e.msg));
  }
}

bool has_mark(const YAML::Node& node) {
  return node.IsDefined() && node.Mark().line >= 0 && node.Mark().column >= 0;
}

std::string location_prefix(const std::string& file, const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return file + ": ";
  return fmt::format("{}:{}:{}: ", file, mark.line + 1, mark.column + 1);
}

std::string unknown_key(std::string_view key, std::string_view what,
                        const std::vector<std::string>& valid) {
  return what.empty()
             ? fmt::format("unknown key '{}'; valid keys: {}", key, join(valid))
             : fmt::format("unknown key '{}' in {}; valid keys: {}", key, what, join(valid));
}

std::string located(const SourceLocation& loc, std::string_view message) {
  return fmt::format("{}:{}:{}: {}", loc.file, loc.line, loc.column, message);
}

YAML::Mark mark_of(const YAML::Node& node, const YAML::Mark& fallback) {
  if (!node.IsDefined() || node.IsNull()) return fallback;
  YAML::Mark mark = node.Mark();
  return mark.line < 0 ? fallback : mark;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += ", ";
    out += item;
  }
  return out;
}

bool parse_integer(std::string_view text, int64_t& value) {
  bool negative = false;
  std::string_view digits = text;
  int base = 10;
  if (digits.starts_with("0x")) {
    base = 16;
    digits.remove_prefix(2);
  } else if (digits.starts_with("0o")) {
    base = 8;
    digits.remove_prefix(2);
  } else if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  if (!is_digits(digits, base)) return false;
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec != std::errc() || end != digits.data() + digits.size()) return false;
  constexpr uint64_t kMax = std::numeric_limits<int64_t>::max();
  if (negative) {
    if (magnitude > kMax + 1) return false;
    value = magnitude == kMax + 1 ? std::numeric_limits<int64_t>::min()
                                  : -static_cast<int64_t>(magnitude);
  } else {
    if (magnitude > kMax) return false;
    value = static_cast<int64_t>(magnitude);
  }
  return true;
}

bool parse_real(std::string_view text, double& value) {
  std::string_view s = text;
  double sign = 1.0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    sign = s[0] == '-' ? -1.0 : 1.0;
    s.remove_prefix(1);
  }
  if (one_of(s, {".inf", ".Inf", ".INF"})) {
    value = sign * std::numeric_limits<double>::infinity();
    return true;
  }
  if (one_of(text, {".nan", ".NaN", ".NAN"})) {
    value = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  // Core schema: [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
  std::size_t i = 0;
  std::size_t int_digits = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++int_digits;
  std::size_t frac_digits = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i, ++frac_digits;
  }
  if (int_digits == 0 && frac_digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (!is_digits(s.substr(i), 10)) return false;
    i = s.size();
  }
  if (i != s.size()) return false;
  double magnitude = 0.0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), magnitude);
  // Out-of-range values still parse as a number; report them as not real.
  if (ec != std::errc() || end != s.data() + s.size()) return false;
  value = sign * magnitude;
  return true;
}

ScalarKind classify(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return ScalarKind::null;
  const std::string& tag = node.Tag();
  // "!" marks a quoted scalar: always a string, so `"64"` stays text.
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return ScalarKind::string;
  const std::string& text = node.Scalar();
  if (one_of(text, {"true", "True", "TRUE", "false", "False", "FALSE"})) {
    return ScalarKind::boolean;
  }
  int64_t i = 0;
  if (parse_integer(text, i)) return ScalarKind::integer;
  double d = 0.0;
  if (parse_real(text, d)) return ScalarKind::real;
  return ScalarKind::string;
}

std::string describe(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a map";
  std::string_view kind;
  switch (classify(node)) {
    case ScalarKind::boolean:
      kind = "boolean";
      break;
    case ScalarKind::integer:
      kind = "integer";
      break;
    case ScalarKind::real:
      kind = "real";
      break;
    default:
      kind = "string";
      break;
  }
  return fmt::format("{} '{}'", kind, node.Scalar());
}

Map::Map(const Source& source, const YAML::Node& node, const YAML::Mark& fallback, std::string what,
         const std::vector<std::string>& keys, const std::vector<std::string>& required)
    : source_(&source), what_(std::move(what)), mark_(mark_of(node, fallback)) {
  const std::vector<std::string>& valid = keys;
  if (!node.IsMap()) {
    source.fail(mark_, fmt::format("{} must be a map with keys {}; got {}", what_, join(valid),
                                   describe(node)));
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    // A copy: the iterator hands out a proxy that dies with the expression.
    YAML::Node key_node = it->first;
    YAML::Mark key_mark = mark_of(key_node, mark_);
    if (!key_node.IsScalar()) {
      source.fail(key_mark,
                  fmt::format("keys of {} must be strings; valid keys: {}", what_, join(valid)));
    }
    std::string key = key_node.Scalar();
    if (std::find(valid.begin(), valid.end(), key) == valid.end()) {
      source.fail(key_mark, unknown_key(key, what_, valid));
    }
    for (const Entry& e : entries_) {
      if (e.key == key) {
        SourceLocation first = source.at(e.key_node.Mark());
        source.fail(key_mark, fmt::format("duplicate key '{}' in {} (first at line {}, column {})",
                                          key, what_, first.line, first.column));
      }
    }
    entries_.push_back(Entry{std::move(key), key_node, it->second});
  }
  for (const auto& key : required) {
    if (!has(key)) {
      source.fail(mark_, fmt::format("{} is missing required key '{}' (valid keys: {})", what_, key,
                                     join(valid)));
    }
  }
}

bool Map::has(const std::string& key) const {
  return std::any_of(entries_.begin(), entries_.end(),
                     [&key](const Entry& e) { return e.key == key; });
}

const Map::Entry& Map::entry(const std::string& key) const {
  for (const Entry& e : entries_) {
    if (e.key == key) return e;
  }
  // Callers check has() or list the key as required; reaching here is a bug.
  throw std::logic_error("yaml::Map: no key " + key);
}

YAML::Node Map::get(const std::string& key) const { return entry(key).value; }

YAML::Mark Map::mark(const std::string& key) const {
  const Entry& e = entry(key);
  return mark_of(e.value, mark_of(e.key_node, mark_));
}

std::string Map::string(const std::string& key) const {
  return read_string(*source_, get(key), mark(key), fmt::format("key '{}' of {}", key, what_));
}

int64_t Map::integer(const std::string& key) const {
  return read_integer(*source_, get(key), mark(key), fmt::format("key '{}' of {}", key, what_));
}

uint64_t Map::unsigned_integer(const std::string& key) const {
  YAML::Node value = get(key);
  // Seeds may use the full 64-bit range, beyond int64_t.
  if (value.IsScalar() && value.Tag() == "?" && is_digits(value.Scalar(), 10)) {
    uint64_t u = 0;
    const std::string& text = value.Scalar();
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), u);
    if (ec == std::errc() && end == text.data() + text.size()) return u;
    source_->fail(mark(key), fmt::format("key '{}' of {} is out of range; the largest value is {}",
                                         key, what_, std::numeric_limits<uint64_t>::max()));
  }
  int64_t v = integer(key);
  if (v < 0) {
    source_->fail(mark(key), fmt::format("key '{}' of {} must be a non-negative integer; got {}",
                                         key, what_, v));
  }
  return static_cast<uint64_t>(v);
}

double Map::real(const std::string& key) const {
  YAML::Node value = get(key);
  ScalarKind kind = value.IsScalar() ? classify(value) : ScalarKind::null;
  if (kind == ScalarKind::integer) {
    int64_t i = 0;
    parse_integer(value.Scalar(), i);
    return static_cast<double>(i);
  }
  double d = 0.0;
  if (kind != ScalarKind::real || !parse_real(value.Scalar(), d)) {
    source_->fail(mark(key), fmt::format("key '{}' of {} must be a number; got {}", key, what_,
                                         describe(value)));
  }
  return d;
}

YAML::Node Map::list(const std::string& key) const {
  YAML::Node value = get(key);
  if (!value.IsSequence()) {
    source_->fail(mark(key), fmt::format("key '{}' of {} must be a list; got {}", key, what_,
                                         describe(value)));
  }
  return value;
}

std::string read_string(const Source& source, const YAML::Node& node, const YAML::Mark& mark,
                        std::string_view what) {
  if (!node.IsScalar() || node.Scalar().empty()) {
    source.fail(mark, fmt::format("{} must be a non-empty string; got {}", what, describe(node)));
  }
  return node.Scalar();
}

int64_t read_integer(const Source& source, const YAML::Node& node, const YAML::Mark& mark,
                     std::string_view what) {
  int64_t value = 0;
  if (!node.IsScalar() || classify(node) != ScalarKind::integer ||
      !parse_integer(node.Scalar(), value)) {
    source.fail(mark, fmt::format("{} must be an integer; got {}", what, describe(node)));
  }
  return value;
}

}  // namespace rtscope::yaml
