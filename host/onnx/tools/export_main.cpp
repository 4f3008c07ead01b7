// rtscope-onnx-export: writes a built-in template or a graph file as ONNX,
// so the same model runs in rtscope (rtscope-run --onnx) and in ONNX Runtime.
//
//   rtscope-onnx-export --builtin mlp [--param d_in=256 ...] OUT.onnx
//   rtscope-onnx-export --graph configs/models/tiny_mlp.yaml OUT.onnx
//   rtscope-onnx-export --builtin decoder [--kv-cache concat|fixed] [--param seed=7 ...] OUT.onnx
//   rtscope-onnx-export --builtin resnet18 [--param image=224 --param seed=1] OUT.onnx
//
// The decoder carries past_key_values.N.key/value inputs and present.N.*
// outputs: appended by Concat (concat, the default) or a max_seq-row cache
// written at position_ids by ScatterElements (fixed).
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "rtscope/error.hpp"
#include "rtscope/graph_yaml.hpp"
#include "rtscope/onnx_export.hpp"
#include "rtscope/templates.hpp"

namespace {

// A non-negative integer parameter; anything else is an InputError naming it.
int64_t integer_param(const std::string& key, const std::string& value) {
  int64_t parsed = -1;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (error != std::errc() || end != value.data() + value.size() || parsed < 0) {
    throw rtscope::InputError("builtin:resnet18: " + key +
                              " must be a non-negative integer; got '" + value + "'");
  }
  return parsed;
}

}  // namespace

int main(int argc, char** argv) {
  std::string builtin;
  std::string graph_file;
  std::string out;
  std::string kv_cache = "concat";
  std::map<std::string, std::string> params;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--builtin" && has_value) {
      builtin = argv[++i];
    } else if (arg == "--graph" && has_value) {
      graph_file = argv[++i];
    } else if (arg == "--kv-cache" && has_value) {
      kv_cache = argv[++i];
      if (kv_cache != "concat" && kv_cache != "fixed") {
        std::fprintf(stderr, "rtscope-onnx-export: --kv-cache is concat or fixed, not '%s'\n",
                     kv_cache.c_str());
        return 2;
      }
    } else if (arg == "--param" && has_value) {
      const std::string kv = argv[++i];
      const auto eq = kv.find('=');
      if (eq == std::string::npos) {
        std::fprintf(stderr, "rtscope-onnx-export: --param '%s' is not KEY=VALUE\n", kv.c_str());
        return 2;
      }
      params[kv.substr(0, eq)] = kv.substr(eq + 1);
    } else if (!arg.starts_with("--") && out.empty()) {
      out = arg;
    } else {
      std::fprintf(stderr,
                   "usage: rtscope-onnx-export (--builtin NAME [--param K=V]... "
                   "[--kv-cache concat|fixed] | --graph FILE) OUT.onnx\n");
      return 2;
    }
  }
  if (out.empty() || builtin.empty() == graph_file.empty()) {
    std::fprintf(stderr, "rtscope-onnx-export: give one of --builtin or --graph, and OUT.onnx\n");
    return 2;
  }
  try {
    if (builtin == "resnet18") {
      rtscope::ResNetParams p;
      for (const auto& [key, value] : params) {
        if (key == "image") {
          p.image = integer_param(key, value);
        } else if (key == "classes") {
          p.classes = integer_param(key, value);
        } else if (key == "seed") {
          p.seed = static_cast<uint64_t>(integer_param(key, value));
        } else {
          throw rtscope::InputError("builtin:resnet18: unknown parameter '" + key +
                                    "'; valid: image, classes, seed");
        }
      }
      rtscope::export_resnet18_onnx(p, out);
      std::printf("wrote %s (resnet18, %lldx%lld input)\n", out.c_str(),
                  static_cast<long long>(p.image), static_cast<long long>(p.image));
      return 0;
    }
    if (builtin == "decoder") {
      const auto style =
          kv_cache == "fixed" ? rtscope::KvCacheStyle::fixed : rtscope::KvCacheStyle::concat;
      rtscope::export_decoder_onnx(rtscope::decoder_params(params), style, out);
      std::printf("wrote %s (decoder, %s KV cache)\n", out.c_str(), kv_cache.c_str());
      return 0;
    }
    const rtscope::Graph graph = builtin.empty() ? rtscope::load_graph_yaml(graph_file)
                                                 : rtscope::build_template(builtin, params);
    rtscope::export_onnx(graph, out);
    std::printf("wrote %s (%zu nodes, %zu weights)\n", out.c_str(), graph.nodes.size(),
                graph.weights.size());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rtscope-onnx-export: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
