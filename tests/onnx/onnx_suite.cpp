// rtscope-onnx-suite: runs ONNX's backend test cases (Debian's
// libonnx-testdata) through import_onnx and Model on a backend, compares
// every output with ONNX's tolerances (rtol 1e-3, atol 1e-7; exact for
// integers and bools), and checks each case's result against a committed
// expectation file, so that any change, better or worse, is seen.
//
//   rtscope-onnx-suite --data DIR --expect FILE [--backend cpu] [--update]
//                      [--filter SUBSTRING] [--verbose]
//
// Result of a case: "pass", "unsupported: <reason>" (the importer or the
// backend refuses the model, naming why) or "fail: <what differs>" (a
// numerical failure: a bug, never an expectation).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/onnx_import.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"

namespace fs = std::filesystem;
using namespace rtscope;

namespace {

const char* const kCategories[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};

// The reason without the model path (machine-specific), on one line.
std::string reason_of(const std::string& message, const fs::path& dir) {
  std::string text = message;
  // Paths under the case's folder are named relative to it.
  const std::string prefix = dir.string() + "/";
  for (auto at = text.find(prefix); at != std::string::npos; at = text.find(prefix)) {
    text.erase(at, prefix.size());
  }
  if (auto at = text.find("model.onnx: "); at != std::string::npos) text = text.substr(at + 12);
  if (auto at = text.find("model.onnx:"); at != std::string::npos) text = text.substr(at + 11);
  for (char& c : text) c = (c == '\n' || c == '\r') ? ' ' : c;
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  return text;
}

std::vector<fs::path> sorted_files(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.starts_with(prefix) && name.ends_with(".pb")) files.push_back(entry.path());
  }
  // input_10.pb after input_9.pb.
  std::sort(files.begin(), files.end(), [&](const fs::path& a, const fs::path& b) {
    const auto number = [&](const fs::path& p) {
      const std::string stem = p.stem().string();
      return std::stoi(stem.substr(prefix.size()));
    };
    return number(a) < number(b);
  });
  return files;
}

bool is_exact(DType d) { return d == DType::i32 || d == DType::i64 || d == DType::boolean; }

// Empty when close; else what differs.
std::string compare(const std::string& name, const Tensor& actual, const Tensor& expected) {
  if (actual.dtype() != expected.dtype()) {
    return "output '" + name + "' is " + std::string(to_string(actual.dtype())) + ", expected " +
           std::string(to_string(expected.dtype()));
  }
  if (actual.shape() != expected.shape()) {
    return "output '" + name + "' has shape " + shape_to_string(actual.shape()) + ", expected " +
           shape_to_string(expected.shape());
  }
  const std::vector<double> a = actual.to_doubles();
  const std::vector<double> e = expected.to_doubles();
  const bool exact = is_exact(expected.dtype());
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(e[i]) && std::isnan(a[i])) continue;
    if (a[i] == e[i]) continue;
    const double tolerance = exact ? 0.0 : 1e-7 + 1e-3 * std::fabs(e[i]);
    if (!(std::fabs(a[i] - e[i]) <= tolerance)) {
      std::ostringstream text;
      text.precision(9);
      text << "output '" << name << "' element " << i << " is " << a[i] << ", expected " << e[i];
      return text.str();
    }
  }
  return {};
}

std::string run_case(const fs::path& dir, PluginRegistry& registry, const std::string& backend,
                     std::mutex& build_lock) {
  std::vector<fs::path> sets;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_directory() && entry.path().filename().string().starts_with("test_data_set_")) {
      sets.push_back(entry.path());
    }
  }
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) return "unsupported: no test_data_set";
  try {
    const fs::path model = dir / "model.onnx";
    const std::vector<std::string> names = onnx_input_names(model);
    for (const fs::path& set : sets) {
      std::vector<Tensor> inputs;
      for (const fs::path& file : sorted_files(set, "input_"))
        inputs.push_back(load_onnx_tensor(file).tensor);
      std::vector<Tensor> expected;
      for (const fs::path& file : sorted_files(set, "output_"))
        expected.push_back(load_onnx_tensor(file).tensor);
      if (inputs.size() != names.size()) {
        return "unsupported: " + std::to_string(inputs.size()) + " input files for " +
               std::to_string(names.size()) + " graph inputs";
      }
      // Concrete shapes from the data; small integer inputs (shapes, axes,
      // indices) and scalars (Clip bounds, Range limits) are fixed at
      // import so the arithmetic on them folds.
      OnnxImportOptions options;
      std::map<std::string, Tensor> feeds;
      for (std::size_t i = 0; i < names.size(); ++i) {
        const Tensor& t = inputs[i];
        if ((t.dtype() == DType::i64 && t.numel() <= 1024) || t.shape().empty()) {
          options.values[names[i]] = t;
        } else {
          options.shapes[names[i]] = t.shape();
          feeds[names[i]] = t;
        }
      }
      // An input the importer needs at import time (Resize scales, Clip
      // bounds held in a vector) is fixed from the test data and the model
      // imported again.
      Graph graph;
      for (;;) {
        try {
          graph = import_onnx(model, options);
          break;
        } catch (const InputError& e) {
          const std::string text = e.what();
          const auto at = text.find("' must be known at import time");
          const auto begin = at == std::string::npos ? at : text.rfind('\'', at - 1);
          const std::string name =
              begin == std::string::npos ? "" : text.substr(begin + 1, at - begin - 1);
          if (name.empty() || !feeds.count(name)) throw;
          options.values[name] = feeds.at(name);
          options.shapes.erase(name);
          feeds.erase(name);
        }
      }
      std::unique_ptr<Model> built;
      {
        std::lock_guard lock(build_lock);
        built = Model::build(std::move(graph), registry, {.backends = {backend}});
      }
      // One run per model: the generic kernels compute every result, so
      // shape-specialized ones compiled in the background would only cost time.
      auto config = runtime_config(*built, {{"kernel_specialization", "none"}});
      const std::map<std::string, Tensor> outputs = built->run(feeds);
      const std::vector<std::string>& out_names = built->graph().outputs;
      if (out_names.size() != expected.size()) {
        return "unsupported: " + std::to_string(expected.size()) + " output files for " +
               std::to_string(out_names.size()) + " graph outputs";
      }
      for (std::size_t o = 0; o < out_names.size(); ++o) {
        const std::string problem =
            compare(out_names[o], outputs.at(out_names[o]).to_host(), expected[o]);
        if (!problem.empty()) return "fail: " + set.filename().string() + ": " + problem;
      }
    }
  } catch (const InputError& e) {
    return "unsupported: " + reason_of(e.what(), dir);
  } catch (const std::exception& e) {
    return "unsupported: " + reason_of(e.what(), dir);
  }
  return "pass";
}

}  // namespace

int main(int argc, char** argv) {
  fs::path data = "/usr/share/libonnx-testdata/data";
  fs::path expect;
  std::string backend = "cpu";
  std::string filter;
  bool update = false;
  bool verbose = false;
  unsigned jobs = std::max(1u, std::thread::hardware_concurrency());
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (arg == "--data")
      data = next();
    else if (arg == "--expect")
      expect = next();
    else if (arg == "--backend")
      backend = next();
    else if (arg == "--filter")
      filter = next();
    else if (arg == "--jobs")
      jobs = static_cast<unsigned>(std::max(1, std::stoi(next())));
    else if (arg == "--update")
      update = true;
    else if (arg == "--verbose")
      verbose = true;
    else {
      std::cerr << "usage: rtscope-onnx-suite [--data DIR] [--expect FILE] [--backend cpu] "
                   "[--filter TEXT] [--jobs N] [--update] [--verbose]\n";
      return 2;
    }
  }
  if (!fs::is_directory(data / "node")) {
    std::cerr
        << "rtscope-onnx-suite: " << data.string()
        << " holds no ONNX backend test data (install libonnx-testdata: scripts/install-deps.sh)\n";
    return 2;
  }
  std::vector<std::string> cases;
  for (const char* category : kCategories) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(data / category)) {
      if (fs::exists(entry.path() / "model.onnx"))
        names.push_back(std::string(category) + "/" + entry.path().filename().string());
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
      if (filter.empty() || n.find(filter) != std::string::npos) cases.push_back(n);
    }
  }
  PluginRegistry registry;
  registry.load({.name = backend});
  std::vector<std::string> results(cases.size());
  std::atomic<std::size_t> next_case{0};
  std::mutex build_lock;
  auto worker = [&] {
    for (std::size_t i = next_case++; i < cases.size(); i = next_case++) {
      results[i] = run_case(data / cases[i], registry, backend, build_lock);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < jobs; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();

  std::map<std::string, std::pair<int, int>> counts;  // category -> (pass, total)
  int failures = 0;
  std::ostringstream file_text;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string category = cases[i].substr(0, cases[i].find('/'));
    auto& [pass, total] = counts[category];
    ++total;
    if (results[i] == "pass") ++pass;
    if (results[i].starts_with("fail")) ++failures;
    file_text << cases[i] << " " << results[i] << "\n";
    if (verbose) std::cout << cases[i] << " " << results[i] << "\n";
  }
  for (const auto& [category, count] : counts) {
    std::cout << category << ": " << count.first << " / " << count.second << " pass\n";
  }
  std::cout << "numerical failures: " << failures << "\n";
  if (expect.empty()) return failures == 0 ? 0 : 1;
  if (update) {
    std::ofstream out(expect);
    out << file_text.str();
    std::cout << "wrote " << expect.string() << "\n";
    return failures == 0 ? 0 : 1;
  }
  std::ifstream in(expect);
  if (!in) {
    std::cerr << "rtscope-onnx-suite: cannot read " << expect.string() << "\n";
    return 2;
  }
  std::map<std::string, std::string> expected;
  for (std::string line; std::getline(in, line);) {
    const auto space = line.find(' ');
    if (space != std::string::npos) expected[line.substr(0, space)] = line.substr(space + 1);
  }
  int differences = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    auto it = expected.find(cases[i]);
    const std::string want = it == expected.end() ? "(not listed)" : it->second;
    if (want != results[i]) {
      ++differences;
      std::cout << "DIFFERS " << cases[i] << "\n  expected: " << want
                << "\n  got:      " << results[i] << "\n";
    }
  }
  if (filter.empty()) {
    for (const auto& [name, want] : expected) {
      if (std::find(cases.begin(), cases.end(), name) == cases.end()) {
        ++differences;
        std::cout << "MISSING " << name << " (listed in " << expect.string()
                  << ", not in the data)\n";
      }
    }
  }
  std::cout << differences << " results differ from " << expect.string() << "\n";
  return differences == 0 && failures == 0 ? 0 : 1;
}
