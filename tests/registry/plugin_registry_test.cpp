// PluginRegistry: search order, ABI negotiation and every load error path,
// against real plugins built deliberately wrong (tests/plugins/).
#include "rtscope/plugin_registry.hpp"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "rtscope/error.hpp"
#include "support/env_guard.hpp"
#include "support/temp_dir.hpp"

namespace rtscope {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using testing::EnvGuard;
using ::testing::HasSubstr;
using testing::TempDir;

fs::path test_plugin(const std::string& name) {
  return fs::path(RTSCOPE_TEST_PLUGIN_DIR) / ("librtscope_plugin_" + name + ".so");
}

fs::path built_plugin(const std::string& name) {
  return fs::path(RTSCOPE_PLUGIN_BUILD_DIR) / name / ("librtscope_plugin_" + name + ".so");
}

std::string load_error(PluginRegistry& registry, const PluginSpec& spec) {
  try {
    registry.load(spec);
  } catch (const PluginError& e) {
    return e.what();
  }
  ADD_FAILURE() << "loading " << spec.label() << " did not fail";
  return {};
}

TEST(PluginRegistry, LoadsBundledPluginsByName) {
  PluginRegistry registry;
  auto cpu = registry.load({.name = "cpu"});
  auto testing = registry.load({.name = "testing"});
  EXPECT_EQ(cpu->id(), "cpu");
  EXPECT_EQ(testing->id(), "testing");
  EXPECT_EQ(cpu->abi_major(), RTS_ABI_VERSION_MAJOR);
  ASSERT_FALSE(cpu->devices().empty());
  EXPECT_FALSE(cpu->devices()[0].fingerprint.empty());
  EXPECT_EQ(registry.get("cpu"), cpu);
  EXPECT_EQ(registry.load({.name = "cpu"}), cpu) << "a loaded id is reused";
}

TEST(PluginRegistry, NotFoundListsEverySearchedDirectory) {
  TempDir env_dir;
  EnvGuard env("RTSCOPE_PLUGIN_PATH", env_dir.path().string());
  PluginRegistry registry(PluginRegistry::Options{.extra_dirs = {"/nonexistent/extra"}});
  const std::string message = load_error(registry, {.name = "nosuch"});
  EXPECT_THAT(message,
              AllOf(HasSubstr("librtscope_plugin_nosuch.so"), HasSubstr(env_dir.path().string()),
                    HasSubstr("/nonexistent/extra"), HasSubstr(RTSCOPE_PLUGIN_BUILD_DIR)));
}

TEST(PluginRegistry, SearchOrderIsExplicitThenEnvThenBuildTree) {
  TempDir env_dir;
  fs::copy_file(built_plugin("testing"), env_dir / "librtscope_plugin_testing.so");
  EnvGuard env("RTSCOPE_PLUGIN_PATH", "/nonexistent/first:" + env_dir.path().string());
  PluginRegistry registry;

  const auto dirs = registry.search_dirs();
  ASSERT_GE(dirs.size(), 4u);
  EXPECT_EQ(dirs[0], "/nonexistent/first");
  EXPECT_EQ(dirs[1], env_dir.path());
  EXPECT_EQ(dirs[2], fs::path(RTSCOPE_PLUGIN_BUILD_DIR));

  EXPECT_EQ(registry.resolve({.name = "testing"}), env_dir / "librtscope_plugin_testing.so");
  EXPECT_EQ(registry.resolve({.name = "cpu"}), built_plugin("cpu"));
  EXPECT_EQ(registry.resolve({.name = "testing", .path = built_plugin("testing")}),
            built_plugin("testing"))
      << "an explicit path wins over the search path";
}

TEST(PluginRegistry, DlopenFailureCarriesTheRealDlerrorText) {
  PluginRegistry registry;
  EXPECT_THAT(load_error(registry, {.path = test_plugin("unresolved")}),
              AllOf(HasSubstr(test_plugin("unresolved").string()), HasSubstr("undefined symbol")));
  const fs::path not_elf = fs::path(RTSCOPE_TEST_PLUGIN_DIR) / "not_a_library.so";
  EXPECT_THAT(load_error(registry, {.path = not_elf}),
              AllOf(HasSubstr(not_elf.string()), HasSubstr("invalid ELF header")));
}

TEST(PluginRegistry, MissingEntrySymbolIsNamed) {
  PluginRegistry registry;
  EXPECT_THAT(load_error(registry, {.path = test_plugin("no_entry")}),
              AllOf(HasSubstr(test_plugin("no_entry").string()), HasSubstr("rts_plugin_entry")));
}

TEST(PluginRegistry, MajorMismatchNamesBothVersionsAndTheFile) {
  PluginRegistry registry;
  const std::string message = load_error(registry, {.path = test_plugin("bad_major")});
  EXPECT_THAT(message, AllOf(HasSubstr(test_plugin("bad_major").string()),
                             HasSubstr("ABI " + std::to_string(RTS_ABI_VERSION_MAJOR + 1) + "."),
                             HasSubstr("ABI " + std::to_string(RTS_ABI_VERSION_MAJOR) + "."),
                             HasSubstr("rebuild")));
}

TEST(PluginRegistry, InitFailureCarriesThePluginsMessage) {
  PluginRegistry registry;
  EXPECT_THAT(load_error(registry, {.path = test_plugin("failing_init")}),
              HasSubstr("no device available: simulated init failure"));
}

TEST(PluginRegistry, NewerMinorIsNegotiatedDownToTheHosts) {
  PluginRegistry registry;
  auto plugin = registry.load({.path = test_plugin("newer_minor")});
  EXPECT_GT(plugin->api().abi_minor, RTS_ABI_VERSION_MINOR);
  EXPECT_EQ(plugin->abi_minor(), RTS_ABI_VERSION_MINOR);
}

TEST(PluginRegistry, InitialisesAPluginLibraryOncePerLoad) {
  // The open that captures dlerror's text must not unload the library before
  // the real open: its constructors (a BLAS starting threads) would run twice.
  TempDir dir;
  const fs::path log = dir.path() / "loads.txt";
  EnvGuard env("RTSCOPE_TEST_LOAD_LOG", log.string());
  {
    PluginRegistry registry;
    auto plugin = registry.load({.path = test_plugin("counts_loads")});
    EXPECT_EQ(plugin->id(), "counts_loads");
  }
  std::ifstream file(log);
  std::vector<std::string> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(line);
  EXPECT_EQ(lines.size(), 1u) << "the library's constructor ran " << lines.size() << " times";
}

class PluginRegistryLoadEach : public ::testing::TestWithParam<bool> {};

// On threads at once or in turn, the same outcomes and registration order.
TEST_P(PluginRegistryLoadEach, RegistersInTheSpecsOrder) {
  PluginRegistry registry;
  const std::vector<PluginSpec> specs = {
      {.name = "testing"},
      {.path = test_plugin("bad_major")},
      {.name = "cpu"},
      {.name = "testing"},  // the same id twice: one plugin
  };
  const auto outcomes = registry.load_each(specs, GetParam());
  ASSERT_EQ(outcomes.size(), specs.size());
  ASSERT_TRUE(outcomes[0].plugin);
  EXPECT_EQ(outcomes[0].plugin->id(), "testing");
  EXPECT_FALSE(outcomes[1].plugin);
  ASSERT_TRUE(outcomes[1].error);
  try {
    std::rethrow_exception(outcomes[1].error);
  } catch (const PluginError& e) {
    // The same text a plain load gives.
    PluginRegistry other;
    EXPECT_EQ(std::string(e.what()), load_error(other, specs[1]));
  }
  ASSERT_TRUE(outcomes[2].plugin);
  EXPECT_EQ(outcomes[2].plugin->id(), "cpu");
  EXPECT_EQ(outcomes[3].plugin, outcomes[0].plugin);
  for (const auto& outcome : outcomes) EXPECT_GT(outcome.ms, 0.0);
  const auto loaded = registry.plugins();
  ASSERT_EQ(loaded.size(), 2u);
  EXPECT_EQ(loaded[0]->id(), "testing");
  EXPECT_EQ(loaded[1]->id(), "cpu");
}

INSTANTIATE_TEST_SUITE_P(Registry, PluginRegistryLoadEach, ::testing::Bool(), [](const auto& info) {
  return std::string(info.param ? "concurrently" : "in_turn");
});

TEST(PluginRegistry, OneBadPluginNeverStopsTheOthers) {
  PluginRegistry registry;
  const auto failures = registry.load_all({
      {.path = test_plugin("bad_major")},
      {.name = "cpu"},
      {.path = test_plugin("failing_init"), .optional = true},
      {.name = "nosuch", .optional = true},
      {.name = "testing"},
  });
  ASSERT_EQ(failures.size(), 3u);
  EXPECT_THAT(failures[0].message, HasSubstr("bad_major"));
  EXPECT_THAT(failures[1].message, HasSubstr("simulated init failure"));
  EXPECT_THAT(failures[2].message, HasSubstr("nosuch"));
  EXPECT_NE(registry.find("cpu"), nullptr);
  EXPECT_NE(registry.find("testing"), nullptr);
  EXPECT_EQ(registry.plugins().size(), 2u);
}

TEST(PluginRegistry, GetUnknownIdListsLoadedOnes) {
  PluginRegistry registry;
  registry.load({.name = "testing"});
  try {
    registry.get("vulkan");
    FAIL() << "expected PluginError";
  } catch (const PluginError& e) {
    EXPECT_THAT(std::string(e.what()), AllOf(HasSubstr("'vulkan'"), HasSubstr("testing")));
  }
}

TEST(PluginRegistry, PluginStaysLoadedWhileAnObjectMadeFromItLives) {
  const fs::path path = test_plugin("newer_minor");
  std::shared_ptr<Plugin> kept;
  {
    PluginRegistry registry;
    kept = registry.load({.path = path});
  }
  // RTLD_NOLOAD only finds a library that is still mapped.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr) << "library unloaded while a Plugin object is alive";
  dlclose(handle);
  EXPECT_EQ(kept->devices().size(), 1u);
  kept.reset();
  handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  EXPECT_EQ(handle, nullptr) << "library still mapped after the last object went away";
  if (handle) dlclose(handle);
}

}  // namespace
}  // namespace rtscope
