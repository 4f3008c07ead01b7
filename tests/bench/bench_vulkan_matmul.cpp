// B9: Vulkan matmul at n^3 (default 4096) in f16 and f32 through one-node
// graphs on the vulkan plugin, as TFLOP/s, for comparison with torch.matmul
// on the same GPU (tests/bench/torch_decoder.py).
//
// A Module::execute also submits, waits for a fence and stages host
// tensors, which at 4096^2 can cost more than the product itself. The
// program therefore measures differentially: graph A is x -> matmul w0 ->
// slice (one row out), graph B is the same with `chain` more matmuls of
// resident weights before the slice. x lives in the plugin's device memory
// when it offers some (else both graphs stage the same input), so
// (median time of B - median time of A) / chain is the GPU time of one
// n^3 product with submit, fence wait and staging excluded. Weights are
// scaled so the chain neither grows nor shrinks the values.
//
// Correctness comes first: a graph with both operands as inputs runs once
// and a sampled subset of its output is checked against float64 dot
// products. A failed check exits with status 1 and no timings.
//
// Plain main printing JSON on stdout (status lines on stderr):
//   bench_vulkan_matmul [--size N] [--chain K] [--repeats R] [--dtype f16|f32]... [--quick]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"

namespace {

using namespace rtscope;
using bench::Clock;

struct Options {
  int64_t size = 4096;
  int chain = 16;
  int repeats = 15;
  int warmup = 3;
  int samples = 256;  // output elements checked against float64
  std::vector<DType> dtypes;
};

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "bench_vulkan_matmul: %s\n"
               "usage: bench_vulkan_matmul [--size N] [--chain K] [--repeats R] "
               "[--dtype f16|f32]... [--quick]\n",
               problem.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--size") {
      options.size = std::stoll(value());
    } else if (arg == "--chain") {
      options.chain = std::stoi(value());
    } else if (arg == "--repeats") {
      options.repeats = std::stoi(value());
    } else if (arg == "--dtype") {
      const std::string name = value();
      if (name != "f16" && name != "f32") usage("--dtype takes f16 or f32; got '" + name + "'");
      options.dtypes.push_back(name == "f16" ? DType::f16 : DType::f32);
    } else if (arg == "--quick") {
      options.size = 128;
      options.chain = 2;
      options.repeats = 5;
      options.warmup = 1;
      options.samples = 64;
    } else {
      usage("unknown argument '" + arg + "'");
    }
  }
  if (options.size < 1 || options.chain < 1 || options.repeats < 1) {
    usage("--size, --chain and --repeats must be >= 1");
  }
  if (options.dtypes.empty()) options.dtypes = {DType::f16, DType::f32};
  return options;
}

ValueType square(DType dtype, int64_t n) { return {dtype, {Dim::fixed(n), Dim::fixed(n)}}; }

// a, b (inputs) -> c = a @ b.
Graph product_graph(DType dtype, int64_t n) {
  Graph g;
  g.name = "matmul_check";
  g.inputs.push_back({"a", square(dtype, n), {}});
  g.inputs.push_back({"b", square(dtype, n), {}});
  g.nodes.push_back({"product", "matmul", {"a", "b"}, {"c"}, {}, {}});
  g.outputs = {"c"};
  validate(g);
  return g;
}

// x (input) -> `products` matmuls with resident weights -> first row.
Graph chain_graph(DType dtype, int64_t n, int products) {
  Graph g;
  g.name = "matmul_chain_" + std::to_string(products);
  g.inputs.push_back({"x", square(dtype, n), {}});
  // Uniform in [-s, s] has variance s^2/3; s = sqrt(3/n) keeps each product's
  // outputs at the input's scale.
  const double scale = std::sqrt(3.0 / static_cast<double>(n));
  std::string h = "x";
  for (int i = 0; i < products; ++i) {
    const std::string w = "w" + std::to_string(i);
    g.weights.push_back(
        {{w, square(dtype, n), {}}, {WeightInit::Kind::seeded, 100 + uint64_t(i), scale, 0.0, {}}});
    const std::string out = "h" + std::to_string(i);
    g.nodes.push_back({"product" + std::to_string(i), "matmul", {h, w}, {out}, {}, {}});
    h = out;
  }
  g.nodes.push_back({"first_row",
                     "slice",
                     {h},
                     {"y"},
                     {{"axis", int64_t{0}}, {"start", int64_t{0}}, {"end", int64_t{1}}},
                     {}});
  g.outputs = {"y"};
  validate(g);
  return g;
}

// Builds `graph` on vulkan alone and checks it became one vulkan module.
std::unique_ptr<Model> build_on_vulkan(const Graph& graph, PluginRegistry& registry) {
  auto model = Model::build(graph, registry, {.backends = {"vulkan"}});
  if (model->modules().size() != 1) {
    throw std::runtime_error("graph '" + graph.name + "' did not become one vulkan module");
  }
  for (const NodePlacement& placement : model->placements()) {
    if (placement.plugin != "vulkan") {
      throw std::runtime_error("node '" + placement.node + "' went to '" + placement.plugin +
                               "' instead of vulkan: " + placement.reason);
    }
  }
  return model;
}

struct CheckResult {
  int checked = 0;
  double max_error = 0;  // |ours - float64| / (|reference| + typical magnitude)
  double tolerance = 0;
  bool passed = false;
};

// Runs c = a @ b once on seeded random inputs and compares `samples`
// spread-out elements with float64 dot products of the same (rounded)
// inputs.
CheckResult check_product(DType dtype, int64_t n, int samples, PluginRegistry& registry) {
  auto model = build_on_vulkan(product_graph(dtype, n), registry);
  const Tensor a = Tensor::random(dtype, {n, n}, 11);
  const Tensor b = Tensor::random(dtype, {n, n}, 12);
  const std::vector<Tensor> out = model->modules()[0]->execute({a, b});
  const std::vector<double> av = a.to_doubles();
  const std::vector<double> bv = b.to_doubles();
  const std::vector<double> cv = out.at(0).to_doubles();
  // f16 output rounding is 2^-11 relative; f32 accumulation over n terms.
  CheckResult result;
  result.tolerance = dtype == DType::f16 ? 1e-2 : 1e-4;
  for (int s = 0; s < samples; ++s) {
    const int64_t i = (static_cast<int64_t>(s) * 7919) % n;
    const int64_t j = (static_cast<int64_t>(s) * 104729 + 13) % n;
    double reference = 0, squares = 0;
    for (int64_t k = 0; k < n; ++k) {
      const double term = av[i * n + k] * bv[k * n + j];
      reference += term;
      squares += term * term;
    }
    // Random signs make the sum's typical size sqrt(sum of squared terms).
    const double error =
        std::abs(cv[i * n + j] - reference) / (std::abs(reference) + std::sqrt(squares));
    result.max_error = std::max(result.max_error, error);
    ++result.checked;
  }
  result.passed = result.max_error <= result.tolerance && std::isfinite(result.max_error);
  return result;
}

// `x` in the module's device memory when its plugin offers some (the
// input is then bound in place, not staged), else `x` itself.
Tensor resident_copy(const Tensor& x, const Module& module) {
  if (!module.device_memory()) return x;
  Tensor copy = Tensor::empty_on(module.device_memory(), x.dtype(), x.shape());
  copy.copy_from(x);
  return copy;
}

double ms_of(Module& module, const Tensor& x) {
  const auto begin = Clock::now();
  module.execute({x});
  return std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
}

std::string json_spread(const bench::Spread& s) {
  char text[160];
  std::snprintf(text, sizeof text, "{\"median\": %.6g, \"min\": %.6g, \"max\": %.6g}", s.median,
                s.min, s.max);
  return text;
}

std::string measure(DType dtype, const Options& options, PluginRegistry& registry) {
  const int64_t n = options.size;
  const char* name = dtype == DType::f16 ? "f16" : "f32";
  std::fprintf(stderr, "B9 %s: checking %d sampled outputs of a %lld^3 product\n", name,
               options.samples, static_cast<long long>(n));
  const CheckResult check = check_product(dtype, n, options.samples, registry);
  std::fprintf(stderr, "B9 %s: max scaled error %.3g (tolerance %.0e): %s\n", name, check.max_error,
               check.tolerance, check.passed ? "ok" : "FAILED");
  char head[400];
  std::snprintf(head, sizeof head,
                "\"%s\": {\"check\": {\"samples\": %d, \"max_scaled_error\": %.6g, "
                "\"tolerance\": %.6g, \"passed\": %s}",
                name, check.checked, check.max_error, check.tolerance,
                check.passed ? "true" : "false");
  if (!check.passed) return std::string(head) + "}";

  auto one = build_on_vulkan(chain_graph(dtype, n, 1), registry);
  auto many = build_on_vulkan(chain_graph(dtype, n, 1 + options.chain), registry);
  Module& short_module = *one->modules()[0];
  Module& long_module = *many->modules()[0];
  const Tensor host_x = Tensor::random(dtype, {n, n}, 13);
  const Tensor short_x = resident_copy(host_x, short_module);
  const Tensor long_x = resident_copy(host_x, long_module);
  const bool resident = short_x.on_device() && long_x.on_device();
  for (int i = 0; i < options.warmup; ++i) {
    ms_of(short_module, short_x);
    ms_of(long_module, long_x);
  }
  // Interleaved, so drift (clocks, other load) affects both alike.
  std::vector<double> short_ms, long_ms, product_ms;
  for (int r = 0; r < options.repeats; ++r) {
    const double s = ms_of(short_module, short_x);
    const double l = ms_of(long_module, long_x);
    short_ms.push_back(s);
    long_ms.push_back(l);
    product_ms.push_back((l - s) / options.chain);
  }
  const bench::Spread shorter = bench::spread(short_ms);
  const bench::Spread longer = bench::spread(long_ms);
  const bench::Spread per_product = bench::spread(product_ms);
  const double flops =
      2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  // Difference of medians: the per-product estimate least hurt by outliers.
  const double product = (longer.median - shorter.median) / options.chain;
  auto tflops = [&](double ms) { return ms > 0 ? flops / (ms * 1e-3) / 1e12 : 0.0; };
  std::fprintf(stderr, "B9 %s: %.4f ms per product -> %.2f TFLOP/s\n", name, product,
               tflops(product));
  char tail[700];
  std::snprintf(
      tail, sizeof tail,
      ", \"input_on_device\": %s, \"execute_ms_1_product\": %s, \"execute_ms_%d_products\": %s, "
      "\"product_ms\": %.6g, \"product_ms_per_round\": %s, \"tflops\": %.6g, "
      "\"tflops_best_round\": %.6g, \"tflops_worst_round\": %.6g}",
      resident ? "true" : "false", json_spread(shorter).c_str(), 1 + options.chain,
      json_spread(longer).c_str(), product, json_spread(per_product).c_str(), tflops(product),
      tflops(per_product.min), tflops(per_product.max));
  return std::string(head) + tail;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse(argc, argv);
  try {
    PluginRegistry registry;
    PluginSpec spec;
    spec.name = "vulkan";
    std::shared_ptr<Plugin> plugin = registry.load(spec);
    std::string device;
    for (const auto& info : plugin->devices()) {
      device = info.name;
      break;
    }
    std::string json = "{\"benchmark\": \"B9\", \"method\": \"differential chain\", ";
    json += "\"device\": \"" + device + "\", \"size\": " + std::to_string(options.size) +
            ", \"chain\": " + std::to_string(options.chain) +
            ", \"repeats\": " + std::to_string(options.repeats);
    bool passed = true;
    for (DType dtype : options.dtypes) {
      const std::string part = measure(dtype, options, registry);
      passed = passed && part.find("\"passed\": true") != std::string::npos;
      json += ", " + part;
    }
    json += ", \"correct\": " + std::string(passed ? "true" : "false") + "}";
    std::printf("%s\n", json.c_str());
    return passed ? 0 : 1;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_vulkan_matmul: %s\n", error.what());
    return 2;
  }
}
