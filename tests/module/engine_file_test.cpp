// Engine files: round trip through the host header, and every header field
// checked on load with a message that names it and says to rebuild.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstring>
#include <sstream>
#include <utility>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_abi.h"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/templates.hpp"
#include "support/error_of.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class EngineFileTest : public testing::ScaleReluOnTesting {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(ScaleReluOnTesting::SetUp());
    std::ostringstream out;
    module_->save(out);
    bytes_ = out.str();
  }

  std::string load_error(const std::string& bytes) {
    std::istringstream in(bytes);
    return testing::error_of([&] { Module::load(in, "model.engine", registry_); });
  }

  // Replaces the first occurrence of `from` by `to` (same length).
  std::string patched(const std::string& from, const std::string& to) const {
    std::string copy = bytes_;
    const auto at = copy.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    EXPECT_EQ(from.size(), to.size());
    if (at != std::string::npos) copy.replace(at, from.size(), to);
    return copy;
  }

  std::string bytes_;
};

TEST_F(EngineFileTest, RoundTripRunsTheSameEngine) {
  testing::TempDir dir;
  const std::string path = (dir / "scale_relu.engine").string();
  module_->save(path);
  auto loaded = Module::load(path, registry_);
  EXPECT_EQ(loaded->name(), module_->name());
  ASSERT_EQ(loaded->inputs().size(), 1u);
  EXPECT_EQ(loaded->inputs()[0].name, "x");
  EXPECT_EQ(loaded->stats().contexts_created, 0u);

  const Tensor x = Tensor::random(DType::f32, {16}, 9);
  const Tensor a = module_->execute({x})[0];
  const Tensor b = loaded->execute({x})[0];
  ASSERT_EQ(a.numel(), b.numel());
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_EQ(a.data_as<float>()[i], b.data_as<float>()[i]);
}

TEST_F(EngineFileTest, BadMagicIsNotAnEngineFile) {
  EXPECT_THAT(load_error("hello world, definitely not an engine"),
              AllOf(HasSubstr("model.engine"), HasSubstr("not an rtscope engine file")));
}

TEST_F(EngineFileTest, TruncationAtAnyLengthIsAnErrorNotACrash) {
  for (std::size_t length = 0; length < bytes_.size(); length += 7) {
    EXPECT_FALSE(load_error(bytes_.substr(0, length)).empty()) << length;
  }
}

TEST_F(EngineFileTest, PluginVersionMismatchNamesTheFieldAndSaysRebuild) {
  EXPECT_THAT(load_error(patched("0.1.0", "0.0.9")),
              AllOf(HasSubstr("plugin 'testing' version"), HasSubstr("0.0.9"), HasSubstr("0.1.0"),
                    HasSubstr("rebuild")));
}

TEST_F(EngineFileTest, DeviceFingerprintMismatchIsNamed) {
  EXPECT_THAT(
      load_error(patched("testing/virtual/0", "testing/virtual/7")),
      AllOf(HasSubstr("device fingerprint"), HasSubstr("testing/virtual/7"), HasSubstr("rebuild")));
}

TEST_F(EngineFileTest, BindingMismatchIsNamed) {
  // The binding name 'x' follows its length prefix 1 in the header.
  const std::string name_field = std::string("\x01\0\0\0x", 5);
  EXPECT_THAT(load_error(patched(name_field, std::string("\x01\0\0\0q", 5))),
              AllOf(HasSubstr("input bindings"), HasSubstr("rebuild")));
}

TEST_F(EngineFileTest, FormatVersionMismatchIsNamed) {
  std::string copy = bytes_;
  copy[8] = static_cast<char>(copy[8] + 1);
  EXPECT_THAT(load_error(copy), AllOf(HasSubstr("format version"), HasSubstr("rebuild")));
}

TEST_F(EngineFileTest, CorruptBlobFailsTheChecksum) {
  std::string copy = bytes_;
  copy.back() = static_cast<char>(copy.back() ^ 0x5a);
  EXPECT_THAT(load_error(copy), HasSubstr("checksum"));
}

TEST_F(EngineFileTest, UnloadedPluginIsNamed) {
  PluginRegistry empty;
  std::istringstream in(bytes_);
  try {
    Module::load(in, "model.engine", empty);
    FAIL();
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), AllOf(HasSubstr("'testing'"), HasSubstr("not loaded")));
  }
}

// A header up to and including the alias count, with no bindings.
std::string header_with_alias_count(uint32_t aliases) {
  std::string bytes("RTSENGN\0", 8);
  auto u32 = [&bytes](uint32_t value) { bytes.append(reinterpret_cast<const char*>(&value), 4); };
  u32(3);  // format version
  u32(RTS_ABI_VERSION_MAJOR);
  u32(0);                              // ABI minor
  for (int i = 0; i < 4; ++i) u32(0);  // name, plugin id, version, fingerprint: ""
  u32(0);                              // inputs
  u32(0);                              // outputs
  u32(aliases);
  return bytes;
}

// Was a 3.2 GB allocation for 2^28 aliases before a single one was read.
TEST_F(EngineFileTest, CountsAreBoundedByTheBytesLeftInTheFile) {
  EXPECT_THAT(load_error(header_with_alias_count(uint32_t{1} << 28)),
              AllOf(HasSubstr("model.engine is corrupt"), HasSubstr("alias map"),
                    HasSubstr("268435456 entries (at least 3221225472 bytes)"),
                    HasSubstr("is more than the 0 bytes left"), HasSubstr("rebuild")));
}

// The plugin blob's size field sits right before its checksum and bytes.
TEST_F(EngineFileTest, BlobSizeIsBoundedByTheBytesLeftInTheFile) {
  std::size_t at = std::string::npos;
  for (std::size_t offset = 0; offset + 16 <= bytes_.size(); ++offset) {
    uint64_t size = 0;
    std::memcpy(&size, bytes_.data() + offset, sizeof(size));
    if (offset + 16 + size == bytes_.size()) at = offset;
  }
  ASSERT_NE(at, std::string::npos);
  std::string copy = bytes_;
  const uint64_t huge = uint64_t{1} << 39;  // was allocated (512 GiB) before reading
  std::memcpy(copy.data() + at, &huge, sizeof(huge));
  EXPECT_THAT(load_error(copy),
              AllOf(HasSubstr("is corrupt: the plugin blob of 549755813888 bytes"),
                    HasSubstr("bytes left in the file")));
}

// A directory or FIFO used to fail as "truncated" or block in open().
TEST_F(EngineFileTest, PathThatIsNotARegularFileSaysWhatItIs) {
  testing::TempDir dir;
  ASSERT_EQ(mkfifo((dir / "fifo.engine").c_str(), 0600), 0);
  for (const auto& [path, kind] :
       {std::pair{dir.path().string(), "is a directory, not a regular file"},
        std::pair{(dir / "fifo.engine").string(), "is a FIFO (named pipe), not a regular file"},
        std::pair{std::string("/dev/zero"), "is a character device, not a regular file"},
        std::pair{(dir / "absent.engine").string(), "not found"}}) {
    try {
      Module::load(path, registry_);
      ADD_FAILURE() << path << " loaded";
    } catch (const InputError& e) {
      EXPECT_THAT(std::string(e.what()), AllOf(HasSubstr(path), HasSubstr(kind)));
    }
  }
}

}  // namespace
}  // namespace rtscope

namespace rtscope {
namespace {

TEST(EngineFileAliases, RoundTripKeepsTheKvCacheAliasMap) {
  PluginRegistry registry;
  registry.load({.name = "cpu"});
  DecoderParams params{.layers = 1, .d_model = 32, .heads = 2, .vocab = 40, .max_seq = 16};
  auto model = Model::build(build_decoder(params), registry, {.backends = {"cpu"}});
  const Module& module = *model->modules()[0];
  ASSERT_EQ(module.aliases().size(), 2u) << "k and v cache updates alias their inputs";
  for (const auto& alias : module.aliases()) {
    EXPECT_EQ(alias.kind, RTS_ALIAS_KV_CACHE_UPDATE);
    EXPECT_EQ(module.outputs()[alias.output].dtype, module.inputs()[alias.input].dtype);
    EXPECT_EQ(module.outputs()[alias.output].dims, module.inputs()[alias.input].dims);
  }
  std::stringstream file;
  module.save(file);
  auto loaded = Module::load(file, "decoder.engine", registry);
  ASSERT_EQ(loaded->aliases().size(), module.aliases().size());
  for (std::size_t i = 0; i < module.aliases().size(); ++i) {
    EXPECT_EQ(loaded->aliases()[i].output, module.aliases()[i].output);
    EXPECT_EQ(loaded->aliases()[i].input, module.aliases()[i].input);
    EXPECT_EQ(loaded->aliases()[i].kind, module.aliases()[i].kind);
  }
}

TEST(EngineFileAliases, FileFromBeforeTheAliasMapIsRejectedWithRebuild) {
  PluginRegistry registry;
  registry.load({.name = "testing"});
  auto model = Model::build(testing::scale_relu_graph(), registry, {.backends = {"testing"}});
  std::ostringstream out;
  model->modules()[0]->save(out);
  std::string bytes = out.str();
  bytes[8] = 1;  // format version 1 had no alias map
  std::istringstream in(bytes);
  try {
    Module::load(in, "old.engine", registry);
    FAIL() << "a version-1 engine file was accepted";
  } catch (const InputError& e) {
    EXPECT_THAT(std::string(e.what()), AllOf(HasSubstr("old.engine"), HasSubstr("format version"),
                                             HasSubstr("file: 1"), HasSubstr("rebuild")));
  }
}

// The compile-options block as Module::save writes it (format 3).
std::string options_block(const std::string& backends, bool fallback, bool full) {
  std::string block;
  auto u32 = [&](uint32_t v) { block.append(reinterpret_cast<const char*>(&v), sizeof(v)); };
  auto str = [&](const std::string& text) {
    u32(static_cast<uint32_t>(text.size()));
    block += text;
  };
  u32(3);
  str("backends");
  str(backends);
  str("fallback_data_dependent_ops");
  str(fallback ? "1" : "0");
  str("require_full_compilation");
  str(full ? "1" : "0");
  return block;
}

TEST(EngineFileCompileOptions, ModelOptionsAreRecordedAndRoundTrip) {
  PluginRegistry registry;
  registry.load({.name = "testing"});
  registry.load({.name = "cpu"});
  const CompileOptions options{{"testing", "cpu"}, true, false};
  auto model = Model::build(testing::scale_relu_graph(), registry, options);
  EXPECT_EQ(model->compile_options(), options);
  ASSERT_FALSE(model->modules().empty());
  EXPECT_EQ(model->modules()[0]->compile_options(), options);

  std::ostringstream out;
  model->modules()[0]->save(out);
  EXPECT_NE(out.str().find(options_block("testing,cpu", true, false)), std::string::npos);
  std::istringstream in(out.str());
  const auto loaded = Module::load(in, "options.engine", registry);
  EXPECT_EQ(loaded->compile_options(), options);
}

TEST(EngineFileCompileOptions, FileFromBeforeTheOptionsLoadsWithDefaults) {
  PluginRegistry registry;
  registry.load({.name = "testing"});
  auto model = Model::build(testing::scale_relu_graph(), registry,
                            {.backends = {"testing"}, .require_full_compilation = true});
  std::ostringstream out;
  model->modules()[0]->save(out);
  std::string bytes = out.str();
  // Format 2 is format 3 without the options block.
  const std::string block = options_block("testing", false, true);
  const std::size_t at = bytes.find(block);
  ASSERT_NE(at, std::string::npos);
  bytes.erase(at, block.size());
  bytes[8] = 2;
  std::istringstream in(bytes);
  const auto loaded = Module::load(in, "v2.engine", registry);
  EXPECT_EQ(loaded->compile_options(), CompileOptions{});
  // It still runs.
  const Tensor x = Tensor::random(DType::f32, {16}, 3);
  const auto outputs = loaded->execute({x});
  ASSERT_EQ(outputs.size(), 1u);
  EXPECT_EQ(outputs[0].numel(), 16);
}

}  // namespace
}  // namespace rtscope
