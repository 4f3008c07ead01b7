// The kv_cache_update graph the Vulkan residency and plugin tests start
// from.
#pragma once

#include <string>

#include "support/tiny_graphs.hpp"

namespace rtscope::vulkan_testing {

// cache f32[1, 2, 16, 8], new f32[1, 2, 3, 8] and pos i64[1] into
// kv_cache_update -> updated; the caller adds the rest and the outputs.
inline testing::GraphBuilder cache_update_graph(const std::string& name) {
  testing::GraphBuilder g(name);
  g.input("cache", DType::f32, {1, 2, 16, 8})
      .input("new", DType::f32, {1, 2, 3, 8})
      .input("pos", DType::i64, {1})
      .node("update", "kv_cache_update", {"cache", "new", "pos"}, "updated");
  return g;
}

}  // namespace rtscope::vulkan_testing
