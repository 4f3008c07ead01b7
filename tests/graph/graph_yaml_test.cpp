// Graph YAML loader: a valid file parses into a typed, located Graph; every
// error names "file:line:col" and says what is valid.
#include "rtscope/graph_yaml.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "rtscope/error.hpp"
#include "support/error_of.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Line numbers below refer to this text (1-based).
constexpr const char* kValid = R"(name: g
symbols: {batch: {min: 1, max: 8}}
inputs:
  - {name: x, dtype: f32, shape: [batch, 4]}
weights:
  - {name: w, dtype: f32, shape: [4, 3], init: {seed: 7, scale: 0.5}}
nodes:
  - {name: fc, op: linear, inputs: [x, w], outputs: [h]}
  - {name: act, op: relu, inputs: [h], outputs: [y]}
outputs: [y]
)";

// kValid with line `line` (1-based) replaced.
std::string with_line(int line, const std::string& replacement) {
  std::string text = kValid;
  std::size_t start = 0;
  for (int i = 1; i < line; ++i) start = text.find('\n', start) + 1;
  std::size_t end = text.find('\n', start);
  return text.substr(0, start) + replacement + text.substr(end);
}

// The message of the InputError that parsing `text` as "g.yaml" throws.
std::string error_of(const std::string& text) {
  try {
    parse_graph_yaml(text, "g.yaml");
  } catch (const InputError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error for:\n" << text;
  return {};
}

void write_file(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

TEST(GraphYaml, ValidFileParsesWithTypesAndLocations) {
  Graph g = parse_graph_yaml(kValid, "dir/g.yaml");
  EXPECT_EQ(g.name, "g");
  EXPECT_EQ(g.loc.str(), "dir/g.yaml:1:1");
  ASSERT_EQ(g.symbols.count("batch"), 1u);
  EXPECT_EQ(g.symbols.at("batch").min, 1);
  EXPECT_EQ(g.symbols.at("batch").opt, 8);  // defaults to max
  EXPECT_EQ(g.symbols.at("batch").max, 8);

  ASSERT_EQ(g.inputs.size(), 1u);
  EXPECT_EQ(g.inputs[0].type.str(), "f32[batch,4]");
  EXPECT_EQ(g.inputs[0].loc.str(), "dir/g.yaml:4:5");

  ASSERT_EQ(g.weights.size(), 1u);
  EXPECT_EQ(g.weights[0].info.loc.str(), "dir/g.yaml:6:5");
  EXPECT_EQ(g.weights[0].init.kind, WeightInit::Kind::seeded);
  EXPECT_EQ(g.weights[0].init.seed, 7u);
  EXPECT_DOUBLE_EQ(g.weights[0].init.scale, 0.5);
  EXPECT_DOUBLE_EQ(g.weights[0].init.offset, 0.0);

  ASSERT_EQ(g.nodes.size(), 2u);
  EXPECT_EQ(g.nodes[0].name, "fc");
  EXPECT_EQ(g.nodes[0].op, "linear");
  EXPECT_EQ(g.nodes[0].inputs, (std::vector<std::string>{"x", "w"}));
  EXPECT_EQ(g.nodes[0].loc.str(), "dir/g.yaml:8:5");
  EXPECT_EQ(g.nodes[1].loc.str(), "dir/g.yaml:9:5");
  EXPECT_EQ(g.outputs, (std::vector<std::string>{"y"}));
  EXPECT_EQ(g.type_of("h").str(), "f32[batch,3]");
  EXPECT_EQ(g.type_of("y").str(), "f32[batch,3]");
}

TEST(GraphYaml, BlockStyleStatesAndTypedAttributes) {
  const char* text = R"(name: cache_graph
symbols:
  seq: {min: 1, opt: 1, max: 16}
inputs:
  - name: new
    dtype: f32
    shape: [1, 2, seq, 8]
  - {name: pos, dtype: i64, shape: [1]}
  - {name: a, dtype: f32, shape: [2, 3]}
  - {name: b, dtype: f32, shape: [4, 3]}
states:
  - {name: cache, dtype: f32, shape: [1, 2, 16, 8], update: cache_next}
nodes:
  - name: write
    op: kv_cache_update
    inputs: [cache, new, pos]
    outputs: [cache_next]
  - {name: double, op: scale, inputs: [cache_next], outputs: [scaled], attrs: {factor: 2}}
  - {name: merge, op: reshape, inputs: [scaled], outputs: [flat], attrs: {shape: [0, 0, -1]}}
  - {name: probs, op: softmax, inputs: [flat], outputs: [y], attrs: {axis: -1}}
  - {name: ab, op: matmul, inputs: [a, b], outputs: [abt], attrs: {transpose_b: true}}
outputs: [y, abt]
)";
  Graph g = parse_graph_yaml(text, "c.yaml");
  EXPECT_EQ(g.symbols.at("seq").opt, 1);
  EXPECT_EQ(g.inputs[0].loc.str(), "c.yaml:5:5");
  ASSERT_EQ(g.states.size(), 1u);
  EXPECT_EQ(g.states[0].update_from, "cache_next");
  EXPECT_EQ(g.states[0].info.loc.str(), "c.yaml:12:5");
  EXPECT_EQ(g.type_of("cache_next").str(), "f32[1,2,16,8]");
  EXPECT_EQ(g.type_of("flat").str(), "f32[1,2,128]");
  EXPECT_EQ(g.type_of("abt").str(), "f32[2,4]");

  auto node = [&g](const std::string& name) -> const Node& {
    for (const Node& n : g.nodes) {
      if (n.name == name) return n;
    }
    throw std::runtime_error("no node " + name);
  };
  EXPECT_EQ(node("write").loc.str(), "c.yaml:14:5");
  // An integer written for a real attribute becomes a double.
  EXPECT_EQ(std::get<double>(node("double").attrs.at("factor")), 2.0);
  EXPECT_EQ(std::get<std::vector<int64_t>>(node("merge").attrs.at("shape")),
            (std::vector<int64_t>{0, 0, -1}));
  EXPECT_EQ(std::get<int64_t>(node("probs").attrs.at("axis")), -1);
  EXPECT_EQ(std::get<int64_t>(node("ab").attrs.at("transpose_b")), 1);
}

TEST(GraphYaml, ExampleConfigLoads) {
  Graph g =
      load_graph_yaml(std::filesystem::path(RTSCOPE_SOURCE_DIR) / "configs/models/tiny_mlp.yaml");
  EXPECT_EQ(g.name, "tiny_mlp");
  EXPECT_EQ(g.type_of("y").str(), "f32[batch,16]");
  EXPECT_EQ(g.symbols.at("batch").opt, 8);
  EXPECT_EQ(g.weights.size(), 3u);
  EXPECT_EQ(g.nodes.size(), 4u);
}

TEST(GraphYaml, WeightFileResolvesAgainstGraphDirectory) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "data");
  write_file(dir / "data" / "w.bin", std::string(4 * 3 * 4, '\0'));
  write_file(dir / "g.yaml", with_line(6,
                                       "  - {name: w, dtype: f32, shape: [4, 3], init: {file: "
                                       "data/w.bin}}"));
  Graph g = load_graph_yaml(dir / "g.yaml");
  EXPECT_EQ(g.weights[0].init.kind, WeightInit::Kind::file);
  EXPECT_EQ(g.weights[0].init.path, (dir / "data" / "w.bin").string());
}

TEST(GraphYaml, WeightFileMissingOrWrongSize) {
  testing::TempDir dir;
  const std::string file = (dir / "g.yaml").string();
  write_file(dir / "g.yaml",
             with_line(6, "  - {name: w, dtype: f32, shape: [4, 3], init: {file: w.bin}}"));
  try {
    load_graph_yaml(file);
    ADD_FAILURE() << "missing weight file accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()),
              file + ":6:55: init of weight 'w': weight file '" + (dir / "w.bin").string() +
                  "' not found (relative paths are resolved against the graph file's directory)");
  }
  write_file(dir / "w.bin", std::string(10, '\0'));
  try {
    load_graph_yaml(file);
    ADD_FAILURE() << "short weight file accepted";
  } catch (const InputError& e) {
    EXPECT_THAT(e.what(), StartsWith(file + ":6:55: init of weight 'w': weight file '"));
    EXPECT_THAT(e.what(), HasSubstr("holds 10 bytes; f32[4,3] needs 48"));
  }
}

TEST(GraphYaml, MissingFileNamesThePath) {
  testing::TempDir dir;
  const std::string path = (dir / "nope.yaml").string();
  try {
    load_graph_yaml(path);
    ADD_FAILURE() << "missing file accepted";
  } catch (const InputError& e) {
    EXPECT_EQ(std::string(e.what()), path + ": graph file not found");
  }
}

// A text that parse_graph_yaml rejects and the whole message it must give.
struct ExactError {
  const char* name;
  std::string text;
  std::string message;
};

std::vector<ExactError> exact_errors() {
  return {
      {"MalformedYamlFlowEnd", "name: g\nnodes: [a, b]]\n",
       "g.yaml:2:14: malformed YAML: illegal flow end"},
      {"MalformedYamlMapValue", "name: g\n  inputs: []\n",
       "g.yaml:2:9: malformed YAML: illegal map value"},
      {"DocumentShapeEmpty", "",
       "g.yaml:1:1: the graph must be a map with keys name, symbols, inputs, weights, states, "
       "nodes, outputs; got nothing"},
      {"DocumentShapeList", "- a\n",
       "g.yaml:1:1: the graph must be a map with keys name, symbols, inputs, weights, states, "
       "nodes, outputs; got a list"},
      {"UnknownTopLevelKey", with_line(2, "symbol: {batch: {min: 1, max: 8}}"),
       "g.yaml:2:1: unknown key 'symbol' in the graph; valid keys: name, symbols, inputs, "
       "weights, states, nodes, outputs"},
      {"DuplicateKey",
       with_line(9, "  - {name: act, op: relu, op: relu, inputs: [h], outputs: [y]}"),
       "g.yaml:9:27: duplicate key 'op' in node 'act' (first at line 9, column 17)"},
      {"MissingRequiredKeyOfTheGraph", "name: g\ninputs: []\nnodes: []\n",
       "g.yaml:1:1: the graph is missing required key 'outputs' (valid keys: name, symbols, "
       "inputs, weights, states, nodes, outputs)"},
      {"MissingRequiredKeyOfANode", with_line(9, "  - {name: act, inputs: [h], outputs: [y]}"),
       "g.yaml:9:5: node 'act' is missing required key 'op' (valid keys: name, op, inputs, "
       "outputs, attrs)"},
      {"UnknownNodeKey", with_line(9, "  - {name: act, op: relu, input: [h], outputs: [y]}"),
       "g.yaml:9:27: unknown key 'input' in node 'act'; valid keys: name, op, inputs, outputs, "
       "attrs"},
      {"UnknownSymbolKey", with_line(2, "symbols: {batch: {min: 1, maximum: 8}}"),
       "g.yaml:2:27: unknown key 'maximum' in symbol 'batch'; valid keys: min, opt, max"},
      {"UnknownInitKey", with_line(6, "  - {name: w, dtype: f32, shape: [4, 3], init: {sed: 7}}"),
       "g.yaml:6:49: unknown key 'sed' in init of weight 'w'; valid keys: seed, scale, offset, "
       "file"},
      {"BadDtype", with_line(4, "  - {name: x, dtype: f31, shape: [batch, 4]}"),
       "g.yaml:4:22: bad dtype 'f31' for input 'x'; valid dtypes: f32, f16, i32, i64, bool"},
      {"BadShapeEntrySymbol", with_line(4, "  - {name: x, dtype: f32, shape: [btch, 4]}"),
       "g.yaml:4:35: unknown symbol 'btch' in shape of input 'x'; a dimension is a "
       "non-negative integer or a symbol declared under 'symbols' (batch)"},
      {"BadShapeEntryNegative", with_line(4, "  - {name: x, dtype: f32, shape: [batch, -4]}"),
       "g.yaml:4:42: bad entry integer '-4' in shape of input 'x'; a dimension is a "
       "non-negative integer or a symbol declared under 'symbols' (batch)"},
      {"BadShapeEntryNotAList", with_line(4, "  - {name: x, dtype: f32, shape: 4}"),
       "g.yaml:4:34: key 'shape' of input 'x' must be a list; got integer '4'"},
      {"WeightNeedsStaticShape", with_line(6, "  - {name: w, dtype: f32, shape: [batch, 3]}"),
       "g.yaml:6:34: weight 'w' must have a static shape (its storage is allocated once); "
       "'batch' is a symbol"},
      {"BadSymbolRangeOrder", with_line(2, "symbols: {batch: {min: 4, opt: 2, max: 8}}"),
       "g.yaml:2:18: symbol 'batch' needs 0 <= min <= opt <= max; got min 4, opt 2, max 8"},
      {"BadSymbolRangeReal", with_line(2, "symbols: {batch: {min: 1, max: 8.5}}"),
       "g.yaml:2:32: key 'max' of symbol 'batch' must be an integer; got real '8.5'"},
      {"UnknownAttributeOfAnOpWithout",
       with_line(9, "  - {name: act, op: relu, inputs: [h], outputs: [y], attrs: {alpha: 0.1}}"),
       "g.yaml:9:62: unknown attribute 'alpha' for node 'act' (op relu); op 'relu' takes no "
       "attributes"},
      {"UnknownAttributeOfAnOpWith",
       with_line(9, "  - {name: act, op: softmax, inputs: [h], outputs: [y], attrs: {axes: 1}}"),
       "g.yaml:9:65: unknown attribute 'axes' for node 'act' (op softmax); valid attributes: "
       "axis"},
      {"AttributeOfWrongKind",
       with_line(9, "  - {name: act, op: softmax, inputs: [h], outputs: [y], attrs: {axis: last}}"),
       "g.yaml:9:71: attribute 'axis' of node 'act' (op softmax) must be an integer; got string "
       "'last'"},
      {"DanglingNodeInput", with_line(9, "  - {name: act, op: relu, inputs: [hh], outputs: [y]}"),
       "g.yaml:9:36: dangling tensor: input 'hh' of node 'act' is not defined; it must name a "
       "graph input, weight, state or node output (did you mean 'h'?)"},
      {"DanglingGraphOutput", with_line(10, "outputs: [z]"),
       "g.yaml:10:11: dangling tensor: graph output 'z' is not defined; it must name a graph "
       "input, weight, state or node output"},
      {"DuplicateValueName", with_line(9, "  - {name: act, op: relu, inputs: [h], outputs: [x]}"),
       "g.yaml:9:50: 'x' is already defined as an input at line 4, column 5; inputs, weights, "
       "states and node outputs share one namespace"},
  };
}

void PrintTo(const ExactError& e, std::ostream* out) { *out << e.name; }

class GraphYamlExactError : public ::testing::TestWithParam<ExactError> {};

TEST_P(GraphYamlExactError, NamesTheLineAndWhatIsValid) {
  EXPECT_EQ(error_of(GetParam().text), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(Texts, GraphYamlExactError, ::testing::ValuesIn(exact_errors()),
                         testing::NameOfCase());

// A text that parse_graph_yaml rejects, the start of its message (the
// location and what failed) and phrases the rest must hold.
struct ErrorParts {
  const char* name;
  std::string text;
  std::string prefix;
  std::vector<std::string> phrases;
};

std::vector<ErrorParts> error_parts() {
  return {
      {"UnknownOpListsValidOps",
       with_line(8, "  - {name: fc, op: linaer, inputs: [x, w], outputs: [h]}"),
       "g.yaml:8:20: unknown op 'linaer' in node 'fc'; valid ops: ",
       {"matmul", "linear"}},
      {"MissingRequiredAttributeIsReportedAtTheNode",
       with_line(9, "  - {name: act, op: scale, inputs: [h], outputs: [y]}"),
       "g.yaml:9:5: node 'act' (scale): ",
       {"factor"}},
      {"ShapeMismatch",
       with_line(6, "  - {name: w, dtype: f32, shape: [5, 3], init: {seed: 7}}"),
       "g.yaml:8:5: node 'fc' (linear): ",
       {"f32[batch,4]", "f32[5,3]"}},
      {"DtypeMismatch",
       with_line(6, "  - {name: w, dtype: f16, shape: [4, 3]}"),
       "g.yaml:8:5: node 'fc' (linear): ",
       {"dtype", "f16"}},
      {"Cycle",
       with_line(8, "  - {name: fc, op: add, inputs: [x, y], outputs: [h]}"),
       "g.yaml:9:5: node 'act' (relu): is part of a cycle",
       {"'fc'"}},
  };
}

void PrintTo(const ErrorParts& e, std::ostream* out) { *out << e.name; }

class GraphYamlErrorParts : public ::testing::TestWithParam<ErrorParts> {};

TEST_P(GraphYamlErrorParts, NamesTheNodeAndWhatFailed) {
  testing::expect_message(error_of(GetParam().text), GetParam().prefix, GetParam().phrases);
}

INSTANTIATE_TEST_SUITE_P(Texts, GraphYamlErrorParts, ::testing::ValuesIn(error_parts()),
                         testing::NameOfCase());

}  // namespace
}  // namespace rtscope
