// RuntimeSettings: defaults, names, merging and equality.
#include "rtscope/runtime_settings.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "rtscope/error.hpp"
#include "rtscope/runtime_cache.hpp"
#include "support/error_of.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

using testing::error_of;

TEST(RuntimeSettings, Defaults) {
  RuntimeSettings s;
  EXPECT_EQ(s.kernel_specialization, KernelSpecialization::lazy);
  EXPECT_EQ(s.graph_capture, GraphCapture::disabled);
  EXPECT_TRUE(std::holds_alternative<NoCache>(s.runtime_cache));
  EXPECT_EQ(s.to_map().at("runtime_cache"), "none");
}

TEST(RuntimeSettings, NamesRoundTrip) {
  for (auto k :
       {KernelSpecialization::lazy, KernelSpecialization::eager, KernelSpecialization::none}) {
    EXPECT_EQ(kernel_specialization_from_string(to_string(k)), k);
  }
  for (auto g : {GraphCapture::disabled, GraphCapture::whole_graph}) {
    EXPECT_EQ(graph_capture_from_string(to_string(g)), g);
  }
}

TEST(RuntimeSettings, BadNameListsValidOnes) {
  EXPECT_THAT(error_of([] { kernel_specialization_from_string("eagerly"); }),
              AllOf(HasSubstr("'eagerly'"), HasSubstr("kernel_specialization"), HasSubstr("lazy"),
                    HasSubstr("eager"), HasSubstr("none")));
  EXPECT_THAT(error_of([] {
                RuntimeSettings{}.merge({{"graph_capture", "all"}});
              }),
              AllOf(HasSubstr("'all'"), HasSubstr("disabled"), HasSubstr("whole_graph")));
}

TEST(RuntimeSettings, UnknownOverrideKeyIsNamed) {
  EXPECT_THAT(error_of([] {
                RuntimeSettings{}.merge({{"graph_captur", "whole_graph"}});
              }),
              AllOf(HasSubstr("'graph_captur'"), HasSubstr("graph_capture"),
                    HasSubstr("kernel_specialization")));
}

TEST(RuntimeSettings, MergeChangesOnlyTheGivenKeys) {
  RuntimeSettings base;
  base.graph_capture = GraphCapture::whole_graph;
  RuntimeSettings merged = base.merge({{"kernel_specialization", "none"}});
  EXPECT_EQ(merged.kernel_specialization, KernelSpecialization::none);
  EXPECT_EQ(merged.graph_capture, GraphCapture::whole_graph);
  EXPECT_EQ(base.kernel_specialization, KernelSpecialization::lazy) << "merge must not mutate";
  RuntimeSettings with_path = base.merge({{"runtime_cache", "/tmp/x.bin"}});
  EXPECT_EQ(std::get<std::filesystem::path>(with_path.runtime_cache), "/tmp/x.bin");
  EXPECT_TRUE(
      std::holds_alternative<NoCache>(with_path.merge({{"runtime_cache", "none"}}).runtime_cache));
}

TEST(RuntimeSettings, EqualityComparesASharedCacheByIdentity) {
  RuntimeSettings a, b;
  EXPECT_EQ(a, b);
  b.kernel_specialization = KernelSpecialization::eager;
  EXPECT_NE(a, b);
  auto cache1 = std::make_shared<RuntimeCache>();
  auto cache2 = std::make_shared<RuntimeCache>();
  RuntimeSettings c, d;
  c.runtime_cache = cache1;
  d.runtime_cache = cache1;
  EXPECT_EQ(c, d);
  d.runtime_cache = cache2;
  EXPECT_NE(c, d) << "two distinct caches, even empty, are different settings";
}

}  // namespace
}  // namespace rtscope
