// kit::copy_graph's constants: viewed in place when the host promises that
// they outlive the engine (a mapped checkpoint then reaches the plugin
// without a host copy), copied otherwise, and copies of a ConstantDesc
// keep their bytes alive.
#include "rtscope/kit/graph_desc.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "rtscope/kit/engine_blob.hpp"

namespace rtscope::kit {
namespace {

// A graph of one f32[2, 3] constant over `values`.
struct OneConstant {
  explicit OneConstant(std::vector<float>& values) {
    constant.value.name = "w";
    constant.value.dtype = RTS_DTYPE_F32;
    constant.value.rank = 2;
    constant.value.dims[0] = constant.value.min_dims[0] = constant.value.max_dims[0] = 2;
    constant.value.dims[1] = constant.value.min_dims[1] = constant.value.max_dims[1] = 3;
    constant.data = values.data();
    constant.size_bytes = values.size() * sizeof(float);
    graph.struct_size = sizeof(graph);
    graph.name = "g";
    graph.constants = &constant;
    graph.n_constants = 1;
  }
  rts_constant constant{};
  rts_graph graph{};
};

std::vector<float> floats(std::span<const std::byte> bytes) {
  std::vector<float> out(bytes.size() / sizeof(float));
  std::memcpy(out.data(), bytes.data(), bytes.size());
  return out;
}

TEST(GraphDescConstants, LentConstantsAreViewedInPlace) {
  std::vector<float> values = {1.5f, -2, 3, 4, 5, 6.25f};
  OneConstant one(values);
  one.graph.constants_outlive_engine = 1;
  const GraphDesc desc = copy_graph(one.graph);
  ASSERT_EQ(desc.constants.size(), 1u);
  const ConstantDesc& constant = desc.constants[0];
  EXPECT_TRUE(constant.borrowed());
  EXPECT_EQ(static_cast<const void*>(constant.bytes.data()), values.data());
  EXPECT_EQ(constant.bytes.size(), values.size() * sizeof(float));
  values[1] = 7;  // the view sees the host's memory
  EXPECT_EQ(floats(constant.bytes)[1], 7);
}

TEST(GraphDescConstants, WithoutThePromiseConstantsAreCopied) {
  std::vector<float> values = {1.5f, -2, 3, 4, 5, 6.25f};
  OneConstant one(values);
  const GraphDesc desc = copy_graph(one.graph);
  const ConstantDesc& constant = desc.constants[0];
  EXPECT_FALSE(constant.borrowed());
  EXPECT_NE(static_cast<const void*>(constant.bytes.data()), values.data());
  const std::vector<float> expected = values;
  values.assign(values.size(), 0);  // the host may reuse its memory after the call
  EXPECT_EQ(floats(constant.bytes), expected);
}

TEST(GraphDescConstants, AGraphFromAnOlderHostIsCopied) {
  std::vector<float> values = {1, 2, 3, 4, 5, 6};
  OneConstant one(values);
  // An ABI 1.1 host's rts_graph ends before the field; whatever follows
  // in memory is not a promise.
  one.graph.struct_size = offsetof(rts_graph, constants_outlive_engine);
  one.graph.constants_outlive_engine = 1;
  const GraphDesc desc = copy_graph(one.graph);
  EXPECT_FALSE(desc.constants[0].borrowed());
  EXPECT_NE(static_cast<const void*>(desc.constants[0].bytes.data()), values.data());
  EXPECT_EQ(floats(desc.constants[0].bytes), values);
}

TEST(GraphDescConstants, CopiesOfACopiedConstantShareItsBytes) {
  std::vector<float> values = {1, 2, 3, 4, 5, 6};
  OneConstant one(values);
  ConstantDesc kept;
  {
    const GraphDesc desc = copy_graph(one.graph);
    kept = desc.constants[0];  // e.g. a segment of the graph
  }
  EXPECT_EQ(floats(kept.bytes), values);
}

TEST(GraphDescConstants, AnEngineBlobOfLentConstantsHoldsTheirValues) {
  std::vector<float> values = {1.5f, -2, 3, 4, 5, 6.25f};
  OneConstant one(values);
  one.graph.constants_outlive_engine = 1;
  const GraphDesc desc = copy_graph(one.graph);
  const EngineBlobFormat format{"test", {'T', 'E', 'S', 'T', 'B', 'L', 'O', 'B'}, 1, "1.0"};
  std::vector<unsigned char> blob;
  rts_blob_sink sink{};
  sink.user = &blob;
  sink.write = [](void* user, const void* data, uint64_t size) {
    auto* out = static_cast<std::vector<unsigned char>*>(user);
    const auto* bytes = static_cast<const unsigned char*>(data);
    out->insert(out->end(), bytes, bytes + size);
    return 0;
  };
  write_engine_blob(sink, format, desc);
  const std::vector<float> expected = values;
  values.assign(values.size(), 0);
  const GraphDesc read = read_engine_blob(format, blob.data(), blob.size());
  EXPECT_FALSE(read.constants[0].borrowed());
  EXPECT_EQ(floats(read.constants[0].bytes), expected);
}

}  // namespace
}  // namespace rtscope::kit
