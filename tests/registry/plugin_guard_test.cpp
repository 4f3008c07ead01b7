// Load-time and call-time guards against careless plugins: NULL required
// slots, C++ exceptions thrown through the C table, relative paths and the
// default search directory of an installed host.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "rtscope/compile_options.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/error_of.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

fs::path test_plugin(const std::string& name) {
  return fs::path(RTSCOPE_TEST_PLUGIN_DIR) / ("librtscope_plugin_" + name + ".so");
}

// Restores the working directory at the end of a scope.
class CurrentDirGuard {
 public:
  explicit CurrentDirGuard(const fs::path& dir) : old_(fs::current_path()) {
    fs::current_path(dir);
  }
  ~CurrentDirGuard() { fs::current_path(old_); }

 private:
  fs::path old_;
};

TEST(PluginGuard, NullRequiredSlotsAreRefusedAtLoadNamingFileAndSlots) {
  PluginRegistry registry;
  const std::string message =
      testing::error_of<PluginError>([&] { registry.load({.path = test_plugin("null_slots")}); });
  EXPECT_THAT(message,
              AllOf(HasSubstr(test_plugin("null_slots").string()), HasSubstr("'query_node'"),
                    HasSubstr("'execute'"), HasSubstr("RTS_REQUIRED_SLOTS")));
  EXPECT_EQ(registry.find("null_slots"), nullptr);
}

TEST(PluginGuard, RequiredSlotListMatchesTheCoreTable) {
  std::vector<std::string> slots;
#define RTSCOPE_TEST_COLLECT(slot) slots.push_back(#slot);
  RTS_REQUIRED_SLOTS(RTSCOPE_TEST_COLLECT)
#undef RTSCOPE_TEST_COLLECT
  EXPECT_THAT(slots, ElementsAre("init", "shutdown", "device_count", "device_info", "query_node",
                                 "build_engine", "serialize_engine", "deserialize_engine",
                                 "engine_info", "destroy_engine", "create_context",
                                 "destroy_context", "execute", "context_counters"));
}

// A graph with one node of `op` on two f32 inputs.
Graph binary_graph(const std::string& op) {
  Graph g;
  g.name = op + "_graph";
  g.inputs.push_back({"a", {DType::f32, {Dim::fixed(4)}}, {}});
  g.inputs.push_back({"b", {DType::f32, {Dim::fixed(4)}}, {}});
  g.nodes.push_back(Node{op + "_node", op, {"a", "b"}, {"y"}, {}, {}});
  g.outputs = {"y"};
  validate(g);
  return g;
}

TEST(PluginGuard, NonStandardExceptionFromAPluginBecomesPluginErrorNamingPluginAndSlot) {
  PluginRegistry registry;
  registry.load({.path = test_plugin("throwing")});
  const std::string message = testing::error_of<PluginError>([&] {
    partition_graph(binary_graph("add"), registry, CompileOptions{.backends = {"throwing"}});
  });
  EXPECT_THAT(message, AllOf(HasSubstr("plugin 'throwing'"), HasSubstr(test_plugin("throwing")),
                             HasSubstr("slot 'query_node'"), HasSubstr("int")));
}

TEST(PluginGuard, StdExceptionFromAPluginIsAttributedToPluginAndSlot) {
  PluginRegistry registry;
  registry.load({.path = test_plugin("throwing")});
  const std::string message = testing::error_of<PluginError>([&] {
    partition_graph(binary_graph("mul"), registry, CompileOptions{.backends = {"throwing"}});
  });
  EXPECT_THAT(message, AllOf(HasSubstr("plugin 'throwing'"), HasSubstr("slot 'query_node'"),
                             HasSubstr("std::runtime_error"),
                             HasSubstr("query_node exploded on 'mul_node'")));
}

TEST(PluginGuard, RelativePathIsLoadedFromTheWorkingDirectoryNotTheSystemPath) {
  TempDir dir;
  const std::string file = "librtscope_plugin_relative_copy.so";
  fs::copy_file(test_plugin("newer_minor"), dir / file);
  CurrentDirGuard cwd(dir.path());
  PluginRegistry registry(PluginRegistry::Options{.extra_dirs = {}, .use_default_dirs = false});
  EXPECT_EQ(registry.resolve({.path = file}), dir / file);
  auto plugin = registry.load({.path = file});
  EXPECT_EQ(plugin->path(), dir / file);
  EXPECT_TRUE(plugin->path().is_absolute());
}

TEST(PluginGuard, BuildTreeHostSearchesTheBuildTree) {
  PluginRegistry registry;
  const auto dirs = registry.search_dirs();
  EXPECT_THAT(dirs, ::testing::Contains(fs::path(RTSCOPE_PLUGIN_BUILD_DIR)));
}

TEST(PluginGuard, InstalledHostSearchesNextToItselfNeverTheBuildTree) {
  TempDir prefix;
  fs::create_directories(prefix / "lib");
  const auto dirs = PluginRegistry::default_dirs(prefix / "lib" / "librtscope_host.so.0");
  EXPECT_THAT(dirs, ElementsAre(prefix / "lib" / "rtscope" / "plugins"));
  EXPECT_THAT(dirs, Not(::testing::Contains(fs::path(RTSCOPE_PLUGIN_BUILD_DIR))));
}

TEST(PluginGuard, BuildTreeHostLibraryMapsToTheBuildTreePluginDir) {
  const fs::path build_host = fs::path(RTSCOPE_BINARY_DIR) / "host" / "librtscope_host.so";
  const auto dirs = PluginRegistry::default_dirs(build_host);
  ASSERT_FALSE(dirs.empty());
  EXPECT_EQ(dirs.front(), fs::path(RTSCOPE_PLUGIN_BUILD_DIR));
}

TEST(PluginGuard, ProbeProgramIsTheOneBesideTheHostLibrary) {
  TempDir prefix;
  fs::create_directories(prefix / "lib");
  EXPECT_EQ(PluginRegistry::probe_program(prefix / "lib" / "librtscope_host.so.0"),
            prefix / "lib" / "rtscope" / "rtscope-probe");
  const fs::path build_probe =
      PluginRegistry::probe_program(fs::path(RTSCOPE_BINARY_DIR) / "host" / "librtscope_host.so");
  EXPECT_TRUE(fs::exists(build_probe)) << build_probe;
  EXPECT_EQ(build_probe.filename(), "rtscope-probe");
}

}  // namespace
}  // namespace rtscope
