// kit::OpTable, kit/op_attrs.hpp and kit::OneDeviceBackend on a stand-in
// backend: the schema's checks in the backend's words, the shared part of
// query_node, whole-graph shape inference, and attributes resolved against
// concrete shapes.
#include "rtscope/kit/op_table.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <array>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "rtscope/kit/op_attrs.hpp"
#include "rtscope/kit/resolved_graph.hpp"
#include "support/abi_values.hpp"

namespace rtscope::kit {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

struct DemoSpec {
  const char* op;
  const char* kernel_name;
  const char* static_kernel_name = nullptr;
  bool (*data_dependent)(const NodeDesc&) = nullptr;
  bool float_data_only = false;
};

bool nonzero_is_data_dependent(const NodeDesc& node) { return node.attr_int("max_count", 0) <= 0; }

const DemoSpec kSpecs[] = {
    {.op = "add", .kernel_name = "demo.add"},
    {.op = "relu", .kernel_name = "demo.relu"},
    {.op = "argmax", .kernel_name = "demo.argmax", .float_data_only = true},
    {.op = "nonzero",
     .kernel_name = "demo.nonzero",
     .static_kernel_name = "demo.nonzero_padded",
     .data_dependent = nonzero_is_data_dependent},
};

const OpTable<DemoSpec>& table() {
  static const OpTable<DemoSpec> demo("demo", {kSpecs});
  return demo;
}

NodeDesc node(const std::string& op, std::vector<std::string> inputs,
              std::vector<AttrDesc> attrs = {}) {
  NodeDesc desc;
  desc.name = "n";
  desc.op = op;
  desc.inputs = std::move(inputs);
  desc.outputs = {"y"};
  desc.attrs = std::move(attrs);
  return desc;
}

AttrDesc int_attr(const std::string& name, int64_t value) {
  AttrDesc attr;
  attr.name = name;
  attr.i = value;
  return attr;
}

template <typename Body>
Error error_of(Body&& body) {
  try {
    body();
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "expected an Error";
  return Error(RTS_OK, "");
}

class DemoBackend : public OneDeviceBackend {
 public:
  static constexpr EngineBlobFormat kFormat = {
      "demo", {'D', 'E', 'M', 'O', 'B', 'L', 'O', 'B'}, 1, "0.1.0"};
  DemoBackend() : OneDeviceBackend(nullptr, RTS_ABI_VERSION_MINOR, kFormat, describe()) {}
  rts_support query_node(uint32_t, const NodeDesc&, const rts_value*, const rts_value*) override {
    return {};
  }
  std::unique_ptr<Engine> build_engine(uint32_t, GraphDesc) override { return nullptr; }

 private:
  static rts_device_info describe() {
    rts_device_info info{};
    info.struct_size = sizeof(info);
    info.memory_bytes = 1234;
    return info;
  }
};

TEST(OpTable, FindsSpecsByOpAndNamesTheUnknownOnes) {
  ASSERT_NE(table().find("relu"), nullptr);
  EXPECT_STREQ(table().find("relu")->kernel_name, "demo.relu");
  EXPECT_EQ(table().find("matmul"), nullptr);
  EXPECT_STREQ(table().unknown_op(), "demo: unknown op");
  const Error error = error_of([] { table().bind(node("matmul", {"a", "b"})); });
  EXPECT_EQ(error.status(), RTS_ERROR_UNSUPPORTED);
  EXPECT_STREQ(error.what(), "node 'n' (matmul): demo: unknown op");
}

TEST(OpTable, ASpecForAnOpTheSchemaLacksIsABugOfThePlugin) {
  const DemoSpec bad[] = {{.op = "no_such_op", .kernel_name = "demo.bad"}};
  try {
    const OpTable<DemoSpec> broken("demo", {bad});
    FAIL() << "expected a logic_error";
  } catch (const std::logic_error& error) {
    EXPECT_STREQ(error.what(), "demo: no op schema for 'no_such_op'");
  }
}

TEST(OpTable, ChecksDtypesInTheSchemasAndTheBackendsWords) {
  const DemoSpec& argmax = *table().find("argmax");
  EXPECT_EQ(table().check_input_types(argmax, std::vector{RTS_DTYPE_F32}), "");
  EXPECT_EQ(table().check_input_types(argmax, std::vector{RTS_DTYPE_I64}),
            "input 0 is i64; the demo kernel takes only f32 or f16");
  EXPECT_NE(table().check_input_types(argmax, std::vector<rts_dtype>{}), "");
  EXPECT_EQ(table().input_kind(argmax, 0), InputKind::kFloat);
  EXPECT_EQ(table().output_dtype(argmax, std::vector{RTS_DTYPE_F16}), RTS_DTYPE_I64);
  const DemoSpec& add = *table().find("add");
  EXPECT_EQ(table().float_dtype(add, std::vector{RTS_DTYPE_F16, RTS_DTYPE_F16}), RTS_DTYPE_F16);
  EXPECT_EQ(table().output_dtype(add, std::vector{RTS_DTYPE_F16, RTS_DTYPE_F16}), RTS_DTYPE_F16);
}

TEST(OpTable, RefusesUnknownAttributesNamingTheNode) {
  const DemoSpec& relu = *table().find("relu");
  const NodeDesc bad = node("relu", {"x"}, {int_attr("bogus", 1)});
  EXPECT_THAT(table().check_attrs(relu, bad), HasSubstr("bogus"));
  EXPECT_EQ(table().check_attrs(relu, node("relu", {"x"})), "");
  const Error error = error_of([&] { table().check_node(relu, bad, std::vector{RTS_DTYPE_F32}); });
  EXPECT_EQ(error.status(), RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_THAT(error.what(), AllOf(StartsWith("node 'n' (relu): "), HasSubstr("bogus")));
}

TEST(OpTable, InfersOutputDimsAndNamesTheNodeOfABadShape) {
  const DemoSpec& add = *table().find("add");
  const NodeDesc desc = node("add", {"a", "b"});
  const Dims a = {2, 3};
  const Dims b = {3};
  const Dims c = {4};
  const std::vector<rts_dtype> dtypes = {RTS_DTYPE_F32, RTS_DTYPE_F32};
  std::vector<Dims> out(1);
  const std::vector<const Dims*> good = {&a, &b};
  table().infer_output_dims(add, desc, dtypes, good, out);
  EXPECT_THAT(out[0], ElementsAre(2, 3));
  const std::vector<const Dims*> bad = {&a, &c};
  const Error error = error_of([&] { table().infer_output_dims(add, desc, dtypes, bad, out); });
  EXPECT_THAT(error.what(), AllOf(StartsWith("node 'n' (add): "), HasSubstr("cannot broadcast")));
}

TEST(OpTable, NamesTheKernelOfADataDependentOpByItsStaticForm) {
  const DemoSpec& nonzero = *table().find("nonzero");
  const NodeDesc padded = node("nonzero", {"x"}, {int_attr("max_count", 4)});
  const NodeDesc exact = node("nonzero", {"x"});
  EXPECT_FALSE(is_data_dependent(nonzero, padded));
  EXPECT_TRUE(is_data_dependent(nonzero, exact));
  EXPECT_STREQ(kernel_name_for(nonzero, padded), "demo.nonzero_padded");
  EXPECT_STREQ(kernel_name_for(nonzero, exact), "demo.nonzero");
}

TEST(OpTable, QueryNodeAnswersTheSharedChecksAndTheBackendsOwn) {
  DemoBackend backend;
  std::vector<rts_dtype> dtypes;
  rts_support answer{};
  auto no_device_check = [](const DemoSpec&, std::span<const rts_dtype>) { return std::string(); };
  const rts_value x = testing::static_value("x", RTS_DTYPE_F32, {2, 3});
  const rts_value y_f32 = testing::static_value("y", RTS_DTYPE_F32, {2, 3});
  const rts_value y_f16 = testing::static_value("y", RTS_DTYPE_F16, {2, 3});

  EXPECT_EQ(table().query_node(backend, node("matmul", {"x"}), &x, nullptr, dtypes, answer,
                               no_device_check),
            nullptr);
  EXPECT_EQ(answer.supported, 0);
  EXPECT_STREQ(answer.detail, "demo: unknown op");

  const DemoSpec* spec =
      table().query_node(backend, node("relu", {"x"}), &x, &y_f32, dtypes, answer, no_device_check);
  ASSERT_NE(spec, nullptr);
  EXPECT_STREQ(spec->kernel_name, "demo.relu");
  EXPECT_EQ(answer.supported, 1);
  EXPECT_EQ(answer.needs_output_allocation, 0);
  EXPECT_THAT(dtypes, ElementsAre(RTS_DTYPE_F32));

  EXPECT_EQ(
      table().query_node(backend, node("relu", {"x"}), &x, &y_f16, dtypes, answer, no_device_check),
      nullptr);
  EXPECT_THAT(answer.detail,
              AllOf(StartsWith("demo: relu: "), HasSubstr("output is declared f16")));

  auto refuse = [](const DemoSpec&, std::span<const rts_dtype>) {
    return std::string("no relu on this device");
  };
  EXPECT_EQ(table().query_node(backend, node("relu", {"x"}), &x, nullptr, dtypes, answer, refuse),
            nullptr);
  EXPECT_STREQ(answer.detail, "demo: relu: no relu on this device");

  spec = table().query_node(backend, node("nonzero", {"x"}), &x, nullptr, dtypes, answer,
                            no_device_check);
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(answer.needs_output_allocation, 1);
}

TEST(OpTable, InfersEveryValueOfAResolvedGraph) {
  struct Node : ResolvedNode {
    const DemoSpec* spec = nullptr;
  };
  struct Typer {
    void bind(Node& n) const { n.spec = &table().bind(*n.desc); }
    rts_dtype type(Node& n, std::span<const rts_dtype> dtypes) const {
      table().check_node(*n.spec, *n.desc, dtypes);
      return table().output_dtype(*n.spec, dtypes);
    }
  };
  GraphDesc desc;
  desc.name = "g";
  desc.inputs.push_back(copy_value(testing::static_value("x", RTS_DTYPE_F32, {2, 3}), "input"));
  ConstantDesc bias;
  bias.value = copy_value(testing::static_value("b", RTS_DTYPE_F32, {3}), "constant");
  const float bias_values[3] = {};
  bias.assign_copy(bias_values, sizeof(bias_values));
  desc.constants.push_back(bias);
  NodeDesc add = node("add", {"x", "b"});
  add.outputs = {"s"};
  desc.nodes.push_back(add);
  desc.nodes.push_back(node("relu", {"s"}));
  desc.outputs.push_back(copy_value(testing::static_value("y", RTS_DTYPE_F32, {2, 3}), "output"));
  const ResolvedGraph<ResolvedValue, Node> graph(desc, Typer{});

  const std::vector<Dims> dims = table().infer_dims(graph, std::vector<Dims>{{2, 3}});
  EXPECT_THAT(dims[graph.find_value("b")], ElementsAre(3));
  EXPECT_THAT(dims[graph.find_value("s")], ElementsAre(2, 3));
  EXPECT_THAT(dims[graph.find_value("y")], ElementsAre(2, 3));
  const Error error = error_of([&] { table().infer_dims(graph, std::vector<Dims>{{2, 4}}); });
  EXPECT_THAT(error.what(), HasSubstr("input 'x'"));
}

TEST(OneDeviceBackend, HasOneDeviceAndRefusesEveryOtherIndex) {
  DemoBackend backend;
  EXPECT_EQ(backend.device_count(), 1u);
  EXPECT_EQ(backend.device_info(0).memory_bytes, 1234u);
  const Error error = error_of([&] { backend.device_info(1); });
  EXPECT_EQ(error.status(), RTS_ERROR_INVALID_ARGUMENT);
  EXPECT_STREQ(error.what(), "the demo plugin has one device (0), got device 1");
}

TEST(OpAttrs, ResolvesAxesPermutationsSlicesAndAxisViews) {
  const NodeDesc desc = node("transpose", {"x"});
  EXPECT_EQ(normalize_axis(desc, -1, 3), 2);
  EXPECT_STREQ(error_of([&] { normalize_axis(desc, 3, 3); }).what(),
               "node 'n' (transpose): axis 3 is out of range for rank 3");

  AttrDesc perm;
  perm.name = "perm";
  perm.type = RTS_ATTR_INTS;
  perm.ints = {-1, 0};
  const std::array<int, RTS_MAX_RANK> resolved = resolve_perm(node("transpose", {"x"}, {perm}), 2);
  EXPECT_EQ(resolved[0], 1);
  EXPECT_EQ(resolved[1], 0);
  perm.ints = {1, 1};
  EXPECT_THAT(error_of([&] { resolve_perm(node("transpose", {"x"}, {perm}), 2); }).what(),
              HasSubstr("perm [1,1] is not a permutation"));

  const NodeDesc slice =
      node("slice", {"x"}, {int_attr("axis", 1), int_attr("start", -2), int_attr("end", 100)});
  const SliceRange range = resolve_slice(slice, Dims{3, 5});
  EXPECT_EQ(range.axis, 1);
  EXPECT_EQ(range.start, 3);
  EXPECT_EQ(range.end, 5);

  const AxisView view =
      view_around_axis(node("softmax", {"x"}, {int_attr("axis", 1)}), Dims{2, 3, 4});
  EXPECT_EQ(view.outer, 2);
  EXPECT_EQ(view.length, 3);
  EXPECT_EQ(view.inner, 4);
  EXPECT_THAT(contiguous_strides(Dims{2, 3, 4}), ElementsAre(12, 4, 1));
}

}  // namespace
}  // namespace rtscope::kit
