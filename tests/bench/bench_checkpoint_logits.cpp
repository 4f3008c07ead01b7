// Logits of a Hugging Face Llama checkpoint as rtscope computes them, for
// comparing with another implementation (scripts/llama-transformers-check.py
// compares with transformers on the GPU machine):
//
//   bench_checkpoint_logits DIR BACKENDS TOKENS STEPS [DTYPE]
//
// loads DIR with load_llama_checkpoint (DTYPE f16 or f32; default from
// config.json), builds it on BACKENDS (comma-separated plugin ids in
// priority order, e.g. vulkan,cpu), runs the prompt TOKENS (comma-separated
// ids) in one step, then STEPS greedy decode steps, and prints JSON:
//   {"tokens": [prompt ids..., generated ids...],
//    "logits": [[vocab floats] for every position],
//    "phases_ms": {"load", "build", "first_token"}}
// Not a Google Benchmark program: it has its own main.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "rtscope/llama_checkpoint.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace rtscope;
  if (argc < 5 || argc > 6) {
    std::fprintf(stderr, "usage: %s DIR BACKENDS TOKENS STEPS [f16|f32]\n", argv[0]);
    return 2;
  }
  try {
    const auto start = Clock::now();
    LlamaLoadOptions options;
    if (argc == 6) options = llama_load_options({{"dtype", argv[5]}});
    std::vector<int64_t> prompt;
    for (const std::string& id : split(argv[3])) prompt.push_back(std::stoll(id));
    const int steps = std::stoi(argv[4]);
    options.max_seq = static_cast<int64_t>(prompt.size()) + steps + 1;
    Graph graph = load_llama_checkpoint(argv[1], options);
    const double load_ms = ms_since(start);

    auto build_start = Clock::now();
    PluginRegistry registry;
    CompileOptions compile;
    for (const std::string& id : split(argv[2])) {
      registry.load({.name = id});
      compile.backends.push_back(id);
    }
    auto model = Model::build(std::move(graph), registry, compile);
    const double build_ms = ms_since(build_start);

    nlohmann::json out;
    out["tokens"] = prompt;
    out["logits"] = nlohmann::json::array();
    Tensor tokens = Tensor::empty(DType::i64, {1, static_cast<int64_t>(prompt.size())});
    std::copy(prompt.begin(), prompt.end(), tokens.data_as<int64_t>());
    int64_t pos = 0;
    double first_token_ms = 0;
    for (int step = 0; step <= steps; ++step) {
      Tensor position = Tensor::empty(DType::i64, {1});
      position.data_as<int64_t>()[0] = pos;
      const auto run_start = Clock::now();
      const auto result = model->run({{"tokens", tokens}, {"pos", position}});
      if (step == 0) first_token_ms = ms_since(run_start);
      const std::vector<double> logits = result.at("logits").to_doubles();
      const int64_t seq = tokens.shape()[1];
      const auto vocab = logits.size() / static_cast<std::size_t>(seq);
      for (int64_t s = 0; s < seq; ++s) {
        out["logits"].push_back(
            std::vector<float>(logits.begin() + s * vocab, logits.begin() + (s + 1) * vocab));
      }
      const std::vector<double> next = result.at("next_token").to_doubles();
      pos += seq;
      if (step == steps) break;
      tokens = Tensor::empty(DType::i64, {1, 1});
      tokens.data_as<int64_t>()[0] = static_cast<int64_t>(next.back());
      out["tokens"].push_back(tokens.data_as<int64_t>()[0]);
    }
    out["phases_ms"] = {{"load", load_ms}, {"build", build_ms}, {"first_token", first_token_ms}};
    std::cout << out.dump() << "\n";
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_checkpoint_logits: %s\n", e.what());
    return 1;
  }
  return 0;
}
