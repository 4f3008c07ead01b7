// A broken checkpoint folder is one InputError line naming the file and the
// tensor (or config key) and what is wrong, never a crash: missing, extra,
// misshapen or non-float tensors, truncated and missing shards, shard names
// that leave the folder, and configs of other architectures or features.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "rtscope/error.hpp"
#include "rtscope/llama_checkpoint.hpp"
#include "support/temp_dir.hpp"
#include "support/tiny_llama.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::NamedTensor;
using testing::TempDir;
using testing::TinyLlama;

class CheckpointErrorTest : public ::testing::Test {
 protected:
  // The error message of loading the folder; fails the test if it loads.
  std::string load_error() {
    try {
      load_llama_checkpoint(dir_.path());
    } catch (const InputError& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.find('\n'), std::string::npos) << "one line: " << message;
      return message;
    }
    ADD_FAILURE() << "the checkpoint loaded";
    return "";
  }

  // config.json of `config` and one model.safetensors of `tensors`.
  void write(const TinyLlama& config, const std::vector<NamedTensor>& tensors,
             const std::map<std::string, std::string>& dtypes = {}) {
    testing::write_json(dir_ / "config.json", testing::tiny_llama_config(config));
    std::vector<const NamedTensor*> all;
    for (const auto& t : tensors) all.push_back(&t);
    testing::write_safetensors(dir_ / "model.safetensors", all, config.dtype, dtypes);
  }

  std::string file(const std::string& name) const { return (dir_ / name).string(); }

  TinyLlama config_;
  TempDir dir_;
};

TEST_F(CheckpointErrorTest, MissingTensorIsNamed) {
  auto tensors = testing::tiny_llama_tensors(config_);
  std::erase_if(tensors,
                [](const NamedTensor& t) { return t.name == "model.layers.1.mlp.up_proj.weight"; });
  write(config_, tensors);
  EXPECT_THAT(load_error(), AllOf(HasSubstr(dir_.path().string()),
                                  HasSubstr("'model.layers.1.mlp.up_proj.weight' is missing")));
}

TEST_F(CheckpointErrorTest, ExtraTensorIsNamed) {
  auto tensors = testing::tiny_llama_tensors(config_);
  tensors.push_back({"model.layers.2.mlp.up_proj.weight", {2}, {0.5, 0.25}});
  write(config_, tensors);
  EXPECT_THAT(load_error(), AllOf(HasSubstr(file("model.safetensors")),
                                  HasSubstr("'model.layers.2.mlp.up_proj.weight' is not part")));
}

TEST_F(CheckpointErrorTest, RopeFrequenciesAndTiedHeadCopiesAreIgnored) {
  config_.tied = true;
  auto tensors = testing::tiny_llama_tensors(config_);
  tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", {2}, {1.0, 0.5}});
  tensors.push_back({"lm_head.weight",
                     {config_.vocab, config_.hidden},
                     std::vector<double>(config_.vocab * config_.hidden, 0.0)});
  write(config_, tensors);
  EXPECT_NO_THROW(load_llama_checkpoint(dir_.path()));
}

TEST_F(CheckpointErrorTest, ShapeThatDisagreesWithConfigIsNamed) {
  auto tensors = testing::tiny_llama_tensors(config_);
  for (auto& t : tensors) {
    if (t.name == "model.layers.0.self_attn.k_proj.weight") {
      t.shape = {config_.hidden, config_.hidden};  // as if there were no GQA
      t.values.resize(config_.hidden * config_.hidden, 0.0);
    }
  }
  write(config_, tensors);
  EXPECT_THAT(load_error(),
              AllOf(HasSubstr(file("model.safetensors")),
                    HasSubstr("'model.layers.0.self_attn.k_proj.weight' has shape [32,32], "
                              "config.json implies [16,32]")));
}

TEST_F(CheckpointErrorTest, NonFloatDtypeIsNamed) {
  write(config_, testing::tiny_llama_tensors(config_), {{"model.norm.weight", "I32"}});
  EXPECT_THAT(load_error(), AllOf(HasSubstr(file("model.safetensors")),
                                  HasSubstr("'model.norm.weight' has dtype I32")));
}

TEST_F(CheckpointErrorTest, Bf16BeyondF16RangeIsNamedAndLoadsAsF32) {
  config_.dtype = "BF16";
  auto tensors = testing::tiny_llama_tensors(config_);
  for (auto& t : tensors) {
    if (t.name == "model.norm.weight") t.values[3] = testing::stored_value("BF16", 1e6);
  }
  write(config_, tensors);
  EXPECT_THAT(load_error(),
              AllOf(HasSubstr(file("model.safetensors")), HasSubstr("'model.norm.weight'"),
                    HasSubstr("element 3"), HasSubstr("beyond f16's range")));
  EXPECT_NO_THROW(load_llama_checkpoint(dir_.path(), {.dtype = DType::f32}));
}

TEST_F(CheckpointErrorTest, TruncatedFileIsNamed) {
  testing::write_tiny_llama(dir_.path(), config_);
  const auto path = dir_ / "model.safetensors";
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 10);
  EXPECT_THAT(load_error(),
              AllOf(HasSubstr(path.string()), HasSubstr("lm_head.weight"), HasSubstr("truncated")));
}

TEST_F(CheckpointErrorTest, MissingShardIsNamed) {
  config_.shards = 2;
  testing::write_tiny_llama(dir_.path(), config_);
  std::filesystem::remove(dir_ / "model-00002-of-00002.safetensors");
  EXPECT_THAT(load_error(),
              AllOf(HasSubstr(file("model-00002-of-00002.safetensors")), HasSubstr("not found")));
}

TEST_F(CheckpointErrorTest, IndexEntryWhoseShardLacksTheTensorIsNamed) {
  config_.shards = 2;
  testing::write_tiny_llama(dir_.path(), config_);
  nlohmann::json index = {
      {"weight_map", {{"model.embed_tokens.weight", "model-00002-of-00002.safetensors"}}}};
  testing::write_json(dir_ / "model.safetensors.index.json", index);
  EXPECT_THAT(load_error(), AllOf(HasSubstr(file("model-00002-of-00002.safetensors")),
                                  HasSubstr("'model.embed_tokens.weight' is not in")));
}

TEST_F(CheckpointErrorTest, ShardOutsideTheFolderIsRefused) {
  testing::write_tiny_llama(dir_.path(), config_);
  testing::write_json(dir_ / "model.safetensors.index.json",
                      {{"weight_map", {{"model.norm.weight", "../model.safetensors"}}}});
  EXPECT_THAT(load_error(),
              AllOf(HasSubstr("model.safetensors.index.json"),
                    HasSubstr("'model.norm.weight' maps to \"../model.safetensors\"")));
}

TEST_F(CheckpointErrorTest, OtherArchitectureIsNamed) {
  testing::write_tiny_llama(dir_.path(), config_);
  auto json = testing::tiny_llama_config(config_);
  json["architectures"] = {"MistralForCausalLM"};
  testing::write_json(dir_ / "config.json", json);
  EXPECT_THAT(load_error(), AllOf(HasSubstr(file("config.json")), HasSubstr("MistralForCausalLM"),
                                  HasSubstr("LlamaForCausalLM")));
}

TEST_F(CheckpointErrorTest, UnsupportedConfigFeaturesAreNamed) {
  testing::write_tiny_llama(dir_.path(), config_);
  const auto base = testing::tiny_llama_config(config_);
  const std::vector<std::pair<std::string, nlohmann::json>> cases = {
      {"rope_scaling", {{"rope_type", "llama3"}, {"factor", 8.0}}},
      {"attention_bias", true},
      {"hidden_act", "gelu"},
      {"head_dim", 16},
      {"num_key_value_heads", 3},
      {"hidden_size", "32"},
      {"rope_theta", -1.0}};
  for (const auto& [key, value] : cases) {
    auto json = base;
    json[key] = value;
    testing::write_json(dir_ / "config.json", json);
    EXPECT_THAT(load_error(), AllOf(HasSubstr(file("config.json")), HasSubstr(key)))
        << key << " = " << value.dump();
  }
  auto huge = base;
  huge["num_hidden_layers"] = 1'000'000'000;
  huge["vocab_size"] = 1'000'000'000;
  testing::write_json(dir_ / "config.json", huge);
  EXPECT_THAT(load_error(), HasSubstr(file("config.json")));
  auto json = base;
  json.erase("vocab_size");
  testing::write_json(dir_ / "config.json", json);
  EXPECT_THAT(load_error(), HasSubstr("'vocab_size' is missing"));
}

TEST_F(CheckpointErrorTest, NewerConfigSpellingsAreRead) {
  testing::write_tiny_llama(dir_.path(), config_);
  auto json = testing::tiny_llama_config(config_);
  json.erase("rope_theta");
  json.erase("rope_scaling");
  json.erase("torch_dtype");
  json["dtype"] = "float16";
  json["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 123.0}};
  testing::write_json(dir_ / "config.json", json);
  const LlamaConfig config = read_llama_config(dir_.path());
  EXPECT_EQ(config.rope_theta, 123.0);
  EXPECT_EQ(config.torch_dtype, "float16");
  json["rope_parameters"] = {{"rope_type", "llama3"}, {"rope_theta", 123.0}, {"factor", 8.0}};
  testing::write_json(dir_ / "config.json", json);
  EXPECT_THAT(load_error(), AllOf(HasSubstr(file("config.json")), HasSubstr("'rope_parameters'"),
                                  HasSubstr("llama3")));
}

TEST_F(CheckpointErrorTest, FolderWithoutSafetensorsSaysWhatToDo) {
  testing::write_json(dir_ / "config.json", testing::tiny_llama_config(config_));
  EXPECT_THAT(load_error(), AllOf(HasSubstr("no model.safetensors"), HasSubstr("save_pretrained")));
  std::filesystem::remove(dir_ / "config.json");
  EXPECT_THAT(load_error(), AllOf(HasSubstr(file("config.json")), HasSubstr("not found")));
}

}  // namespace
}  // namespace rtscope
