// Quick mode of rtscope-run (see onnx_quick.hpp).
#include "onnx_quick.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>

#include "rtscope/error.hpp"
#include "rtscope/onnx_import.hpp"

namespace rtscope::runner {
namespace {

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(separator, begin), text.size());
    parts.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
  return parts;
}

}  // namespace

std::map<std::string, std::vector<int64_t>> parse_shapes(const std::string& text) {
  std::map<std::string, std::vector<int64_t>> shapes;
  if (text.empty()) return shapes;
  for (const std::string& entry : split(text, ',')) {
    const std::size_t colon = entry.rfind(':');
    const auto bad = [&] {
      return InputError("--shapes: '" + entry + "' is not NAME:DIMS (e.g. input_ids:1x16)");
    };
    if (colon == std::string::npos || colon == 0 || colon + 1 == entry.size()) throw bad();
    std::vector<int64_t> dims;
    for (const std::string& dim : split(entry.substr(colon + 1), 'x')) {
      int64_t value = -1;
      const auto [end, error] = std::from_chars(dim.data(), dim.data() + dim.size(), value);
      if (error != std::errc() || end != dim.data() + dim.size() || value < 0) throw bad();
      dims.push_back(value);
    }
    shapes[entry.substr(0, colon)] = dims;
  }
  return shapes;
}

std::vector<std::string> parse_backends(const std::string& text) {
  std::vector<std::string> backends;
  for (const std::string& id : split(text.empty() ? "cpu" : text, ',')) {
    if (id.empty()) throw InputError("--backends: '" + text + "' has an empty plugin id");
    backends.push_back(id);
  }
  return backends;
}

namespace {

YAML::Node model_entry(const std::filesystem::path& model,
                       const std::map<std::string, std::vector<int64_t>>& shapes,
                       const std::vector<std::string>& backends, bool fuse) {
  YAML::Node entry;
  entry["onnx"] = model.string();
  if (!fuse) entry["fuse"] = false;
  for (const auto& [input, dims] : shapes) {
    YAML::Node list(YAML::NodeType::Sequence);
    for (int64_t d : dims) list.push_back(d);
    entry["shapes"][input] = list;
  }
  entry["backends"] = backends;
  return entry;
}

}  // namespace

std::string onnx_quick_yaml(const std::filesystem::path& model,
                            const std::map<std::string, std::vector<int64_t>>& shapes,
                            const std::vector<std::string>& backends, int64_t batch, bool decoder,
                            bool fuse) {
  YAML::Node root;
  const std::string name = model.stem().string().empty() ? "model" : model.stem().string();
  YAML::Node run;
  run["model"] = name;
  if (decoder) {
    // Static plans for both step sizes: the decode step (one token) and
    // the prompt, which continue in the same in-place caches.
    auto step = shapes;
    step[kStreamTokens] = {batch, 1};
    auto prompt = shapes;
    prompt[kStreamTokens] = {batch, kStreamPrompt};
    root["models"][name] = model_entry(model, step, backends, fuse);
    root["models"][name + "_prefill"] = model_entry(model, prompt, backends, fuse);
    run["workload"]["kind"] = "stream";
    run["workload"]["prompt"] = kStreamPrompt;
    run["workload"]["tokens"] = 64;
    run["workload"]["prefill"] = name + "_prefill";
  } else {
    root["models"][name] = model_entry(model, shapes, backends, fuse);
    run["workload"]["kind"] = "batch";
    run["workload"]["batch"] = batch;
  }
  root["run"].push_back(run);
  YAML::Emitter out;
  out << root;
  return out.c_str();
}

RunConfig onnx_quick_config(const std::filesystem::path& model, const std::string& shapes_text,
                            const std::string& backends_text,
                            const std::vector<ConfigOverride>& overrides, bool fuse) {
  const auto shapes = parse_shapes(shapes_text);
  const auto backends = parse_backends(backends_text);
  const std::filesystem::path file = std::filesystem::absolute(model);
  int64_t batch = 1;
  bool decoder = false;
  {
    // A decoder export (input_ids and past_key_values.N.* inputs) is probed
    // with a one-token step, since its seq dim stays symbolic otherwise.
    const std::vector<std::string> inputs = onnx_input_names(file);
    const bool has = std::find(inputs.begin(), inputs.end(), kStreamTokens) != inputs.end();
    const bool has_past = std::any_of(inputs.begin(), inputs.end(), [](const std::string& in) {
      return in.starts_with("past_key_values.");
    });
    OnnxImportOptions options;
    options.shapes = shapes;
    options.fuse = fuse;
    if (has && has_past && !shapes.count(kStreamTokens)) options.shapes[kStreamTokens] = {1, 1};
    const Graph graph = import_onnx(file, options);
    if (!graph.inputs.empty() && !graph.inputs[0].type.shape.empty() &&
        graph.inputs[0].type.shape[0].is_static() && graph.inputs[0].type.shape[0].value > 0) {
      batch = graph.inputs[0].type.shape[0].value;
    }
    // A decoder whose KV pairs became in-place state streams tokens.
    // Given input_ids' shape, it runs one step of that size (a prompt) as
    // a batch run.
    decoder = has && !graph.states.empty() && !shapes.count(kStreamTokens);
  }
  return parse_run_config(onnx_quick_yaml(file, shapes, backends, batch, decoder, fuse),
                          "rtscope-run --onnx", overrides);
}

}  // namespace rtscope::runner
