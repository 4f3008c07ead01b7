// Strict reading of YAML documents with located error messages: the one
// YAML layer of the host, used by graph files (graph_yaml.cpp) and by the
// runner's configs (host/runner/run_config.cpp).
//
// yaml-cpp accepts unknown and duplicate keys and converts scalars loosely;
// these helpers reject both and turn every problem into an InputError whose
// message starts with "file:line:col: " (1-based) and names the key involved.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rtscope/graph.hpp"

namespace rtscope::yaml {

// The file a document came from; formats locations and errors.
class Source {
 public:
  explicit Source(std::string file) : file_(std::move(file)) {}

  const std::string& file() const { return file_; }
  // 1-based location; an unknown mark (yaml-cpp's null mark) becomes 1:1.
  SourceLocation at(const YAML::Mark& mark) const;
  [[noreturn]] void fail(const YAML::Mark& mark, std::string_view message) const;

  // Parses `text`; malformed YAML fails at the parser's mark with
  // "malformed YAML: ...", and a document nested deeper than the parser's
  // limit (kMaxNesting) fails there naming the limit.
  YAML::Node parse(const std::string& text) const;

 private:
  std::string file_;
};

// Flow lists and maps ([ and {) nested deeper than this are refused before
// parsing, at the bracket that goes too deep: far beyond any graph or
// config, and below the depth where yaml-cpp's parser gives up (its
// DepthGuard, 500 nested nodes, reported at the end of the text as
// "bad file").
inline constexpr int kMaxNesting = 256;

// "file:line:col: message".
std::string located(const SourceLocation& loc, std::string_view message);

// False for nodes built in memory (yaml-cpp gives them a null mark).
bool has_mark(const YAML::Node& node);
// "file:line:col: " with 1-based line and column (yaml-cpp's are 0-based);
// "file: " when the mark is unknown.
std::string location_prefix(const std::string& file, const YAML::Mark& mark);

// "unknown key 'k'[ in what]; valid keys: a, b": the message for a key
// outside a fixed set, for graph files and configs alike.
std::string unknown_key(std::string_view key, std::string_view what,
                        const std::vector<std::string>& valid);

// Where a node was written. yaml-cpp gives null values (`key:` with nothing
// after it) a mark on the following line, so callers pass the key's mark as
// the fallback for those.
YAML::Mark mark_of(const YAML::Node& node, const YAML::Mark& fallback);

// "a, b, c".
std::string join(const std::vector<std::string>& items);

// How a scalar reads under the YAML 1.2 core schema. Quoted scalars and
// explicit !!str tags are always strings.
enum class ScalarKind { null, boolean, integer, real, string };
ScalarKind classify(const YAML::Node& node);
// "integer", "list", ... for "got ..." messages.
std::string describe(const YAML::Node& node);

// A map whose keys were checked against a fixed set. Construction fails on
// a non-map, an unknown key (listing the valid ones), a duplicate key, or a
// missing required key.
class Map {
 public:
  // `what` names the map in messages, e.g. "node 'fc1'" or "graph"; `keys`
  // are the valid keys in the order messages list them, `required` a subset.
  // `fallback` locates a null map (see mark_of).
  Map(const Source& source, const YAML::Node& node, const YAML::Mark& fallback, std::string what,
      const std::vector<std::string>& keys, const std::vector<std::string>& required);

  const Source& source() const { return *source_; }
  const std::string& what() const { return what_; }
  YAML::Mark mark() const { return mark_; }
  bool has(const std::string& key) const;
  // The value of a present key.
  YAML::Node get(const std::string& key) const;
  // The value's mark, or the key's when the value is null.
  YAML::Mark mark(const std::string& key) const;

  // Typed values of present keys; fail naming the key and what was expected.
  std::string string(const std::string& key) const;
  int64_t integer(const std::string& key) const;
  uint64_t unsigned_integer(const std::string& key) const;
  double real(const std::string& key) const;  // integers accepted
  // A list whose entries are read by the caller; fails when not a list.
  YAML::Node list(const std::string& key) const;

 private:
  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };
  const Entry& entry(const std::string& key) const;

  const Source* source_;
  std::string what_;
  YAML::Mark mark_;
  std::vector<Entry> entries_;
};

// Scalar readers for values outside a Map (list entries). `what` describes
// the value in messages, e.g. "entry 2 of outputs".
std::string read_string(const Source& source, const YAML::Node& node, const YAML::Mark& mark,
                        std::string_view what);
int64_t read_integer(const Source& source, const YAML::Node& node, const YAML::Mark& mark,
                     std::string_view what);

// Parses a YAML 1.2 core-schema integer (decimal, 0x hex, 0o octal) in full.
bool parse_integer(std::string_view text, int64_t& value);
// Parses a YAML 1.2 core-schema float (including .inf and .nan) in full.
bool parse_real(std::string_view text, double& value);

}  // namespace rtscope::yaml
