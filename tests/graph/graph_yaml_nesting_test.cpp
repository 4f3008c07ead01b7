// Graph files nested deeper than the YAML layer's limit fail in one clear
// line at file:line:col naming the limit (yaml-cpp alone says "bad file").
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "rtscope/error.hpp"
#include "rtscope/graph_yaml.hpp"

namespace rtscope {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

std::string error_of(const std::string& text) {
  try {
    parse_graph_yaml(text, "g.yaml");
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return {};
}

TEST(GraphYamlNesting, DeepFlowListsNameTheLimit) {
  const std::string message = error_of("name: g\nnodes: " + std::string(100000, '[') + "\n");
  EXPECT_THAT(message, StartsWith("g.yaml:2:264: YAML nested too deeply"));
  EXPECT_THAT(message, HasSubstr("at most 256 levels deep"));
  EXPECT_THAT(message, Not(HasSubstr("bad file")));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(GraphYamlNesting, DeepFlowMapsNameTheLimit) {
  // "nodes: " then 256 "{a: " fit; the 257th brace goes too deep.
  std::string text = "name: g\nnodes: ";
  for (int i = 0; i < 5000; ++i) text += "{a: ";
  const std::string message = error_of(text + "\n");
  EXPECT_THAT(message, StartsWith("g.yaml:2:1032: YAML nested too deeply"));
}

// Block nesting ("- - - ..." is a list in a list in a list) past the
// parser's own depth limit reads the same way.
TEST(GraphYamlNesting, DeepBlockListsNameTheLimit) {
  std::string text = "name: g\nnodes:\n  ";
  for (int i = 0; i < 100000; ++i) text += "- ";
  const std::string message = error_of(text + "x\n");
  EXPECT_THAT(message, ContainsRegex("^g\\.yaml:[0-9]+:[0-9]+: YAML nested too deeply"));
  EXPECT_THAT(message, Not(HasSubstr("bad file")));
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

// Below the limit, nesting is not what fails: the graph checks take over.
TEST(GraphYamlNesting, NestingBelowTheLimitIsReadAsUsual) {
  const std::string message =
      error_of("name: g\nnodes: " + std::string(100, '[') + std::string(100, ']') + "\n");
  EXPECT_THAT(message, Not(HasSubstr("nested too deeply")));
  EXPECT_THAT(message, StartsWith("g.yaml:"));
}

}  // namespace
}  // namespace rtscope
