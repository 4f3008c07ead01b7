// Loading the Vulkan plugin with f16 products asked for
// (RTSCOPE_VULKAN_F16_PRODUCTS=1), and whether its device takes them: the
// plugin's device log line says so ("f16 products: yes", or "no" and why),
// read at info level whatever RTSCOPE_LOG_LEVEL says.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "rtscope/log.hpp"
#include "rtscope/plugin_registry.hpp"
#include "support/env_guard.hpp"
#include "vulkan/vulkan_test_support.hpp"

namespace rtscope::vulkan_testing {

struct F16ProductsLoad {
  LoadResult load;
  std::string log;            // what the load logged
  bool f16_products = false;  // the device runs matvec_t_f16math
};

inline F16ProductsLoad load_vulkan_with_f16_products(PluginRegistry& registry) {
  const testing::EnvGuard on("RTSCOPE_VULKAN_F16_PRODUCTS", "1");
  spdlog::logger& logger = rtscope::log();
  const spdlog::level::level_enum level = logger.level();
  logger.set_level(spdlog::level::info);
  ::testing::internal::CaptureStderr();
  F16ProductsLoad result;
  result.load = load_vulkan(registry);
  logger.flush();
  result.log = ::testing::internal::GetCapturedStderr();
  logger.set_level(level);
  result.f16_products = result.log.find("f16 products: yes") != std::string::npos;
  return result;
}

// In a test body: loads as above into `registry`, skips or fails as
// RTSCOPE_LOAD_VULKAN_OR_SKIP does, and fails unless the device line
// answered; `answer` (a bool) gets the answer.
#define RTSCOPE_LOAD_VULKAN_WITH_F16_PRODUCTS(registry, answer)                          \
  do {                                                                                   \
    const ::rtscope::vulkan_testing::F16ProductsLoad f16_load_ =                         \
        ::rtscope::vulkan_testing::load_vulkan_with_f16_products(registry);              \
    RTSCOPE_CHECK_VULKAN_LOAD(f16_load_.load);                                           \
    ASSERT_NE(f16_load_.log.find("f16 products: "), std::string::npos) << f16_load_.log; \
    (answer) = f16_load_.f16_products;                                                   \
  } while (0)

}  // namespace rtscope::vulkan_testing
